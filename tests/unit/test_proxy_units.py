"""Pure parts of services: the round-robin balancer, listener bookkeeping, service environment variables,
endpoint subsets as (ip, port) pairs."""

from __future__ import annotations

from raftkube.model.endpoints import endpoint_pairs, subsets_from_pairs
from raftkube.model.services import env_name, service_env, service_host
from raftkube.proxy.balancer import RoundRobin, normalize
from raftkube.proxy.listeners import Listener, desired_listeners, plan_listeners, service_listener

K = ("default", "web")


def svc(name, port, protocol="TCP", ns="default"):
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"name": "", "port": port, "targetPort": 0, "protocol": protocol}],
                     "selector": {"name": name}}}


# ---- balancer --------------------------------------------------------------------------------------
def test_round_robin_in_turn_and_none_without_endpoints():
    rr = RoundRobin()
    assert rr.next(K) is None
    rr.update(K, [{"ip": "10.0.0.2", "port": 80}, {"ip": "10.0.0.1", "port": 80}, {"ip": "10.0.0.3", "port": 80}])
    got = [rr.next(K) for _ in range(6)]
    assert got == [("10.0.0.1", 80), ("10.0.0.2", 80), ("10.0.0.3", 80)] * 2
    rr.update(K, [])
    assert rr.next(K) is None


def test_round_robin_resets_on_change_only():
    rr = RoundRobin()
    eps = [{"ip": "a", "port": 1}, {"ip": "b", "port": 1}, {"ip": "c", "port": 1}]
    assert rr.update(K, eps)
    assert rr.next(K) == ("a", 1)
    assert not rr.update(K, list(reversed(eps)))  # same set: the rotation goes on
    assert rr.next(K) == ("b", 1)
    assert rr.update(K, eps[:2])  # changed: back to the start
    assert rr.next(K) == ("a", 1)


def test_next_after_a_failed_dial_is_the_following_endpoint_and_services_are_independent():
    rr = RoundRobin()
    rr.update(K, [("a", 1), ("b", 1)])
    rr.update(("default", "db"), [("z", 5)])
    first = rr.next(K)
    assert rr.next(("default", "db")) == ("z", 5)
    assert rr.next(K) != first  # the retry goes elsewhere
    rr.remove(K)
    assert rr.next(K) is None and rr.keys() == [("default", "db")]


def test_normalize_drops_bad_ports_and_duplicates():
    assert normalize([{"ip": "a", "port": 0}, {"ip": "a", "port": 80}, {"ip": "a", "port": 80},
                      {"ip": "", "port": 80}, {"ip": "b", "port": 70000}, {"ip": "c", "port": "x"}]) == [("a", 80)]


# ---- listeners -------------------------------------------------------------------------------------
def test_service_listener():
    assert service_listener(svc("a", 80)) == Listener(80, "TCP")
    assert service_listener(svc("a", 53, "udp")) == Listener(53, "UDP")
    assert service_listener(svc("a", 0)) is None
    assert service_listener({"spec": {}}) is None
    assert service_listener({"spec": {"ports": []}}) is None
    two = svc("a", 80)
    two["spec"]["ports"].append({"name": "b", "port": 81, "protocol": "UDP"})
    assert service_listener(two) == Listener(80, "TCP")  # the first port


def test_open_on_create_nothing_when_unchanged():
    want = desired_listeners([svc("web", 8080), svc("dns", 53, "UDP")])
    plan = plan_listeners(want, {})
    assert sorted(plan.open) == [(("default", "dns"), Listener(53, "UDP")), (("default", "web"), Listener(8080))]
    assert not plan.close and not plan.moves
    assert plan_listeners(want, want).empty()


def test_move_on_port_change_and_close_on_delete():
    current = {K: Listener(8080), ("default", "db"): Listener(5432)}
    plan = plan_listeners({K: Listener(9090)}, current)
    assert plan.close == [(("default", "db"), Listener(5432)), (K, Listener(8080))]
    assert plan.open == [(K, Listener(9090))]
    assert plan.moves == [(K, Listener(8080), Listener(9090))]
    # protocol change is a move too
    assert plan_listeners({K: Listener(8080, "UDP")}, {K: Listener(8080)}).moves == [
        (K, Listener(8080), Listener(8080, "UDP"))]


def test_swap_ports_in_one_sync():
    a, b = ("default", "a"), ("default", "b")
    plan = plan_listeners({a: Listener(2), b: Listener(1)}, {a: Listener(1), b: Listener(2)})
    assert sorted(plan.close) == [(a, Listener(1)), (b, Listener(2))]
    assert sorted(plan.open) == [(a, Listener(2)), (b, Listener(1))]
    assert not plan.conflicts


def test_same_port_conflict_holder_keeps_it_else_first_by_name():
    a, b = ("default", "a"), ("other", "b")
    plan = plan_listeners({a: Listener(80), b: Listener(80)}, {b: Listener(80)})
    assert plan.empty() and plan.conflicts == [(a, Listener(80), b)]
    plan = plan_listeners({a: Listener(80), b: Listener(80)}, {})
    assert plan.open == [(a, Listener(80))] and plan.conflicts == [(b, Listener(80), a)]
    # tcp and udp on one port number do not conflict
    assert not plan_listeners({a: Listener(53), b: Listener(53, "UDP")}, {}).conflicts
    # once the holder goes, the other one gets the port
    plan = plan_listeners({a: Listener(80)}, {b: Listener(80)})
    assert plan.close == [(b, Listener(80))] and plan.open == [(a, Listener(80))]


def test_failed_open_is_retried_by_the_next_plan():
    want = {K: Listener(80)}
    assert plan_listeners(want, {}).open == [(K, Listener(80))]
    assert plan_listeners(want, {}).open == [(K, Listener(80))]  # still not open: try again


# ---- service environment variables ------------------------------------------------------------------
def test_service_env_names_and_values():
    env = service_env([svc("redis-master", 6379), svc("dns", 53, "UDP")], "172.17.0.1")
    got = {e["name"]: e["value"] for e in env}
    assert [e["name"] for e in env][:7] == ["DNS_SERVICE_HOST", "DNS_SERVICE_PORT", "DNS_PORT", "DNS_PORT_53_UDP",
                                            "DNS_PORT_53_UDP_PROTO", "DNS_PORT_53_UDP_PORT", "DNS_PORT_53_UDP_ADDR"]
    assert got["REDIS_MASTER_SERVICE_HOST"] == "172.17.0.1"
    assert got["REDIS_MASTER_SERVICE_PORT"] == "6379"
    assert got["REDIS_MASTER_PORT"] == "tcp://172.17.0.1:6379"
    assert got["REDIS_MASTER_PORT_6379_TCP"] == "tcp://172.17.0.1:6379"
    assert got["REDIS_MASTER_PORT_6379_TCP_PROTO"] == "tcp"
    assert got["REDIS_MASTER_PORT_6379_TCP_PORT"] == "6379"
    assert got["REDIS_MASTER_PORT_6379_TCP_ADDR"] == "172.17.0.1"
    assert got["DNS_PORT"] == "udp://172.17.0.1:53"
    assert env[-1] == {"name": "SERVICE_HOST", "value": "172.17.0.1"}
    assert len(env) == 15


def test_service_env_of_a_service_with_several_ports():
    web = svc("web", 80)
    web["spec"]["ports"] = [{"name": "http", "port": 80, "protocol": "TCP"},
                            {"name": "dns-udp", "port": 53, "protocol": "UDP"}]
    assert [(e["name"], e["value"]) for e in service_env([web], "h")] == [
        ("WEB_SERVICE_HOST", "h"), ("WEB_SERVICE_PORT", "80"), ("WEB_SERVICE_PORT_HTTP", "80"),
        ("WEB_SERVICE_PORT_DNS_UDP", "53"), ("WEB_PORT", "tcp://h:80"),
        ("WEB_PORT_80_TCP", "tcp://h:80"), ("WEB_PORT_80_TCP_PROTO", "tcp"), ("WEB_PORT_80_TCP_PORT", "80"),
        ("WEB_PORT_80_TCP_ADDR", "h"),
        ("WEB_PORT_53_UDP", "udp://h:53"), ("WEB_PORT_53_UDP_PROTO", "udp"), ("WEB_PORT_53_UDP_PORT", "53"),
        ("WEB_PORT_53_UDP_ADDR", "h"), ("SERVICE_HOST", "h")]
    web["spec"]["ports"] = [{"name": "", "port": 0}]
    assert service_env([web], "h") == []  # no usable port


def test_service_env_empty_without_services_and_host_choice():
    assert service_env([], "h") == []
    assert env_name("a-b-c") == "A_B_C"
    assert service_host({"status": {"serviceHost": "172.17.0.1", "hostIP": "127.0.0.1"}}, "m1") == "172.17.0.1"
    assert service_host({"status": {"hostIP": "10.0.0.5"}}, "m1") == "10.0.0.5"
    assert service_host(None, "m1") == "m1"


# ---- endpoint subsets -----------------------------------------------------------------------------
def test_subsets_hold_pairs_in_order_and_name_their_ports():
    pairs = [("a", 80), ("b", 80), ("a", 81), ("c", 80), ("c", 80)]
    subsets = subsets_from_pairs(pairs)
    assert subsets == [{"addresses": [{"ip": "a"}, {"ip": "b"}], "ports": [{"port": 80}]},
                       {"addresses": [{"ip": "a"}], "ports": [{"port": 81}]},
                       {"addresses": [{"ip": "c"}, {"ip": "c"}], "ports": [{"port": 80}]}]
    assert endpoint_pairs({"subsets": subsets}) == pairs
    assert subsets_from_pairs([("a", 1)], "http") == [{"addresses": [{"ip": "a"}],
                                                       "ports": [{"port": 1, "name": "http"}]}]
    assert subsets_from_pairs([]) == [] and endpoint_pairs(None) == [] and endpoint_pairs({}) == []


def test_endpoint_pairs_of_one_port_name():
    ep = {"subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}],
                       "ports": [{"port": 80, "name": "http"}, {"port": 53, "name": "dns"}]},
                      {"addresses": [{"ip": "c"}], "ports": [{"port": 8080, "name": "http"}]}]}
    assert endpoint_pairs(ep) == [("a", 80), ("a", 53), ("b", 80), ("b", 53), ("c", 8080)]
    assert endpoint_pairs(ep, "http") == [("a", 80), ("b", 80), ("c", 8080)]
    assert endpoint_pairs(ep, "") == []


# ---- bind-time injection (Registry.bind over a LocalStore) -------------------------------------------
def test_bind_injects_the_variables_of_the_namespace_services_existing_at_bind_time():
    from raftkube.registry import Registry
    from raftkube.state.local import LocalStore

    reg = Registry(LocalStore())

    def pod(name, ns="default"):
        return {"kind": "Pod", "metadata": {"name": name, "namespace": ns},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}

    reg.create({"kind": "Node", "metadata": {"name": "m1"}, "spec": {},
                "status": {"hostIP": "127.0.0.1", "serviceHost": "172.17.0.1"}})
    reg.create(pod("early"))
    reg.bind("default", "early", "m1")
    assert not reg.get("Pod", "default", "early")["spec"].get("serviceEnv")  # no services yet
    for s in (svc("web", 8080), svc("other-ns", 9090, ns="team")):
        reg.create(s)
    reg.create(pod("late"))
    reg.bind("default", "late", "m1")
    env = {e["name"]: e["value"] for e in reg.get("Pod", "default", "late")["spec"]["serviceEnv"]}
    assert env["WEB_SERVICE_HOST"] == "172.17.0.1" and env["WEB_PORT"] == "tcp://172.17.0.1:8080"
    assert not any(k.startswith("OTHER_NS") for k in env)  # other namespaces are not visible
    assert not reg.get("Pod", "default", "early")["spec"].get("serviceEnv")  # bound before: unchanged
    reg.create(pod("given"))
    reg.bind("default", "given", "m1", service_env=[{"name": "X", "value": "1"}])  # explicit list wins
    assert reg.get("Pod", "default", "given")["spec"]["serviceEnv"] == [{"name": "X", "value": "1"}]
