"""The service proxy of one minion: ``ServiceConfig`` (what the cluster wants) driving a ``Proxier``
(listeners and relays), reporting ports it cannot bind as a WARNING and an Event on the service."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from raftkube.model.errors import ApiError
from raftkube.proxy.config import ServiceConfig
from raftkube.proxy.proxier import ListenerFailure, Proxier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxySettings:
    bind_address: str = "0.0.0.0"
    """Where service ports listen (2014's ``-bind_address``)."""
    resync_s: float = 30.0
    """Full relist of services and endpoints this often."""
    udp_idle_s: float = 60.0
    """A UDP client session idle this long is closed."""
    share_ports: bool = False
    """Listen with SO_REUSEPORT, so the proxies of several minions on one host share the service ports."""


class ServiceProxy:
    def __init__(self, client, node_name: str, settings: ProxySettings = ProxySettings()):
        self.client = client
        self.node_name = node_name
        self.settings = settings
        self.proxier = Proxier(bind_address=settings.bind_address, udp_idle_s=settings.udp_idle_s,
                               share_ports=settings.share_ports)
        self.config = ServiceConfig(client, self._sync, resync_s=settings.resync_s)
        self._services: dict = {}
        self._reported: set[ListenerFailure] = set()

    def start(self) -> "ServiceProxy":
        self.proxier.start()
        self.config.start()
        log.info("service proxy up on %s (minion %s)", self.settings.bind_address, self.node_name)
        return self

    def stop(self) -> None:
        self.config.stop()
        self.proxier.stop()

    def _sync(self, services: list[dict], endpoints: list[dict]) -> None:
        self._services = {((s.get("metadata") or {}).get("namespace") or "default",
                           (s.get("metadata") or {}).get("name")): s for s in services}
        failures = set(self.proxier.sync(services, endpoints))
        for f in sorted(failures - self._reported, key=repr):
            log.warning("service %s/%s: %s", f.key[0], f.key[1], f.reason)
            self._event(f)
        self._reported = failures

    def _event(self, f: ListenerFailure) -> None:
        svc = self._services.get(f.key) or {}
        md = svc.get("metadata") or {}
        event = {"kind": "Event", "metadata": {"name": "", "namespace": f.key[0]},
                 "involvedObject": {"kind": "Service", "namespace": f.key[0], "name": f.key[1],
                                    "uid": md.get("uid", ""),
                                    "resourceVersion": str(md.get("resourceVersion") or ""), "fieldPath": ""},
                 "status": "", "reason": "PortUnavailable", "message": f"minion {self.node_name}: {f.reason}",
                 "source": f"proxy {self.node_name}"}
        try:
            self.client.create(event)
        except ApiError as exc:
            log.debug("event not recorded: %s", exc)
