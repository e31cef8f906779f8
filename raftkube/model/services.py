"""Service environment variables (2014's ``GetServiceEnvironmentVariables`` / ``makeLinkVariables``).

Computed once, when a pod is bound (``Registry.bind``), from the services that exist at that moment, and
stored in the pod's ``spec.serviceEnv``; the kubelet appends them to every container's own env.

Choices (see README "Services"):

* Scope: the services of the **pod's namespace** only (2014 K04 took every namespace; per-namespace keeps
  names from colliding across namespaces and is what Kubernetes settled on later).
* ``HOST`` is the address a container on the pod's minion reaches that minion's proxy at: the Node's
  ``status.serviceHost`` (the minion reports its Docker bridge gateway there), else its ``hostIP``,
  else the minion name (K04's choice).
* ``SERVICE_HOST=HOST`` (K04's deprecated variable, used by the guestbook as a fallback) is appended once
  after the per-service variables, and only when there is at least one service.
"""

from __future__ import annotations

from raftkube.model.objects import name_of, namespace_of


def env_name(service_name: str) -> str:
    """``redis-master`` -> ``REDIS_MASTER``."""
    return service_name.upper().replace("-", "_")


def service_env(services: list[dict], host: str) -> list[dict]:
    """The ``[{"name", "value"}]`` variables for ``services`` (sorted by name) reached at ``host``."""
    out: list[dict] = []
    for svc in sorted(services, key=lambda s: (namespace_of(s), name_of(s))):
        spec = svc.get("spec") or {}
        port = int(spec.get("port") or 0)
        if not name_of(svc) or port <= 0:
            continue
        name = env_name(name_of(svc))
        proto = (spec.get("protocol") or "TCP").lower()
        url = f"{proto}://{host}:{port}"
        prefix = f"{name}_PORT_{port}_{proto.upper()}"
        out += [
            {"name": f"{name}_SERVICE_HOST", "value": host},
            {"name": f"{name}_SERVICE_PORT", "value": str(port)},
            {"name": f"{name}_PORT", "value": url},
            {"name": prefix, "value": url},
            {"name": f"{prefix}_PROTO", "value": proto},
            {"name": f"{prefix}_PORT", "value": str(port)},
            {"name": f"{prefix}_ADDR", "value": host},
        ]
    if out:
        out.append({"name": "SERVICE_HOST", "value": host})
    return out


def service_host(node: dict | None, node_name: str) -> str:
    """Where containers on ``node`` reach its proxy: ``status.serviceHost``, else ``hostIP``, else the name."""
    status = (node or {}).get("status") or {}
    return status.get("serviceHost") or status.get("hostIP") or node_name
