"""v1beta1 services <-> internal services.

A v1beta1 service has one port: ``port``, ``containerPort`` (a number, a container port name, or 0/"" for the
first port of the first container) and ``protocol``. Internally that is ``spec.ports[0]`` (unnamed, with
``targetPort``); a service of several ports shows its first one.
"""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.reader import Reader


def service_from_wire(r: Reader, body: dict) -> dict:
    port = r.int_(body, "port", "")
    target = r.int_or_str(body, "containerPort", "")
    selector = r.str_map(body, "selector", "")
    protocol = r.str_(body, "protocol", "") or "TCP"
    return {"spec": {
        "ports": [{"name": "", "port": port, "targetPort": target, "protocol": protocol}],
        "selector": selector,
        "createExternalLoadBalancer": r.bool_(body, "createExternalLoadBalancer", ""),
        "publicIPs": r.str_list(body, "publicIPs", ""),
        "portalIP": r.str_(body, "portalIP", ""),
    }}


def service_to_wire(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    ports = spec.get("ports") or ()
    first = (ports[0] or {}) if ports else {}
    w: dict[str, Any] = {"port": first.get("port") or 0}
    if first.get("protocol"):
        w["protocol"] = first["protocol"]
    w["selector"] = dict(spec.get("selector") or {})
    if spec.get("createExternalLoadBalancer"):
        w["createExternalLoadBalancer"] = True
    if spec.get("publicIPs"):
        w["publicIPs"] = list(spec["publicIPs"])
    target = first.get("targetPort")
    w["containerPort"] = target if isinstance(target, (int, str)) and not isinstance(target, bool) else 0
    if spec.get("portalIP"):
        w["portalIP"] = spec["portalIP"]
    return w
