"""The minion's Prometheus metrics, served on its kubelet port at ``/metrics`` (raftkube/minion/server.py).

* ``TimedRuntime`` wraps a ``ContainerRuntime``: ``raftkube_runtime_operation_duration_seconds{operation}``
  (list, ensure_image, start, stop, remove, exec: Docker calls, or the hollow runtime's),
  ``raftkube_runtime_operation_errors_total{operation}`` and ``raftkube_kubelet_container_starts_total``.
* ``raftkube_kubelet_probes_total{type,result}`` (liveness probes: exec, httpGet, tcpSocket; success,
  failure) and ``raftkube_kubelet_pod_start_duration_seconds`` (from the pod's ``creationTimestamp``, the
  master's clock, to the first Running status this kubelet sends: scheduling, image, container start and the
  status write; clamped at 0 when the minion's clock is behind), both counted by the kubelet.
* ``KubeletCollector`` reads the kubelets at scrape time: ``raftkube_kubelet_pods{phase}`` (the pods bound to
  this process's minions, by the phase the kubelet computes), ``raftkube_kubelet_containers{state}`` (running,
  exited) and ``raftkube_kubelet_container_restarts`` (restart counts summed over the current pods).
One ``CollectorRegistry`` per minion process; hollow minions of one process are summed.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

#: runtime call buckets (seconds): a hollow call takes microseconds, a Docker create+start ~0.1-1 s, a pull more
POD_START_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
RUNTIME_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
PROBE_TYPES = ("exec", "httpGet", "tcpSocket")
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_TIMED = {"list_containers": "list", "ensure_image": "ensure_image", "start": "start", "stop": "stop",
          "remove": "remove", "exec": "exec"}


class MinionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.duration = Histogram("raftkube_runtime_operation_duration_seconds", "Container runtime calls "
                                  "(Docker, or the hollow runtime) by operation", ["operation"],
                                  buckets=RUNTIME_BUCKETS, registry=self.registry)
        self.errors = Counter("raftkube_runtime_operation_errors", "Container runtime calls that raised, by "
                              "operation", ["operation"], registry=self.registry)
        self.starts = Counter("raftkube_kubelet_container_starts", "Containers started (pod infra containers "
                              "included)", registry=self.registry)
        self.probes = Counter("raftkube_kubelet_probes", "Liveness probes run, by type and result",
                              ["type", "result"], registry=self.registry)
        self.pod_start = Histogram("raftkube_kubelet_pod_start_duration_seconds", "From a pod's creation (master's "
                                   "clock) to the first Running status this kubelet sent for it",
                                   buckets=POD_START_BUCKETS, registry=self.registry)
        for op in _TIMED.values():  # every series exists from the start (rate() needs the zero)
            self.duration.labels(op)
            self.errors.labels(op)
        for kind in PROBE_TYPES:
            for result in ("success", "failure"):
                self.probes.labels(kind, result)

    def probed(self, probe: dict, ok: bool) -> None:
        kind = next((k for k in PROBE_TYPES if probe.get(k)), "none")
        self.probes.labels(kind, "success" if ok else "failure").inc()

    def pod_started(self, created_unix: float, now_unix: float) -> None:
        if created_unix > 0:
            self.pod_start.observe(max(0.0, now_unix - created_unix))


class TimedRuntime:
    """A ``ContainerRuntime`` whose calls are timed into ``MinionMetrics``; anything else passes through."""

    def __init__(self, inner, metrics: MinionMetrics):
        self._inner = inner
        self._metrics = metrics
        for method, op in _TIMED.items():
            setattr(self, method, self._timed(getattr(inner, method), op))

    def _timed(self, fn: Callable, op: str) -> Callable:
        hist = self._metrics.duration.labels(op)
        errors = self._metrics.errors.labels(op)
        starts = self._metrics.starts if op == "start" else None

        def call(*args, **kw):
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kw)
            except BaseException:
                errors.inc()
                raise
            finally:
                hist.observe(time.perf_counter() - t0)
            if starts is not None:
                starts.inc()
            return out
        return call

    def __getattr__(self, name):
        return getattr(self._inner, name)


class KubeletCollector:
    def __init__(self, kubelets: Callable[[], list]):
        self.kubelets = kubelets

    def collect(self):
        phases: Tally = Tally()
        states: Tally = Tally()
        restarts = 0
        for k in self.kubelets():
            try:
                view = k.pods_view()
            except Exception:  # noqa: BLE001 - a kubelet not started yet
                continue
            for p in view:
                phases[(p.get("status") or {}).get("phase") or "Unknown"] += 1
                for c in p.get("containers") or ():
                    states["running" if c.get("running") else "exited"] += 1
                    restarts += int(c.get("restartCount") or 0)
        pods = GaugeMetricFamily("raftkube_kubelet_pods", "Pods bound to this process's minions, by phase",
                                 labels=["phase"])
        for phase in sorted(set(PHASES) | set(phases)):
            pods.add_metric([phase], phases.get(phase, 0))
        yield pods
        containers = GaugeMetricFamily("raftkube_kubelet_containers", "Containers of those pods, by state",
                                       labels=["state"])
        for state in ("running", "exited"):
            containers.add_metric([state], states.get(state, 0))
        yield containers
        yield GaugeMetricFamily("raftkube_kubelet_container_restarts", "Restart counts summed over the "
                                "containers of the current pods", value=restarts)
