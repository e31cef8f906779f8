"""The objects the client commands read, build, check and print.

``-c FILE`` (a file, ``-`` or an http(s) URL, JSON or YAML), the controller and service ``run`` builds,
the local check before sending (the server's own rules), and printing (``printers`` renders the text).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import requests
import yaml

from raftkube.cli import printers
from raftkube.cli.targets import RC
from raftkube.apis import v1beta1
from raftkube.apis.v1beta1 import validation
from raftkube.apis.v1beta1 import RESOURCES, Resource


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


def emit(obj: dict, fmt: str) -> None:
    """Print a v1beta1 object as ``human`` (the 2014 table), ``json`` or ``yaml``."""
    click.echo(printers.render(obj, fmt), nl=False)


# ---- what `run` creates ---------------------------------------------------------------------------

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
