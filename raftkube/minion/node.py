"""Wiring of a minion process: node agent (registration + heartbeat) + kubelet(s) + HTTP server.

``MinionProcess`` runs one real minion (Docker runtime) or ``count`` hollow minions in one process.
Hollow minions share one watch of every bound pod, one status pusher and one HTTP port (``/pods``
lists them all), so a single process can simulate 100+ minions against real masters.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from raftkube.minion.agent import NodeAgent
from raftkube.minion.kubelet import Kubelet, KubeletSettings
from raftkube.minion.pod_source import PodSource
from raftkube.minion.revocations import RevocationPoller
from raftkube.minion.status_pusher import StatusPusher

if TYPE_CHECKING:
    from raftkube.minion.server import KubeletTls

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250


@dataclass(frozen=True)
class MinionSettings:
    name: str
    """The minion (node) name; with ``count`` > 1 the names are ``<name_prefix><i>``."""
    address: str
    """The host address the minion registers (its pods' hostIP, where the kubelet port is reached)."""
    runtime: str = "docker"
    """``docker`` (real engine) or ``hollow`` (no containers, kubemark style)."""
    port: int = DEFAULT_PORT
    """The kubelet HTTP port; 0 picks a free one, -1 disables the server."""
    labels: dict = field(default_factory=dict)
    count: int = 1
    name_prefix: str = ""
    heartbeat_s: float = 5.0
    container_labels: dict = field(default_factory=dict)
    """Extra labels put on every container (tests label theirs with the test run id)."""
    kubelet: KubeletSettings = KubeletSettings()
    service_host: str = ""
    """Where this minion's containers reach its service proxy (Node ``status.serviceHost``, the HOST of the
    service variables); empty: the Docker bridge gateway (docker runtime) or ``address`` (hollow)."""
    tls: KubeletTls | None = None
    """The kubelet port's certificate and the cluster CA (minion/server.py): https and credentials; None: plain
    HTTP on loopback only."""


def host_capacity() -> dict:
    """cpu in milli-cpu (cores * 1000) and memory in bytes (MemTotal of /proc/meminfo)."""
    memory = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    return {"cpu": (os.cpu_count() or 1) * 1000, "memory": memory}


def host_address(masters: list[str] | None = None) -> str:
    """The address this host uses to reach the first master (no packet is sent), else its hostname's."""
    for url in masters or ():
        host = urlsplit(url).hostname
        if not host:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((host, 9))
                addr = s.getsockname()[0]
                if addr and not addr.startswith("0."):
                    return addr
        except OSError:
            continue
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def bridge_gateway(docker_client) -> str:
    """The address containers on Docker's default bridge reach the host at (its gateway; when the network
    does not name one, the first address of its subnet, which is what Docker assigns); "" if unknown."""
    import ipaddress
    if docker_client is None:
        return ""
    try:
        configs = docker_client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
    except Exception as exc:  # noqa: BLE001 - any engine error: fall back to the minion address
        log.warning("cannot inspect the docker bridge network: %s", exc)
        return ""
    for cfg in configs:
        if cfg.get("Gateway"):
            return cfg["Gateway"]
        try:
            net = ipaddress.ip_network(cfg.get("Subnet") or "", strict=False)
        except ValueError:
            continue
        if net.version == 4:
            return str(next(net.hosts()))
    return ""


class MinionProcess:
    def __init__(self, client, settings: MinionSettings, runtime_factory=None, client_of=None, collectors=()):
        """``client_of(name)``: the client of one minion (its own credential) for its registration, heartbeat,
        events and pod status, and then each minion watches its own pods with it (a node credential reads only
        the pods bound to it); None: ``client`` for all, and one shared watch of every bound pod. ``collectors``:
        more metrics for /metrics (the service proxy's)."""
        self.client = client
        self.own_credentials = client_of is not None
        self.client_of = client_of or (lambda name: client)
        self.collectors = tuple(collectors)
        self.settings = settings
        self.runtime_factory = runtime_factory
        self.names = ([f"{settings.name_prefix}{i}" for i in range(settings.count)]
                      if settings.count > 1 or settings.name_prefix else [settings.name])
        self.kubelets: list[Kubelet] = []
        self.agents: list[NodeAgent] = []
        self.sources: dict[str, PodSource] = {}  # minion name -> the pod source its kubelet reads
        self.pusher: StatusPusher | None = None
        self.server = None
        self.revocations: RevocationPoller | None = None
        self.metrics = None

    def _runtime(self, name: str):
        if self.runtime_factory is not None:
            return self.runtime_factory(name)
        if self.settings.runtime == "hollow":
            from raftkube.minion.hollow import HollowRuntime
            return HollowRuntime(name)
        from raftkube.minion.docker_runtime import DockerRuntime
        return DockerRuntime(name, extra_labels=self.settings.container_labels)

    def start(self) -> "MinionProcess":
        s = self.settings
        hollow = s.runtime == "hollow"
        kset = s.kubelet
        if hollow:
            kset = KubeletSettings(**{**kset.__dict__, "workers": 0, "probe_period_s": 0.0,
                                      "sync_period_s": max(kset.sync_period_s, 10.0)})
        from raftkube.minion.metrics import KubeletCollector, MinionMetrics, TimedRuntime
        self.metrics = MinionMetrics()  # served on the kubelet port at /metrics
        self.metrics.registry.register(KubeletCollector(lambda: self.kubelets))
        for collector in self.collectors:
            self.metrics.registry.register(collector)
        runtimes = {n: TimedRuntime(self._runtime(n), self.metrics) for n in self.names}
        if s.runtime == "docker":
            from raftkube.minion.images import ensure_images
            for rt in runtimes.values():
                ensure_images(rt.client)
        clients = {n: self.client_of(n) for n in self.names}
        if len(self.names) == 1 or self.own_credentials:
            self.sources = {n: PodSource(clients[n], f"spec.nodeName={n}") for n in self.names}
        else:  # hollow minions under one (admin) credential: one watch of every bound pod, shared
            shared = PodSource(self.client, "spec.nodeName!=")
            self.sources = dict.fromkeys(self.names, shared)
        self.pusher = StatusPusher(self.client, threads=4 if len(self.names) > 1 else 2,
                                   client_for=lambda pod: clients.get((pod.get("spec") or {}).get("nodeName"),
                                                                      self.client)).start()
        if s.port >= 0:
            from raftkube.minion.server import MinionServer
            checks = {}
            if s.tls is not None:  # certificates on the kubelet port: refuse the revoked ones too
                self.revocations = RevocationPoller(self.client).start()
                checks["revoked"] = self.revocations.revoked
            self.server = MinionServer(lambda: self.kubelets, port=s.port, metrics=self.metrics.registry,
                                       tls=s.tls, **checks).start()
        port = self.server.port if self.server is not None else 0
        service_host = s.service_host or (
            bridge_gateway(getattr(runtimes[self.names[0]], "client", None)) if s.runtime == "docker" else ""
        ) or s.address
        for i, name in enumerate(self.names):
            thread = "kubelet" if len(self.names) == 1 else f"kubelet-{name}"
            self.kubelets.append(Kubelet(name, clients[name], runtimes[name], self.sources[name], s.address, kset,
                                         pusher=self.pusher, thread_name=thread, metrics=self.metrics).start())
            advertised = {k: v for k, v in (("kubeletPort", port), ("kubeletTLS", bool(port and s.tls)),
                                            ("serviceHost", service_host)) if v}
            self.agents.append(NodeAgent(clients[name], name, s.address, host_capacity(), s.labels, s.heartbeat_s,
                                         extra_status=advertised).start())
        for source in self._distinct_sources():
            source.start()
        log.info("minion(s) %s up: runtime %s, address %s, port %s", ", ".join(self.names[:5])
                 + (" ..." if len(self.names) > 5 else ""), s.runtime, s.address, port or "-")
        return self

    def _distinct_sources(self) -> list[PodSource]:
        return list({id(src): src for src in self.sources.values()}.values())

    def stop(self) -> None:
        # in parallel: each may be inside a client call that is retrying a lost master
        stoppers = [threading.Thread(target=x.stop, name="minion-stop", daemon=True)
                    for x in [*self.agents, *self._distinct_sources(), *self.kubelets]]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(timeout=15)
        if self.pusher is not None:
            self.pusher.stop()
        if self.server is not None:
            self.server.stop()
        if self.revocations is not None:
            self.revocations.stop()
        for k in self.kubelets:
            k.runtime.close()
        log.info("minion(s) stopped")


def run_minion(client, settings: MinionSettings, stop: threading.Event, client_of=None, collectors=()) -> None:
    proc = MinionProcess(client, settings, client_of=client_of, collectors=collectors).start()
    try:
        stop.wait()
    finally:
        proc.stop()
