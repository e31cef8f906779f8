"""Label and field selectors: the 2014 syntax and semantics (V1BETA1.md 2.2, 2.3).

Field selectors are written in v1beta1's keys (``DesiredState.Host``) and parsed by the version package into
selectors over internal fields; the model's own parser knows only the internal fields (``spec.nodeName``).
"""

from __future__ import annotations

import pytest

from raftkube.apis.v1beta1 import parse_field_selector, selector_to_wire
from raftkube.model import selectors as internal
from raftkube.model.errors import BadRequest
from raftkube.model.selectors import format_labels, parse_label_selector, selector_from_map


def _pod(name="redis", node="", phase="Pending", ns="default", labels=None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node}, "status": {"phase": phase}}


# --- label selectors --------------------------------------------------------------------------------

@pytest.mark.parametrize("selector, labels, expected", [
    ("name=redis", {"name": "redis"}, True),
    ("name==redis", {"name": "redis"}, True),
    ("name=redis", {"name": "web"}, False),
    ("name=redis", {}, False),
    ("name!=redis", {"name": "redis"}, False),
    ("name!=redis", {"name": "web"}, True),
    ("env!=prod", {"name": "redis"}, True),          # a missing label counts as ""
    ("env=", {"name": "redis"}, True),
    ("env=", {"env": "prod"}, False),
    ("name=redis,env!=prod", {"name": "redis", "env": "dev"}, True),
    ("name=redis,env!=prod", {"name": "redis", "env": "prod"}, False),
    ("name=redis,,", {"name": "redis"}, True),       # empty terms are skipped
    ("a=b=c", {"a": "b=c"}, True),                   # the value is everything after the first '='
])
def test_label_selector_matches(selector, labels, expected):
    assert parse_label_selector(selector).matches(labels) is expected


def test_empty_selector_matches_everything():
    sel = parse_label_selector("")
    assert sel.empty
    assert sel.matches({}) and sel.matches({"name": "redis"}) and sel.matches(None)
    assert parse_label_selector(None).empty
    assert not parse_label_selector("a=b").empty


def test_no_whitespace_trimming():
    assert not parse_label_selector("name = redis").matches({"name": "redis"})
    assert parse_label_selector("name = redis").matches({"name ": " redis"})


@pytest.mark.parametrize("selector, term", [("name", "name"), ("name=redis,bad", "bad"), ("=redis", "=redis")])
def test_bad_term_error_message(selector, term):
    with pytest.raises(BadRequest) as exc:
        parse_label_selector(selector)
    assert str(exc.value) == f"invalid selector: '{selector}'; can't understand '{term}'"


def test_selector_string_is_sorted_and_canonical():
    assert str(parse_label_selector("z=1,a!=2,m==3")) == "a!=2,m=3,z=1"
    assert str(parse_label_selector("")) == ""


def test_selector_from_map_requires_every_pair():
    sel = selector_from_map({"name": "redis", "tier": "db"})
    assert sel.matches({"name": "redis", "tier": "db", "extra": "x"})
    assert not sel.matches({"name": "redis"})
    assert str(sel) == "name=redis,tier=db"
    assert selector_from_map({}).empty and selector_from_map(None).matches({"a": "b"})


def test_format_labels():
    assert format_labels({"tier": "db", "name": "redis"}) == "name=redis,tier=db"
    assert format_labels({}) == ""
    assert format_labels(None) == ""


# --- field selectors --------------------------------------------------------------------------------

def test_scheduler_unbound_selector_matches_unbound_pods_only():
    sel = parse_field_selector("Pod", "DesiredState.Host=")
    assert sel.matches(_pod(node=""))
    assert not sel.matches(_pod(node="minion-1"))
    assert sel.matches({"kind": "Pod", "metadata": {"name": "x"}})  # no spec at all = unbound
    assert sel.required_node() == ""


def test_scheduler_bound_selector_matches_bound_pods_only():
    sel = parse_field_selector("Pod", "DesiredState.Host!=")
    assert sel.matches(_pod(node="minion-1"))
    assert not sel.matches(_pod(node=""))
    assert sel.required_node() is None


@pytest.mark.parametrize("key", ["DesiredState.Host", "desiredState.host", "spec.host", "spec.nodeName"])
def test_pod_host_aliases(key):
    sel = parse_field_selector("Pod", f"{key}=minion-2")
    assert sel.matches(_pod(node="minion-2")) and not sel.matches(_pod(node="minion-1"))
    assert sel.required_node() == "minion-2"


@pytest.mark.parametrize("key", ["name", "ID", "id", "metadata.name"])
def test_pod_name_aliases(key):
    sel = parse_field_selector("Pod", f"{key}=redis")
    assert sel.matches(_pod("redis")) and not sel.matches(_pod("web"))


@pytest.mark.parametrize("key", ["DesiredState.Status", "desiredState.status", "CurrentState.Status",
                                 "currentState.status"])
@pytest.mark.parametrize("phase, wire", [("Pending", "Waiting"), ("Running", "Running"),
                                         ("Succeeded", "Terminated"), ("Failed", "Terminated")])
def test_pod_wire_status_fields(key, phase, wire):
    assert parse_field_selector("Pod", f"{key}={wire}").matches(_pod(phase=phase))
    if phase != wire:  # the internal name is not what these keys compare against
        assert not parse_field_selector("Pod", f"{key}={phase}").matches(_pod(phase=phase))


def test_pod_status_phase_uses_internal_phase():
    assert parse_field_selector("Pod", "status.phase=Succeeded").matches(_pod(phase="Succeeded"))
    assert not parse_field_selector("Pod", "status.phase=Terminated").matches(_pod(phase="Succeeded"))


def test_namespace_field_for_every_kind():
    for kind in ("Pod", "Service", "ReplicationController", "Endpoints", "Event"):
        sel = parse_field_selector(kind, "namespace=prod")
        assert sel.matches({"kind": kind, "metadata": {"name": "a", "namespace": "prod"}})
        assert not sel.matches({"kind": kind, "metadata": {"name": "a", "namespace": "default"}})
        # a missing namespace is the default one
        assert parse_field_selector(kind, "metadata.namespace=default").matches({"kind": kind, "metadata": {}})


def test_node_name_field():
    sel = parse_field_selector("Node", "name=minion-1")
    assert sel.matches({"kind": "Node", "metadata": {"name": "minion-1"}})
    assert not sel.matches({"kind": "Node", "metadata": {"name": "minion-2"}})
    assert sel.required_node() is None


def test_event_fields():
    ev = {"kind": "Event", "metadata": {"name": "redis.1"},
          "involvedObject": {"kind": "Pod", "name": "redis", "namespace": "default", "uid": "u1",
                             "resourceVersion": "7", "fieldPath": ""},
          "status": "Pending", "reason": "scheduled", "source": "scheduler"}
    ok = ("involvedObject.kind=Pod,involvedObject.name=redis,involvedObject.uid=u1,involvedObject.namespace=default,"
          "involvedObject.apiVersion=v1beta1,involvedObject.resourceVersion=7,involvedObject.fieldPath=,"
          "status=Pending,reason=scheduled,source=scheduler")
    assert parse_field_selector("Event", ok).matches(ev)
    assert not parse_field_selector("Event", "reason=failedScheduling").matches(ev)
    assert parse_field_selector("Event", "involvedObject.name!=web").matches(ev)


@pytest.mark.parametrize("kind, key", [("Pod", "spec.containers"), ("Service", "DesiredState.Host"),
                                       ("Event", "DesiredState.Host"), ("Node", "status"), ("Pod", "reason")])
def test_unknown_field_key(kind, key):
    with pytest.raises(BadRequest) as exc:
        parse_field_selector(kind, f"{key}=x")
    assert str(exc.value) == f"field label not supported: {key}"


def test_field_selector_syntax_errors_and_empty():
    with pytest.raises(BadRequest, match="can't understand 'name'"):
        parse_field_selector("Pod", "name")
    sel = parse_field_selector("Pod", "")
    assert sel.empty and sel.matches(_pod()) and sel.required_node() is None


# --- the internal fields ------------------------------------------------------------------------------

def test_internal_field_selectors_name_internal_fields_only():
    sel = internal.parse_field_selector("Pod", "spec.nodeName=")
    assert sel.matches(_pod(node="")) and not sel.matches(_pod(node="minion-1")) and sel.required_node() == ""
    sel = internal.parse_field_selector("Pod", "metadata.name=redis,status.phase!=Running")
    assert sel.matches(_pod("redis")) and not sel.matches(_pod("redis", phase="Running"))
    assert sel.required_node() is None
    for key in ("DesiredState.Host", "currentState.status", "name", "id"):
        with pytest.raises(BadRequest) as exc:
            internal.parse_field_selector("Pod", f"{key}=x")
        assert str(exc.value) == f"field label not supported: {key}"


def test_event_api_version_is_the_readers_unless_a_client_wrote_another():
    ev = {"kind": "Event", "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "redis"}}
    assert parse_field_selector("Event", "involvedObject.apiVersion=v1beta1").matches(ev)
    assert internal.parse_field_selector("Event", "involvedObject.apiVersion=").matches(ev)
    ev["involvedObject"]["apiVersion"] = ""
    assert parse_field_selector("Event", "involvedObject.apiVersion=").matches(ev)
    assert not parse_field_selector("Event", "involvedObject.apiVersion=v1beta1").matches(ev)


def test_http_client_sends_internal_fields_under_their_2014_names():
    assert selector_to_wire("spec.nodeName=minion-1") == "DesiredState.Host=minion-1"
    assert selector_to_wire("spec.nodeName!=") == "DesiredState.Host!="
    assert selector_to_wire("metadata.name==a,spec.nodeName=b") == "metadata.name==a,DesiredState.Host=b"
    unchanged = "status.phase=Running,involvedObject.name=x"
    assert selector_to_wire(unchanged) == unchanged
