"""``ControllerCollector``: the controllers' ``ProcessStats`` as Prometheus metrics (collected at scrape time).

* ``raftkube_controllers_active``: 1 while this master runs the controllers (it leads).
* ``raftkube_controller_sync_duration_seconds{controller}``: reconcile passes (its count is the syncs).
* ``raftkube_controller_sync_errors_total{controller}``, ``raftkube_controller_queue_depth{controller}``.
* ``raftkube_<controller>_<what>_total{result}`` for the named counters, e.g. ``raftkube_scheduler_attempts_total
  {result="scheduled"|"unschedulable"|"error"}``, ``raftkube_replication_pod_creates_total{result}``,
  ``raftkube_replication_pod_deletes_total{result}``; ``raftkube_<controller>_<what>_seconds`` histograms,
  e.g. ``raftkube_scheduler_scheduling_duration_seconds`` (queued -> bound).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from raftkube.controllers.stats import Histogram, ProcessStats


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    out, total = [], 0
    for bound, n in zip([*(repr(float(b)) for b in h.buckets), "+Inf"], h.counts):
        total += n
        out.append((bound, total))
    return out


class ControllerCollector:
    def __init__(self, stats: ProcessStats):
        self.stats = stats

    def collect(self):
        yield GaugeMetricFamily("raftkube_controllers_active", "1 while this master runs the controllers",
                                value=1.0 if self.stats.active() else 0.0)
        syncs = HistogramMetricFamily("raftkube_controller_sync_duration_seconds", "Reconcile passes of a "
                                      "controller and their duration", labels=["controller"])
        errors = CounterMetricFamily("raftkube_controller_sync_errors", "Reconcile passes that failed",
                                     labels=["controller"])
        depth = GaugeMetricFamily("raftkube_controller_queue_depth", "Work a controller has waiting (scheduler: "
                                  "unbound pods; replication: pod creates/deletes not yet seen)", labels=["controller"])
        named: dict[str, CounterMetricFamily] = {}
        hists: dict[str, HistogramMetricFamily] = {}
        for name, st in self.stats.items():
            with st.lock:
                syncs.add_metric([name], _buckets(st.syncs), st.syncs.sum)
                errors.add_metric([name], st.sync_errors)
                counters = dict(st.counters)
                histograms = {k: (_buckets(h), h.sum) for k, h in st.histograms.items()}
            if st.queue_depth is not None:
                try:
                    depth.add_metric([name], float(st.queue_depth()))
                except Exception:  # noqa: BLE001 - a stopping controller: leave its depth out
                    pass
            for (what, result), n in sorted(counters.items()):
                family = f"raftkube_{name.replace('-', '_')}_{what}"
                if family not in named:
                    named[family] = CounterMetricFamily(family, f"{what.replace('_', ' ')} of the {name} "
                                                        "controller, by result", labels=["result"])
                named[family].add_metric([result], n)
            for what, (buckets, total) in sorted(histograms.items()):
                family = f"raftkube_{name.replace('-', '_')}_{what}_seconds"
                h = hists[family] = HistogramMetricFamily(family, f"{what.replace('_', ' ')} of the {name} "
                                                          "controller (seconds)")
                h.add_metric([], buckets, total)
        yield syncs
        yield errors
        yield depth
        yield from named.values()
        yield from hists.values()
