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
* Ports (``spec.ports``): ``{NAME}_SERVICE_PORT`` and ``{NAME}_PORT`` are the first port's; a named port also
  gets ``{NAME}_SERVICE_PORT_{PORT_NAME}``; every port gets its four docker-link variables (Kubernetes'
  ``envvars.go``). A service of one unnamed port gives exactly the K04 variables.
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
        ports = [(p, _number(p)) for p in (svc.get("spec") or {}).get("ports") or ()]
        ports = [(p, n) for p, n in ports if n > 0]
        if not name_of(svc) or not ports:
            continue
        name = env_name(name_of(svc))
        first = ports[0][1]
        out += [{"name": f"{name}_SERVICE_HOST", "value": host},
                {"name": f"{name}_SERVICE_PORT", "value": str(first)}]
        out += [{"name": f"{name}_SERVICE_PORT_{env_name(p['name'])}", "value": str(n)}
                for p, n in ports if p.get("name")]
        out.append({"name": f"{name}_PORT", "value": f"{_protocol(ports[0][0])}://{host}:{first}"})
        for p, n in ports:
            proto = _protocol(p)
            url = f"{proto}://{host}:{n}"
            prefix = f"{name}_PORT_{n}_{proto.upper()}"
            out += [
                {"name": prefix, "value": url},
                {"name": f"{prefix}_PROTO", "value": proto},
                {"name": f"{prefix}_PORT", "value": str(n)},
                {"name": f"{prefix}_ADDR", "value": host},
            ]
    if out:
        out.append({"name": "SERVICE_HOST", "value": host})
    return out


def _number(port: dict) -> int:
    return int((port or {}).get("port") or 0)


def _protocol(port: dict) -> str:
    return ((port or {}).get("protocol") or "TCP").lower()


def service_host(node: dict | None, node_name: str) -> str:
    """Where containers on ``node`` reach its proxy: ``status.serviceHost``, else ``hostIP``, else the name."""
    status = (node or {}).get("status") or {}
    return status.get("serviceHost") or status.get("hostIP") or node_name
