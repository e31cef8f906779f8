"""The service proxy's Prometheus metrics, read from the proxier's per-service counters at scrape time.

The loop thread only adds to plain integers (``proxier.ServiceStats``): nothing on the relay path takes a
lock or touches prometheus-client. Served with the minion's metrics on its kubelet port (``/metrics``):

* ``raftkube_proxy_connections_total{namespace,service}``: TCP connections accepted;
* ``raftkube_proxy_open_connections{namespace,service}``: relayed now;
* ``raftkube_proxy_bytes_total{namespace,service,direction}``: ``in`` from clients, ``out`` back to them;
* ``raftkube_proxy_dial_failures_total{namespace,service}``: connects to an endpoint that failed or timed out
  (the proxy tries the next one);
* ``raftkube_proxy_rejected_connections_total{namespace,service}``: closed unrelayed (no endpoints, or none
  answered);
* ``raftkube_proxy_udp_datagrams_total{namespace,service}``.
A service's series go away when its listener does (counters restart if it comes back, as Prometheus expects).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from raftkube.proxy.proxier import Proxier

_COUNTERS = (("connections", "raftkube_proxy_connections", "TCP connections accepted, by service"),
             ("dial_failures", "raftkube_proxy_dial_failures", "Connects to a service endpoint that failed or "
              "timed out"),
             ("rejected", "raftkube_proxy_rejected_connections", "Connections closed without a relay: no "
              "endpoints, or none answered"),
             ("datagrams", "raftkube_proxy_udp_datagrams", "UDP datagrams from clients, by service"))


class ProxyCollector:
    def __init__(self, proxier: Proxier):
        self.proxier = proxier

    def collect(self):
        stats = sorted(dict(self.proxier.stats).items(), key=lambda kv: repr(kv[0]))  # a copy: the loop adds keys
        labels = ["namespace", "service"]
        for attr, name, doc in _COUNTERS:
            family = CounterMetricFamily(name, doc, labels=labels)
            for (ns, svc), st in stats:
                family.add_metric([ns, svc], getattr(st, attr))
            yield family
        opened = GaugeMetricFamily("raftkube_proxy_open_connections", "TCP connections relayed now", labels=labels)
        relayed = CounterMetricFamily("raftkube_proxy_bytes", "Bytes relayed: in from clients, out back to them",
                                      labels=[*labels, "direction"])
        for (ns, svc), st in stats:
            opened.add_metric([ns, svc], st.open)
            relayed.add_metric([ns, svc, "in"], st.bytes_in)
            relayed.add_metric([ns, svc, "out"], st.bytes_out)
        yield opened
        yield relayed
