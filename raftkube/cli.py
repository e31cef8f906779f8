"""The command line: `raftkube master`, and (as `kubecfg` too) the client commands. The only user of click.

The client commands are the 2014 ``kubecfg`` (``cmd/kubecfg/kubecfg.go``): Go-style flags such as
``-c redis.json``, ``-json`` or ``-h URL`` may come before the command, as in the article
(``kubecfg -c redis.json create /pods``), or after it (``raftkube list pods -l name=redis``).
``normalize_argv`` rewrites the first form into the second before click parses anything.
Printing lives in ``raftkube/printers.py``; this module does requests, arguments and errors.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import requests
import yaml

from raftkube import __version__, printers
from raftkube.apis import v1beta1
from raftkube.apis.v1beta1 import RESOURCES, Resource, validation
from raftkube.client import HttpClient
from raftkube.config import ConfigError, load
from raftkube.model.errors import ApiError, Conflict, Invalid, NotFound
from raftkube.model.objects import DEFAULT_NAMESPACE
from raftkube.model.selectors import format_labels

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

DEFAULT_SERVER = "http://localhost:8080"
KUBELET_PORT = 10250
#: how long one CLI request keeps trying the other masters (503s, connection errors) before giving up
REQUEST_RETRY_S = 3.0


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, stream=sys.stderr)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):
        logging.getLogger("raftkube").info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


# ---- argv: Go-style flags -------------------------------------------------------------------------

#: kubecfg flags that take a value (single-letter ones keep one dash; long ones get two)
VALUE_FLAGS = frozenset({"c", "h", "l", "p", "s", "u", "image", "fields", "timeout", "server", "file",
                         "tail"})
#: kubecfg flags that are booleans: ``-json``, ``-json=true``, ``-json=false``
BOOL_FLAGS = frozenset({"json", "yaml", "wait", "follow"})
#: the commands whose flags follow kubecfg's rules (``master`` and others keep plain click parsing)
CLIENT_COMMANDS = ("create", "list", "get", "update", "delete", "resize", "stop", "rm", "run",
                   "rollingupdate", "events", "status", "logs")
_FALSE = ("false", "0", "f", "no")


def _normalize_flag(tok: str) -> list[str]:
    """One Go-style flag token -> click tokens: ``-json`` -> ``--json``, ``-c=f`` -> ``-c f``."""
    if tok.startswith("--"):
        name, eq, value = tok[2:].partition("=")
        dashes = "--"
    elif tok.startswith("-") and len(tok) > 1:
        name, eq, value = tok[1:].partition("=")
        dashes = "-" if len(name) == 1 else "--"
    else:
        return [tok]
    if name in BOOL_FLAGS:
        if eq and value.lower() in _FALSE:
            return []
        return ["--" + name]
    if name in VALUE_FLAGS:
        return [dashes + name, value] if eq else [dashes + name]
    return [tok]


def normalize_argv(args: list[str]) -> list[str]:
    """Accept kubecfg's command lines: Go-style flags, before or after the command.

    ``-c redis.json create /pods`` -> ``create -c redis.json /pods``; ``-json`` -> ``--json``;
    ``-json=false`` is dropped; ``-c=x`` -> ``-c x``. Only the client commands are rewritten; anything
    after ``--`` is left alone. ``--help`` and ``--version`` before a command stay where they are.
    """
    before: list[str] = []
    i = 0
    command_at = None
    while i < len(args):
        tok = args[i]
        if tok == "--" or not tok.startswith("-") or tok == "-":
            command_at = i if tok != "--" else None
            break
        converted = _normalize_flag(tok)
        before.extend(converted)
        name = tok.lstrip("-")
        if "=" not in name and name in VALUE_FLAGS and i + 1 < len(args):
            before.append(args[i + 1])
            i += 1
        i += 1
    if command_at is None or args[command_at] not in CLIENT_COMMANDS:
        return list(args)
    command = args[command_at]
    keep_before = [t for t in before if t in ("--help", "--version")]
    moved = [t for t in before if t not in ("--help", "--version")]
    after: list[str] = []
    rest = args[command_at + 1:]
    for j, tok in enumerate(rest):
        if tok == "--":
            after.extend(rest[j:])
            break
        after.extend(_normalize_flag(tok))
    return keep_before + [command] + moved + after


class KubecfgGroup(click.Group):
    """The ``raftkube``/``kubecfg`` group: kubecfg-style argv, and API errors as one line on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_argv(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            raise click.ClickException(api_message(exc)) from None
        except requests.RequestException as exc:
            raise click.ClickException(f"request failed: {exc.__class__.__name__}: {exc}") from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # e.g. `raftkube list pods | head -1`: stop quietly
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            ctx.exit(1)


def api_message(exc: ApiError) -> str:
    """The Status message; every further field error of an Invalid on the same line."""
    msg = exc.message
    if isinstance(exc, Invalid) and len(exc.causes) > 1:
        msg += "; " + "; ".join(c.message for c in exc.causes[1:])
    return msg


@click.group(cls=KubecfgGroup, context_settings={"help_option_names": ["--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="raftkube")
def main() -> None:
    """raftkube: the 2014 Kubernetes design with its store replicated by Raft inside three masters.

    `raftkube master NAME` runs a master. The other commands are the 2014 `kubecfg` client
    (`kubecfg` is the same program): they talk v1beta1 HTTP to any master and fail over across them.

    \b
    Flags may come before the command, Go style, as in the 2014 article:
      kubecfg -c examples/redis.json create /pods
      kubecfg list /pods
      kubecfg -c examples/redisController.json create /replicationControllers
    or after it:
      raftkube list pods -l name=redis -json

    \b
    Server: -h URL[,URL...], else $KUBERNETES_MASTER, else the masters of ./cluster.toml,
    else http://localhost:8080. (-h is the server, as in kubecfg; help is --help.)

    \b
    Shell completion (bash; use zsh_source / fish_source for those shells):
      eval "$(_RAFTKUBE_COMPLETE=bash_source raftkube)"
      eval "$(_KUBECFG_COMPLETE=bash_source kubecfg)"
    """


@main.command()
@click.argument("name")
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def master(name: str, config_path: str, verbose: bool) -> None:
    """Run master NAME of the cluster: Raft replica of the store and the REST API.

    Example: raftkube master m1 --config cluster.toml
    """
    _setup_logging(verbose)
    try:
        config = load(config_path)
        config.master(name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    from raftkube.master import run_master
    stop = _stop_on_signals()
    try:
        run_master(config, name, stop)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"master {name}: {exc}") from None


@main.command()
@click.option("--config", "config_path", default="cluster.toml", show_default=True,
              help="cluster description (masters, ports, data directory)")
@click.option("--minions", type=click.IntRange(0, 100), default=1, show_default=True, help="local minions to start")
@click.option("--runtime", type=click.Choice(["docker", "hollow"]), default="docker", show_default=True,
              help="docker: real containers; hollow: simulated (no Docker needed)")
@click.option("--container-label", "container_labels", multiple=True,
              help="extra label k=v on every container the minions start (tests use it to find their own)")
def up(config_path: str, minions: int, runtime: str, container_labels: tuple[str, ...]) -> None:
    """Run a whole local cluster in the foreground: the masters of the config and N minions.

    Every process's output is shown with a [name] prefix; a process that dies is restarted; Ctrl-C stops
    everything. Data stays on disk, so the next `up` brings the same objects back.

    Example: raftkube up --minions 2          (then, in another shell: kubecfg list /pods)
    """
    _setup_logging(False)
    try:
        config = load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if runtime == "docker" and minions:
        import shutil
        import subprocess
        docker = shutil.which("docker")
        if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
            raise click.ClickException(
                "the Docker engine is not reachable: start it (scripts/up does it, installing Debian's docker.io "
                "if needed), or use --runtime hollow")
    from raftkube.up import run_up
    stop = _stop_on_signals()
    code = run_up(config, minions, runtime, stop, container_labels=container_labels)
    if code:
        sys.exit(code)



# ---- shared pieces of the client commands ----------------------------------------------------------

_ALIASES = {"rc": "replicationControllers", "rcs": "replicationControllers", "svc": "services",
            "nodes": "minions", "node": "minions", "ev": "events"}


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


def _complete_resource(ctx, param, incomplete: str):
    from click.shell_completion import CompletionItem
    prefix = "/" if incomplete.startswith("/") else ""
    word = incomplete.lstrip("/")
    return [CompletionItem(prefix + r) for r in resource_names() if r.startswith(word)]


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


def make_client(server: str | None) -> HttpClient:
    urls, _ = server_urls(server)
    return HttpClient(urls, timeout_s=10.0, retry_for_s=REQUEST_RETRY_S)


def api_path(res: Resource, name: str | None = None) -> str:
    path = f"{v1beta1.API_PREFIX}/{res.plural}"
    if name is not None:
        path += "/" + requests.utils.quote(name, safe="")
    return path


def _output_format(as_json: bool, as_yaml: bool, default: str = "human") -> str:
    if as_json and as_yaml:
        raise click.UsageError("choose one of -json and -yaml")
    return "json" if as_json else "yaml" if as_yaml else default


def emit(obj: dict, fmt: str) -> None:
    click.echo(printers.render(obj, fmt), nl=False)


def server_option(f):
    return click.option("-h", "--server", metavar="URL[,URL...]",
                        help="master API URLs, tried in order [default: $KUBERNETES_MASTER, the masters "
                             "of ./cluster.toml, http://localhost:8080]")(f)


def output_options(f):
    f = click.option("--yaml", "as_yaml", is_flag=True, help="print YAML (also -yaml)")(f)
    f = click.option("--json", "as_json", is_flag=True, help="print the v1beta1 JSON (also -json)")(f)
    return f


def read_object_file(source: str) -> dict:
    """The object in a file, ``-`` (stdin) or an http(s) URL, as JSON or YAML; one-line errors."""
    try:
        if source == "-":
            text = sys.stdin.read()
        elif source.startswith(("http://", "https://")):
            resp = requests.get(source, timeout=10)
            if resp.status_code != 200:
                raise click.ClickException(f"cannot fetch {source}: HTTP {resp.status_code}")
            text = resp.text
        else:
            text = Path(source).read_text()
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc.strerror or exc}") from None
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot fetch {source}: {exc.__class__.__name__}") from None
    try:
        if text.lstrip().startswith(("{", "[")):
            body = json.loads(text)
        else:
            body = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{source}: not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise click.ClickException(f"{source}: not valid JSON or YAML: {getattr(exc, 'problem', exc)}{at}") from None
    if not isinstance(body, dict):
        raise click.ClickException(f"{source}: expected one object (a JSON object), got {type(body).__name__}")
    return body


def check_object(res: Resource, body: dict) -> None:
    """Validate before sending (the same rules and messages as the server); raises Invalid/BadRequest.

    Pods and replication controllers may come without an id: the server names them with a UUID.
    """
    v1beta1.check_type_meta(res, body)
    obj = v1beta1.from_wire(res.kind, body)
    if not obj["metadata"].get("name") and res.kind in ("Pod", "ReplicationController", "Event"):
        obj["metadata"]["name"] = "to-be-named-by-the-server"
    validation.validate(obj)


def _get(client: HttpClient, res: Resource, name: str) -> dict:
    return client.request("GET", api_path(res, name)).json()


def _put(client: HttpClient, res: Resource, name: str, body: dict) -> dict:
    return client.request("PUT", api_path(res, name), body=body).json()


RC = RESOURCES["replicationControllers"]
PODS = RESOURCES["pods"]


def _rc_name(word: str) -> str:
    """``redisController`` or ``replicationControllers/redisController``."""
    res_word, slash, name = word.strip("/").partition("/")
    if slash:
        if lookup_resource(res_word) is not RC:
            raise click.UsageError(f"{word!r} is not a replication controller")
        return name
    return word


# ---- durations (Go style: 60s, 1m30s, 500ms) ------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """``60s``, ``1m30s``, ``500ms``, ``2h`` or plain seconds ``5`` -> seconds."""
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError(f"invalid duration {text!r} (examples: 60s, 1m30s, 500ms)")
    return total


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


# ---- the commands ----------------------------------------------------------------------------------

@main.command()
@click.argument("resource", shell_complete=_complete_resource)
@click.option("-c", "--file", "source", metavar="FILE|URL|-",
              help="the object, as JSON or YAML: a file, an http(s) URL, or - for stdin")
@server_option
@output_options
def create(resource, source, server, as_json, as_yaml):
    """Create the object in -c FILE in RESOURCE (pods, replicationControllers, services, ...).

    The file may leave out kind and apiVersion; the resource implies them. It is checked before
    sending, and the created object is printed as a table.

    \b
    Example:
      kubecfg -c examples/redis.json create /pods
    """
    fmt = _output_format(as_json, as_yaml)
    res, name = parse_target(resource, None, need_name=False, command="create")
    if name:
        raise click.UsageError(f"create takes a resource, not an object: create {res.plural}")
    if not source:
        raise click.UsageError("Need config file (-c)")
    body = read_object_file(source)
    check_object(res, body)
    emit(make_client(server).request("POST", api_path(res), body=body).json(), fmt)


@main.command("list")
@click.argument("resource", shell_complete=_complete_resource)
@click.option("-l", "labels", metavar="SELECTOR", default="", help="label selector, e.g. name=redis,env!=prod")
@click.option("--fields", metavar="SELECTOR", default="", help="field selector, e.g. DesiredState.Host= (also -fields)")
@server_option
@output_options
def list_(resource, labels, fields, server, as_json, as_yaml):
    """List the objects of RESOURCE, optionally only those matching -l SELECTOR.

    \b
    Examples:
      kubecfg list /pods
      raftkube list pods -l name=redis
      raftkube list replicationControllers -json
    """
    fmt = _output_format(as_json, as_yaml)
    res, name = parse_target(resource, None, need_name=False, command="list")
    client = make_client(server)
    if name:  # 2014 kubecfg GETs whatever path it is given: list pods/redis prints one pod
        emit(_get(client, res, name), fmt)
        return
    params = {}
    if labels:
        params["labels"] = labels
    if fields:
        params["fields"] = fields
    emit(client.request("GET", api_path(res), params).json(), fmt)


@main.command()
@click.argument("resource", shell_complete=_complete_resource)
@click.argument("name", required=False)
@server_option
@output_options
def get(resource, name, server, as_json, as_yaml):
    """Print one object: RESOURCE/ID (or RESOURCE ID).

    \b
    Examples:
      kubecfg get pods/redis
      raftkube get replicationControllers redisController -yaml
    """
    fmt = _output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="get")
    emit(_get(make_client(server), res, name), fmt)


@main.command()
@click.argument("resource", shell_complete=_complete_resource)
@click.argument("name", required=False)
@click.option("-c", "--file", "source", metavar="FILE|URL|-", help="the new object, as JSON or YAML")
@server_option
@output_options
def update(resource, name, source, server, as_json, as_yaml):
    """Replace RESOURCE/ID with the object in -c FILE.

    The current resourceVersion is read first and put into the object, so the update applies
    unless someone else changes the object in between (then: 409 Conflict, try again).

    \b
    Example:
      kubecfg -c redisController.json update replicationControllers/redisController
    """
    fmt = _output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="update")
    if not source:
        raise click.UsageError("Need config file (-c)")
    body = read_object_file(source)
    if body.get("id") not in (None, "", name):
        raise click.ClickException(f"the id in {source} ({body['id']!r}) is not {name!r}")
    body["id"] = name
    check_object(res, body)
    client = make_client(server)
    current = _get(client, res, name)
    body["resourceVersion"] = current.get("resourceVersion") or 0
    emit(_put(client, res, name, body), fmt)


@main.command()
@click.argument("resource", shell_complete=_complete_resource)
@click.argument("name", required=False)
@server_option
@output_options
def delete(resource, name, server, as_json, as_yaml):
    """Delete RESOURCE/ID and print the resulting Status.

    Deleting a replication controller does not delete its pods: use stop, then rm.

    \b
    Example:
      kubecfg delete pods/redis
    """
    fmt = _output_format(as_json, as_yaml)
    res, name = parse_target(resource, name, need_name=True, command="delete")
    emit(make_client(server).request("DELETE", api_path(res, name)).json(), fmt)


def _set_replicas(client: HttpClient, name: str, replicas: int) -> dict:
    """GET the controller, set desiredState.replicas, PUT; retried when someone else wrote in between."""
    for attempt in range(5):
        rc = _get(client, RC, name)
        rc.setdefault("desiredState", {})["replicas"] = replicas
        try:
            return _put(client, RC, name, rc)
        except Conflict:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _wait_replicas(client: HttpClient, name: str, replicas: int, timeout_s: float) -> None:
    """Poll until currentState.replicas == replicas, printing each change on stderr."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        current = (_get(client, RC, name).get("currentState") or {}).get("replicas") or 0
        if current != last:
            click.echo(f'replicationController "{name}": {current}/{replicas} replicas', err=True)
            last = current
        if current == replicas:
            return
        if time.monotonic() >= deadline:
            raise click.ClickException(f'timed out after {timeout_s:g}s waiting for replicationController '
                                       f'"{name}" to have {replicas} replicas (it has {current})')
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))


def _resize(name: str, replicas: int, server, as_json, wait, timeout_s) -> None:
    if replicas < 0:
        raise click.UsageError(f"replicas must be >= 0, got {replicas}")
    fmt = _output_format(as_json, False, default="yaml")
    client = make_client(server)
    emit(_set_replicas(client, _rc_name(name), replicas), fmt)
    if wait:
        _wait_replicas(client, _rc_name(name), replicas, timeout_s)


_wait_options = [
    click.option("--wait", is_flag=True, help="wait until currentState.replicas matches, showing progress"),
    click.option("--timeout", "timeout_s", type=DURATION, default="60s", show_default=True,
                 help="with --wait: give up (exit 1) after this long"),
]


def wait_options(f):
    for opt in reversed(_wait_options):
        f = opt(f)
    return f


@main.command()
@click.argument("controller")
@click.argument("replicas", type=int)
@wait_options
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the controller as JSON instead of YAML")
def resize(controller, replicas, wait, timeout_s, server, as_json):
    """Set the desired replica count of replication controller CONTROLLER to REPLICAS.

    Prints the updated controller as YAML (as kubecfg did). With --wait, waits until the
    controller's current replica count (the pods matching its selector) converges.

    \b
    Example:
      kubecfg resize redisController 3
      raftkube resize redisController 3 --wait --timeout 2m
    """
    _resize(controller, replicas, server, as_json, wait, timeout_s)


@main.command()
@click.argument("controller")
@wait_options
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the controller as JSON instead of YAML")
def stop(controller, wait, timeout_s, server, as_json):
    """Resize replication controller CONTROLLER to 0 replicas (its pods are then deleted).

    \b
    Example:
      kubecfg stop redisController && kubecfg rm redisController
    """
    _resize(controller, 0, server, as_json, wait, timeout_s)


@main.command()
@click.argument("controller")
@server_option
@output_options
def rm(controller, server, as_json, as_yaml):
    """Delete replication controller CONTROLLER; refused while it wants replicas (stop it first).

    \b
    Example:
      kubecfg stop redisController
      kubecfg rm redisController
    """
    fmt = _output_format(as_json, as_yaml)
    name = _rc_name(controller)
    client = make_client(server)
    replicas = (_get(client, RC, name).get("desiredState") or {}).get("replicas") or 0
    if replicas != 0:
        raise click.ClickException(f"controller has non-zero replicas ({replicas}), please stop it first")
    emit(client.request("DELETE", api_path(RC, name)).json(), fmt)


def parse_port_spec(spec: str) -> list[dict]:
    """``-p`` of kubecfg run: comma-separated ``hostPort:containerPort`` or ``containerPort``."""
    ports = []
    for part in (p for p in spec.split(",") if p):
        host_s, colon, container_s = part.rpartition(":")
        try:
            container = int(container_s)
            host = int(host_s) if colon else 0
        except ValueError:
            raise click.BadParameter(f"{part!r}: expected hostPort:containerPort or containerPort",
                                     param_hint="-p") from None
        if not 1 <= container <= 65535 or not 0 <= host <= 65535:
            raise click.BadParameter(f"{part!r}: ports must be 1-65535", param_hint="-p")
        port = {"containerPort": container}
        if host:
            port["hostPort"] = host
        ports.append(port)
    return ports


def run_objects(image: str, replicas: int, name: str, ports: list[dict], service_port: int) -> list[tuple[Resource, dict]]:
    """The controller (and service) ``kubecfg run`` creates; selector and labels ``{"name": name}``."""
    labels = {"name": name}
    container = {"name": name.lower(), "image": image}
    if ports:
        container["ports"] = ports
    rc = {"kind": "ReplicationController", "apiVersion": v1beta1.API_VERSION, "id": name, "labels": dict(labels),
          "desiredState": {"replicas": replicas, "replicaSelector": dict(labels),
                           "podTemplate": {"desiredState": {"manifest": {"version": v1beta1.API_VERSION, "id": name,
                                                                         "containers": [container]}},
                                           "labels": dict(labels)}}}
    out = [(RC, rc)]
    if service_port > 0:
        out.append((RESOURCES["services"], {"kind": "Service", "apiVersion": v1beta1.API_VERSION, "id": name,
                                            "port": service_port, "labels": dict(labels),
                                            "selector": dict(labels)}))
    return out


@main.command()
@click.argument("image")
@click.argument("replicas", type=int)
@click.argument("name")
@click.option("-p", "ports", metavar="PORTS", default="",
              help="container ports: comma-separated hostPort:containerPort or containerPort")
@click.option("-s", "service_port", type=int, default=0, metavar="PORT",
              help="also create a service NAME on this port, selecting the controller's pods")
@server_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of YAML")
def run(image, replicas, name, ports, service_port, server, as_json):
    """Run REPLICAS copies of IMAGE as replication controller NAME (and optionally a service).

    The controller's selector and pod labels are name=NAME; the container is named NAME in
    lowercase. Prints the created objects as YAML.

    \b
    Example:
      kubecfg -p 8080:80 -s 8000 run dockerfile/nginx 2 web
    """
    if replicas < 0:
        raise click.UsageError(f"replicas must be >= 0, got {replicas}")
    objects = run_objects(image, replicas, name, parse_port_spec(ports), service_port)
    for res, body in objects:  # all checked before anything is created
        check_object(res, body)
    client = make_client(server)
    fmt = _output_format(as_json, False, default="yaml")
    for i, (res, body) in enumerate(objects):
        if i and fmt == "yaml":
            click.echo("---")
        emit(client.request("POST", api_path(res), body=body).json(), fmt)


def _matching_pods(client: HttpClient, selector: dict) -> list[dict]:
    doc = client.request("GET", api_path(PODS), {"labels": format_labels(selector)}).json()
    return doc.get("items") or []


@main.command()
@click.argument("controller")
@click.option("--image", default=None, help="the new image of the template's first container (also -image)")
@click.option("-u", "period_s", type=DURATION, default="60s", show_default=True,
              help="pause after each replaced pod")
@click.option("--timeout", "timeout_s", type=DURATION, default="300s", show_default=True,
              help="give up (exit 1) if a deleted pod is not replaced within this long")
@server_option
def rollingupdate(controller, image, period_s, timeout_s, server):
    """Replace the pods of replication controller CONTROLLER one by one.

    With -image, first sets the image of the template's first container. Then each pod matching
    the controller's selector is deleted; the controller creates a replacement from the (new)
    template; once the pod count is back, wait -u before the next pod. Progress goes to stderr.

    \b
    Example:
      kubecfg -image dockerfile/redis:2.8 -u 10s rollingupdate redisController
    """
    name = _rc_name(controller)
    client = make_client(server)
    rc = _get(client, RC, name)
    if image:
        containers = ((((rc.setdefault("desiredState", {}).get("podTemplate") or {}).get("desiredState") or {})
                       .get("manifest") or {}).get("containers")) or []
        if not containers:
            raise click.ClickException(f'replicationController "{name}" has no container in its template')
        containers[0]["image"] = image
        rc = _put(client, RC, name, rc)
        click.echo(f'replicationController "{name}": template image is now {image}', err=True)
    selector = (rc.get("desiredState") or {}).get("replicaSelector") or {}
    pods = sorted(_matching_pods(client, selector), key=lambda p: p.get("id") or "")
    total = len(pods)
    if not total:
        click.echo(f'replicationController "{name}": no pods match {format_labels(selector)}; nothing to replace',
                   err=True)
        return
    for i, pod in enumerate(pods, 1):
        pod_name = pod.get("id") or ""
        try:
            client.request("DELETE", api_path(PODS, pod_name))
        except NotFound:
            pass
        click.echo(f"[{i}/{total}] deleted pod {pod_name}; waiting for its replacement", err=True)
        deadline = time.monotonic() + timeout_s
        while True:
            count = len(_matching_pods(client, selector))
            if count >= total:
                break
            if time.monotonic() >= deadline:
                raise click.ClickException(
                    f'timed out after {timeout_s:g}s waiting for replicationController "{name}" to replace pod '
                    f'"{pod_name}" ({count}/{total} pods)')
            time.sleep(0.2)
        click.echo(f"[{i}/{total}] {count}/{total} pods", err=True)
        if i < total and period_s > 0:
            click.echo(f"waiting {period_s:g}s before the next pod", err=True)
            time.sleep(period_s)
    click.echo(f'replicationController "{name}": all {total} pods replaced', err=True)


@main.command()
@click.option("-l", "labels", metavar="SELECTOR", default="", help="label selector on the events")
@click.option("--fields", metavar="SELECTOR", default="",
              help="field selector, e.g. involvedObject.name=redis,reason=scheduled (also -fields)")
@server_option
@output_options
def events(labels, fields, server, as_json, as_yaml):
    """List events: which object, its kind, status, reason and message.

    \b
    Examples:
      kubecfg events
      raftkube events --fields involvedObject.name=redis
    """
    fmt = _output_format(as_json, as_yaml)
    params = {}
    if labels:
        params["labels"] = labels
    if fields:
        params["fields"] = fields
    emit(make_client(server).request("GET", api_path(RESOURCES["events"]), params).json(), fmt)


def _probe_master(url: str, name: str, timeout_s: float) -> dict:
    row = {"url": url, "name": name}
    try:
        resp = requests.get(url + "/raft", timeout=timeout_s)
        resp.raise_for_status()
        row.update(reachable=True, raft=resp.json())
    except requests.ConnectionError:
        row.update(reachable=False, error="connection refused")
    except requests.Timeout:
        row.update(reachable=False, error="timeout")
    except (requests.RequestException, ValueError) as exc:
        row.update(reachable=False, error=exc.__class__.__name__)
    return row


@main.command()
@click.option("--timeout", "timeout_s", type=DURATION, default="2s", show_default=True,
              help="how long to wait for each master")
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the masters' /raft answers as JSON")
def status(timeout_s, server, as_json):
    """Show every master: name, role, leader, term, commit and applied index, reachable or not.

    Exits 1 if no master answers.

    \b
    Example:
      raftkube status
      raftkube status -h http://10.0.0.1:8080,http://10.0.0.2:8080
    """
    urls, names = server_urls(server)
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        rows = list(pool.map(lambda u: _probe_master(u, names.get(u, ""), timeout_s), urls))
    if as_json:
        click.echo(printers.to_json(rows), nl=False)
    else:
        click.echo(printers.masters_table(rows), nl=False)
    if not any(r["reachable"] for r in rows):
        raise click.ClickException(f"no master reachable ({', '.join(urls)})")


def _url_host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


@main.command()
@click.argument("pod")
@click.argument("container", required=False)
@click.option("--follow", is_flag=True, help="keep streaming new output (also -follow)")
@click.option("--tail", type=int, default=None, help="only the last N lines")
@server_option
def logs(pod, container, follow, tail, server):
    """Print the output of CONTAINER in POD, from the kubelet of the pod's minion (port 10250).

    CONTAINER may be left out when the pod has a single container.

    \b
    Example:
      raftkube logs redis
      raftkube logs redis redis --tail 20
    """
    pod_name = pod.strip("/")
    if pod_name.startswith("pods/"):
        pod_name = pod_name[len("pods/"):]
    client = make_client(server)
    wire = _get(client, PODS, pod_name)
    names = [c.get("name") or "" for c in
             ((wire.get("desiredState") or {}).get("manifest") or {}).get("containers") or ()]
    if container is None:
        if len(names) != 1:
            raise click.ClickException(f'pod "{pod_name}" has {len(names)} containers ({", ".join(names)}): '
                                       "name one")
        container = names[0]
    elif container not in names:
        raise click.ClickException(f'pod "{pod_name}" has no container "{container}" '
                                   f'(containers: {", ".join(names)})')
    host = (wire.get("currentState") or {}).get("host") or (wire.get("desiredState") or {}).get("host") or ""
    if not host:
        raise click.ClickException(f'pod "{pod_name}" is not assigned to a minion yet: no logs')
    address, port = host, KUBELET_PORT
    try:
        minion = _get(client, RESOURCES["minions"], host)
        address = minion.get("hostIP") or host
        port = ((minion.get("status") or {}).get("kubeletPort")) or KUBELET_PORT
    except NotFound:
        pass
    namespace = wire.get("namespace") or DEFAULT_NAMESPACE
    quote = lambda s: requests.utils.quote(s, safe="")  # noqa: E731
    url = (f"http://{_url_host(address)}:{port}/containerLogs/{quote(namespace)}/{quote(pod_name)}/"
           f"{quote(container)}")
    params = {}
    if follow:
        params["follow"] = "true"
    if tail is not None:
        params["tail"] = str(tail)
    try:
        resp = requests.get(url, params=params, stream=True, timeout=(5, None if follow else 30))
    except requests.ConnectionError:
        raise click.ClickException(f'cannot reach the kubelet of minion "{host}" at {url.split("/containerLogs")[0]} '
                                   "(is the minion running?)") from None
    except requests.Timeout:
        raise click.ClickException(f'the kubelet of minion "{host}" did not answer') from None
    with resp:
        if resp.status_code != 200:
            text = resp.text.strip().splitlines()
            raise click.ClickException(f'the kubelet of minion "{host}" answered {resp.status_code}'
                                       + (f": {text[0][:200]}" if text else ""))
        out = click.get_binary_stream("stdout")
        try:
            for chunk in resp.iter_content(chunk_size=None):
                out.write(chunk)
                out.flush()
        except requests.RequestException as exc:
            raise click.ClickException(f'log stream from minion "{host}" broke: {exc.__class__.__name__}') from None


# ---- minion (kubelet + node agent) --------------------------------------------------------------------
def _key_values(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint=what)
        out[key] = value
    return out


@main.command()
@click.option("--masters", default=None, help="master API URLs, comma-separated (default: those of ./cluster.toml)")
@click.option("--name", default=None, help="minion name (default: the hostname)")
@click.option("--address", default=None, help="this host's address (default: the one that reaches the masters)")
@click.option("--runtime", type=click.Choice(["docker", "hollow"]), default="docker", show_default=True)
@click.option("--port", type=int, default=KUBELET_PORT, show_default=True, help="kubelet HTTP port (-1: none)")
@click.option("--label", "labels", multiple=True, help="minion label k=v (repeatable)")
@click.option("--count", type=int, default=1, show_default=True, help="hollow minions in this process")
@click.option("--name-prefix", default="", help="with --count: minions are named <prefix><i>")
@click.option("--heartbeat", "heartbeat_s", type=float, default=5.0, show_default=True, help="seconds")
@click.option("--container-label", "container_labels", multiple=True, help="extra label k=v on every container")
@click.option("--proxy/--no-proxy", "run_proxy", default=None,
              help="run the service proxy (default: on with --runtime docker, off with hollow)")
@click.option("--service-host", default="",
              help="where containers reach this minion's proxy (default: the docker bridge gateway)")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def minion(masters, name, address, runtime, port, labels, count, name_prefix, heartbeat_s, container_labels,
           run_proxy, service_host, verbose):
    """Run a minion: register it, heartbeat, and run the pods bound to it (kubelet on Docker).

    \b
    Examples:
      raftkube minion --masters http://10.0.0.1:8080,http://10.0.0.2:8080
      raftkube minion --runtime hollow --count 100 --name-prefix hollow-   (kubemark-style simulation)
    """
    import socket

    from raftkube.minion.node import MinionSettings, host_address, run_minion
    _setup_logging(verbose)
    if masters:
        urls = [u.strip() for u in masters.split(",") if u.strip()]
    else:
        try:
            urls = load("cluster.toml").api_urls
        except ConfigError as exc:
            raise click.ClickException(f"--masters not given and ./cluster.toml unusable: {exc}") from None
    if count > 1 and runtime != "hollow":
        raise click.UsageError("--count > 1 needs --runtime hollow")
    settings = MinionSettings(
        name=name or socket.gethostname().lower(), address=address or host_address(urls), runtime=runtime,
        port=port, labels=_key_values(labels, "--label"), count=count,
        name_prefix=name_prefix or (f"{name or 'hollow'}-" if count > 1 else ""), heartbeat_s=heartbeat_s,
        container_labels=_key_values(container_labels, "--container-label"), service_host=service_host)
    stop = _stop_on_signals()
    proxy = None
    if run_proxy if run_proxy is not None else runtime == "docker":
        from raftkube.proxy.service_proxy import ServiceProxy
        proxy = ServiceProxy(HttpClient(urls), settings.name).start()
    try:
        run_minion(HttpClient(urls, retry_for_s=3.0), settings, stop)
    except OSError as exc:
        raise click.ClickException(f"minion: {exc}") from None
    finally:
        if proxy is not None:
            proxy.stop()


if __name__ == "__main__":
    main()
