"""Endpoints controller (2014's ``pkg/service/endpoints_controller.go``): for each service, the
``podIP:targetPort`` of its ready pods (as ``subsets``), written only when the set changed; removed with
the service."""

from __future__ import annotations

import logging

from raftkube.controllers.base import Controller, LabelIndex, obj_key
from raftkube.model.endpoints import endpoint_pairs, subsets_from_pairs
from raftkube.model.errors import AlreadyExists, ApiError, Conflict, NotFound, NotLeader
from raftkube.model.objects import RUNNING, labels_of, name_of, namespace_of, pod_phase, rv_of
from raftkube.model.selectors import selector_from_map

log = logging.getLogger(__name__)


def resolve_port(target, pod: dict) -> int | None:
    """A service port's ``targetPort`` on ``pod``: a number as is, a name looked up among the pod's container
    ports, 0/"" the first port of the first container; None if the pod has no such port."""
    containers = (pod.get("spec") or {}).get("containers") or []
    if isinstance(target, int) and not isinstance(target, bool) and target > 0:
        return target
    if isinstance(target, str) and target:
        for c in containers:
            for p in c.get("ports") or ():
                if p.get("name") == target and p.get("containerPort"):
                    return int(p["containerPort"])
        return None
    ports = (containers[0].get("ports") or []) if containers else []
    if ports and ports[0].get("containerPort"):
        return int(ports[0]["containerPort"])
    return None


def pod_ready(pod: dict) -> bool:
    """Running, with a pod IP, and every container ready (the kubelet's ``ready``: running and not failing
    its liveness probe; the pod's v1 Ready condition). A status without container statuses (written by
    hand, not by a kubelet) does not say, and counts as ready. The model has no readiness probes (2014)."""
    status = pod.get("status") or {}
    return (pod_phase(pod) == RUNNING and bool(status.get("podIP"))
            and all(cs.get("ready", True) for cs in status.get("containerStatuses") or ()))


def plan_endpoints(service: dict, pods: list[dict]) -> list[dict]:
    """The ``subsets`` of ``service`` among ``pods``: for each service port, the (IP, port) of the pods
    matching its selector that are ready (``pod_ready``) and have the port, sorted: a Pending pod
    is not serving yet, a terminated one no longer is, nor one whose container crashed or fails its probe."""
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        return []
    sel = selector_from_map(selector)
    running = [pod for pod in pods
               if namespace_of(pod) == namespace_of(service) and sel.matches(labels_of(pod))
               and pod_ready(pod)]
    subsets: list[dict] = []
    for service_port in spec.get("ports") or ():
        pairs = set()
        for pod in running:
            port = resolve_port((service_port or {}).get("targetPort"), pod)
            if port:
                pairs.add((pod["status"]["podIP"], port))
        subsets += subsets_from_pairs(sorted(pairs), (service_port or {}).get("name") or "")
    return subsets


def same_endpoints(a: list[dict] | None, b: list[dict] | None) -> bool:
    """Order-insensitive comparison of two lists of subsets: the same (port name, IP, port) triples."""
    def norm(subsets):
        return sorted((p.get("name") or "", (addr or {}).get("ip") or "", int(p.get("port") or 0))
                      for s in subsets or () for addr in (s or {}).get("addresses") or ()
                      for p in (s or {}).get("ports") or ())
    return norm(a) == norm(b)


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, client, **kw):
        super().__init__(client, **kw)
        self.pods = LabelIndex()
        self.service_informer = self.informer("Service", self._changed)
        self.pod_informer = self.informer("Pod", self._on_pod)
        self.endpoints_informer = self.informer("Endpoints")
        self.informers = [self.service_informer, self.pod_informer, self.endpoints_informer]

    def _changed(self, old, new) -> None:
        self.wake()

    def _on_pod(self, old, new) -> None:
        self.pods.update(old, new)
        self.wake()

    def reconcile(self) -> None:
        services = {obj_key(s): s for s in self.service_informer.items()}
        for key, svc in sorted(services.items()):
            if self.stop_event.is_set():
                return
            selector = (svc.get("spec") or {}).get("selector") or {}
            candidates = self.pods.select(key[0], selector_from_map(selector)) if selector else []
            want = plan_endpoints(svc, candidates)
            have = self.endpoints_informer.get(key)
            if have is not None and same_endpoints(have.get("subsets"), want):
                continue
            self._write(key, have, want)
        for key, ep in sorted((obj_key(e), e) for e in self.endpoints_informer.items()):
            if key not in services and not self.stop_event.is_set():
                self._delete(ep)

    def _write(self, key: tuple[str, str], have: dict | None, want: list[dict]) -> None:
        try:
            if have is None:
                obj = {"kind": "Endpoints", "metadata": {"name": key[1], "namespace": key[0]}, "subsets": want}
                written = self.client.create(obj)
            else:
                obj = dict(have)
                obj["subsets"] = want
                written = self.client.update(obj)
            log.info("endpoints %s/%s: %s", key[0], key[1],
                     ", ".join(f"{ip}:{port}" for ip, port in endpoint_pairs({"subsets": want})) or "(none)")
            self.endpoints_informer.store_local(written)
        except NotLeader:
            raise
        except (AlreadyExists, Conflict, NotFound) as exc:
            log.info("endpoints %s/%s changed underneath (%s); relisting", key[0], key[1], exc)
            self.endpoints_informer.relist()
            self.wake()
        except ApiError as exc:
            log.warning("endpoints %s/%s: write failed: %s", key[0], key[1], exc)

    def _delete(self, ep: dict) -> None:
        try:
            # only the version it judged: endpoints written meanwhile (a service of that name again) stay
            self.client.delete("Endpoints", name_of(ep), namespace_of(ep), resource_version=rv_of(ep))
            log.info("endpoints %s/%s removed: its service is gone", namespace_of(ep), name_of(ep))
        except NotLeader:
            raise
        except NotFound:
            pass
        except Conflict as exc:
            log.info("endpoints %s/%s changed underneath (%s); relisting", namespace_of(ep), name_of(ep), exc)
            self.endpoints_informer.relist()
            self.wake()
            return
        except ApiError as exc:
            log.warning("endpoints %s/%s: delete failed: %s", namespace_of(ep), name_of(ep), exc)
            return
        self.endpoints_informer.store_local(ep, deleted=True)
