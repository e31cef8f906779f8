"""What a command line names and where it lives: resource words, object targets, the masters, API paths.

``pods``, ``/pods/``, ``rc`` or ``Pod`` name a resource; ``pods/redis`` or ``pods redis`` an object. The
masters are ``-h``, else ``$KUBERNETES_MASTER``, else the nearest cluster.toml, else localhost:8080.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import requests

from raftkube.client import Credentials, HttpClient
from raftkube.config import ConfigError, load
from raftkube.pki import Pki
from raftkube.apis import v1beta1
from raftkube.apis.v1beta1 import RESOURCES, Resource

DEFAULT_SERVER = "http://localhost:8080"
KUBELET_PORT = 10250
#: how long one CLI request keeps trying the other masters (503s, connection errors) before giving up
REQUEST_RETRY_S = 3.0

RC = RESOURCES["replicationControllers"]
PODS = RESOURCES["pods"]

_ALIASES = {"rc": "replicationControllers", "rcs": "replicationControllers", "svc": "services",
            "nodes": "minions", "node": "minions", "ev": "events"}


# ---- resources and objects -------------------------------------------------------------------------

def resource_names() -> list[str]:
    return list(RESOURCES)


def lookup_resource(word: str) -> Resource:
    """``pods``, ``/pods/``, ``pod``, ``Pod``, ``replicationcontrollers``, ``rc`` -> the Resource."""
    key = word.strip("/")
    if key in RESOURCES:
        return RESOURCES[key]
    low = key.lower()
    if low in _ALIASES:
        return RESOURCES[_ALIASES[low]]
    for res in RESOURCES.values():
        if low in (res.plural.lower(), res.singular.lower(), res.wire_kind.lower(), res.kind.lower()):
            return res
    known = ", ".join(RESOURCES)
    raise click.ClickException(f'unknown resource "{word}" (known: {known})')


def parse_target(resource: str, name: str | None, *, need_name: bool, command: str) -> tuple[Resource, str | None]:
    """``pods/redis`` or ``pods redis`` -> (Resource pods, "redis")."""
    res_word, slash, inline = resource.strip("/").partition("/")
    if slash and name:
        raise click.UsageError(f"give the object as {res_word}/{inline} or as '{res_word} {inline}', not both")
    res = lookup_resource(res_word)
    obj_name = inline or name or None
    if need_name and not obj_name:
        raise click.UsageError(f"{command} needs an object: {command} {res.plural}/<id>")
    return res, obj_name


def rc_name(word: str) -> str:
    """``redisController`` or ``replicationControllers/redisController``."""
    res_word, slash, name = word.strip("/").partition("/")
    if slash:
        if lookup_resource(res_word) is not RC:
            raise click.UsageError(f"{word!r} is not a replication controller")
        return name
    return word


def complete_resource(ctx, param, incomplete: str):
    """Shell completion of a RESOURCE argument: the resource names, with the leading ``/`` if typed."""
    from click.shell_completion import CompletionItem
    prefix = "/" if incomplete.startswith("/") else ""
    word = incomplete.lstrip("/")
    return [CompletionItem(prefix + r) for r in resource_names() if r.startswith(word)]


# ---- the masters ----------------------------------------------------------------------------------

def server_urls(server: str | None) -> tuple[list[str], dict[str, str]]:
    """Where the masters are: ``-h``, else ``$KUBERNETES_MASTER``, else the nearest cluster.toml (this folder or
    a parent, as git finds its repository), else localhost:8080.

    Returns the URLs and, when cluster.toml named them, ``{url: master name}``.
    """
    names: dict[str, str] = {}
    raw = server or os.environ.get("KUBERNETES_MASTER")
    if raw:
        urls = [u.strip() for u in raw.split(",") if u.strip()]
    elif (found := _nearest_config()) is not None:
        try:
            config = load(found)
        except ConfigError as exc:
            raise click.ClickException(f"{exc} (or choose the masters with -h URL[,URL...])") from None
        urls = config.api_urls
        names = {m.api_url: m.name for m in config.masters}
    else:
        urls = [DEFAULT_SERVER]
    if not urls:
        raise click.UsageError("no master URL given (-h URL[,URL...])")
    return [(u if "://" in u else "http://" + u).rstrip("/") for u in urls], names


def _nearest_config() -> Path | None:
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "cluster.toml").is_file():
            return folder / "cluster.toml"
    return None


def _given() -> dict:
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get("raftkube.credentials", {})) if ctx is not None else {}


def _nearest_pki() -> Pki | None:
    if (found := _nearest_config()) is None:
        return None
    try:
        return Pki(load(found).pki_dir)
    except ConfigError:
        return None


def credentials(urls: list[str]) -> Credentials:
    """What the command line (or its environment variables) gave for https masters; for https URLs, what is
    missing comes from the nearest cluster.toml's <data_dir>/pki: its CA, and the admin's token if readable."""
    given = _given()
    if any(u.startswith("https://") for u in urls) and (pki := _nearest_pki()) is not None:
        if "ca_file" not in given and pki.ca_cert.exists():
            given["ca_file"] = str(pki.ca_cert)
        if not {"token", "cert_file"} & given.keys() and os.access(pki.tokens, os.R_OK):
            if (token := pki.token_of("admin")) is not None:
                given["token"] = token
    return Credentials(**given)


def kubelet_credentials() -> Credentials:
    """For a kubelet's https port, which takes client certificates only: the CA and the client certificate the
    command line gave, else those of the nearest cluster.toml's pki (the admin's certificate, if readable)."""
    given = {k: v for k, v in _given().items() if k != "token"}
    pki = _nearest_pki()
    if pki is not None:
        if "ca_file" not in given and pki.ca_cert.exists():
            given["ca_file"] = str(pki.ca_cert)
        cert, key = pki.admin
        if "cert_file" not in given and os.access(cert, os.R_OK) and os.access(key, os.R_OK):
            given["cert_file"], given["key_file"] = str(cert), str(key)
    return Credentials(**given)


def make_client(server: str | None) -> HttpClient:
    urls, _ = server_urls(server)
    return HttpClient(urls, timeout_s=10.0, retry_for_s=REQUEST_RETRY_S, credentials=credentials(urls))


# ---- API paths ------------------------------------------------------------------------------------

def api_path(res: Resource, name: str | None = None) -> str:
    path = f"{v1beta1.API_PREFIX}/{res.plural}"
    if name is not None:
        path += "/" + requests.utils.quote(name, safe="")
    return path


def get_object(client: HttpClient, res: Resource, name: str) -> dict:
    return client.request("GET", api_path(res, name)).json()


def put_object(client: HttpClient, res: Resource, name: str, body: dict) -> dict:
    return client.request("PUT", api_path(res, name), body=body).json()
