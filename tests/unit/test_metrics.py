"""/metrics of the in-process API: parsed with prometheus_client's parser, values move with what was done."""

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.journal import SyncStats
from raftkube.state.local import LocalStore
from raftkube.state.metrics import StoreCollector
from raftkube.testing import pod_body

PODS = "/api/v1beta1/pods"


@pytest.fixture
def api():
    store = LocalStore()
    return testing.TestClient(create_app(Registry(store), store, ApiConfig()))


def scrape(api) -> dict:
    """{(sample name, frozenset(labels)): value} of one /metrics scrape."""
    r = api.simulate_get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_verb_resource_version_and_code(api):
    before = scrape(api)
    for i in range(3):
        assert api.simulate_post(PODS, json=pod_body(f"p{i}")).status_code == 200
    assert api.simulate_post(PODS, json=pod_body("p0")).status_code == 409
    assert api.simulate_get(PODS).status_code == 200
    assert api.simulate_get(PODS + "/p1").status_code == 200
    assert api.simulate_get("/api/v1/namespaces/default/pods").status_code == 200
    assert api.simulate_get("/api/v1beta1/nonsense").status_code == 404
    after = scrape(api)
    delta = lambda name, **kw: value(after, name, **kw) - value(before, name, **kw)  # noqa: E731
    total = "raftkube_api_requests_total"
    assert delta(total, verb="POST", resource="pods", version="v1beta1", code="200") == 3
    assert delta(total, verb="POST", resource="pods", version="v1beta1", code="409") == 1
    assert delta(total, verb="LIST", resource="pods", version="v1beta1", code="200") == 1
    assert delta(total, verb="GET", resource="pods", version="v1beta1", code="200") == 1
    assert delta(total, verb="LIST", resource="pods", version="v1", code="200") == 1
    # an unknown resource name does not become a label value
    assert delta(total, verb="LIST", resource="other", version="v1beta1", code="404") == 1
    assert not any(dict(k[1]).get("resource") == "nonsense" for k in after)
    # the latency histogram counted the same requests, and its +Inf bucket equals its count
    h = "raftkube_api_request_duration_seconds"
    assert delta(h + "_count", verb="POST", resource="pods", version="v1beta1") == 4
    assert value(after, h + "_bucket", verb="POST", resource="pods", version="v1beta1", le="+Inf") == \
        value(after, h + "_count", verb="POST", resource="pods", version="v1beta1")
    assert value(after, "raftkube_api_requests_in_flight") == 1  # the scrape itself
    # the store's figures follow the writes
    assert value(after, "raftkube_store_objects", kind="Pod") == 3
    assert value(after, "raftkube_store_object_bytes", kind="Pod") > 3 * 100
    assert value(after, "raftkube_store_bytes") == value(after, "raftkube_store_object_bytes", kind="Pod")
    assert value(after, "raftkube_store_revision") - value(before, "raftkube_store_revision") == 3
    assert value(after, "raftkube_raft_role", role="leader") == 1


def test_open_watches_are_a_gauge(api):
    # the in-process TestClient reads a stream to its end: drive the middleware's stream wrapper directly
    app = api.app
    from raftkube.api.metrics import ApiMetrics
    mw = next(m for m in app._unprepared_middleware if isinstance(m, ApiMetrics))
    stream = mw._counted(iter([b"a", b"b"]))
    assert next(stream) == b"a"
    assert value(scrape(api), "raftkube_api_watches") == 1
    assert list(stream) == [b"b"]
    assert value(scrape(api), "raftkube_api_watches") == 0


def test_metrics_off_serves_no_metrics():
    store = LocalStore()
    api = testing.TestClient(create_app(Registry(store), store, ApiConfig(metrics=False)))
    assert api.simulate_get("/metrics").status_code == 404
    assert api.simulate_get(PODS).status_code == 200


def test_two_apps_in_one_process_have_their_own_registries():
    a, b = (testing.TestClient(create_app(Registry(s), s, ApiConfig())) for s in (LocalStore(), LocalStore()))
    a.simulate_post(PODS, json=pod_body("x"))
    key = dict(verb="POST", resource="pods", version="v1beta1", code="200")
    assert value(scrape(a), "raftkube_api_requests_total", **key) == 1
    assert value(scrape(b), "raftkube_api_requests_total", **key) == 0


def test_journal_sync_histogram_is_cumulative():
    stats = SyncStats()
    for s in (0.00005, 0.0003, 0.0003, 2.0):
        stats.record(s, entries=2)

    class Store(LocalStore):
        journal_stats = stats

    samples = {}
    for family in StoreCollector(Store()).collect():
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    h = "raftkube_journal_sync_duration_seconds"
    assert value(samples, h + "_bucket", le="0.0001") == 1
    assert value(samples, h + "_bucket", le="0.0005") == 3
    assert value(samples, h + "_bucket", le="1.0") == 3
    assert value(samples, h + "_bucket", le="+Inf") == 4
    assert value(samples, h + "_count") == 4
    assert value(samples, "raftkube_journal_synced_entries_total") == 8


def test_dashboard_files_are_served(api):
    r = api.simulate_get("/ui/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "raftkube" in r.text
    assert api.simulate_get("/ui/nothing.js").status_code == 404
