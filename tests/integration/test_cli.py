"""The CLI as a subprocess (`kubecfg`, `raftkube`, `python -m raftkube.cli`) against three real masters.

One cluster serves the whole module; each test uses its own object names. No controllers or minions
exist yet, so where a command waits on the replication controller a small fake one (through the API,
like the real one) stands in, and `logs` talks to a fake kubelet.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml

from raftkube.testing import free_ports, pod_body, poll_until, rc_body, running_cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "/api/v1beta1"
BIN = Path(sys.executable).parent

POD_HEADER = ["ID                  Image(s)            Host                Labels              Status",
              "----------          ----------          ----------          ----------          ----------"]
RC_HEADER = ["ID                  Image(s)            Selector            Replicas",
             "----------          ----------          ----------          ----------"]
STATUS_TABLE = "Status\n----------\nSuccess\n\n"


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("cli")) as c:
        yield c


def run(kc, *args, cwd=None, env=None, script=None, stdin=None, timeout=60):
    """Run the CLI with $KUBERNETES_MASTER pointing at the cluster (unless ``env`` says otherwise)."""
    full_env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_MASTER"}
    full_env["KUBERNETES_MASTER"] = ",".join(kc.urls)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    cmd = [str(BIN / script)] if script else [sys.executable, "-m", "raftkube.cli"]
    proc = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, cwd=cwd or EXAMPLES,
                          env=full_env, input=stdin, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ok(proc) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def fails(proc, code: int = 1) -> str:
    """The single stderr line of a failed command (``Error: ...``)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stderr


def api(kc, method, path, body=None, url=None):
    return requests.request(method, (url or kc.urls[1]) + API + path, json=body, timeout=10)


def write_json(tmp_path, name, body) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(body))
    return p


# ---- the article, verbatim --------------------------------------------------------------------------

def test_article_walkthrough_verbatim_as_kubecfg(kc):
    out = ok(run(kc, "-c", "redis.json", "create", "/pods", script="kubecfg"))
    assert out == "\n".join(POD_HEADER) + "\n" \
        "redis               dockerfile/redis    <unassigned>        name=redis          Waiting\n\n"
    lines = ok(run(kc, "list", "/pods", script="kubecfg")).split("\n")
    assert lines[:2] == POD_HEADER
    assert "redis               dockerfile/redis    <unassigned>        name=redis          Waiting" in lines
    out = ok(run(kc, "-c", "redisController.json", "create", "/replicationControllers", script="kubecfg"))
    assert out == "\n".join(RC_HEADER) + "\nredisController     dockerfile/redis    name=redis          1\n\n"
    lines = ok(run(kc, "list", "/replicationControllers", script="kubecfg")).split("\n")
    assert lines[:2] == RC_HEADER
    assert "redisController     dockerfile/redis    name=redis          1" in lines
    # the same program under its other name, flags after the command
    lines = ok(run(kc, "list", "pods", "-l", "name=redis", script="raftkube")).split("\n")
    assert lines[:2] == POD_HEADER and lines[2].startswith("redis ") and lines[3:] == ["", ""]
    assert api(kc, "GET", "/pods/redis").json()["labels"] == {"name": "redis"}


def test_selectors_and_output_formats(kc, tmp_path):
    for name, tier in (("sel-a", "web"), ("sel-b", "db"), ("sel-c", None)):
        labels = {"app": "sel", **({"tier": tier} if tier else {})}
        assert api(kc, "POST", "/pods", pod_body(name, labels=labels)).status_code == 200

    def ids(*args):
        rows = ok(run(kc, "list", "pods", *args)).split("\n")[2:]
        return sorted(r.split()[0] for r in rows if r)

    assert ids("-l", "app=sel") == ["sel-a", "sel-b", "sel-c"]
    assert ids("-l", "app=sel,tier!=db") == ["sel-a", "sel-c"]  # a missing label matches !=
    assert ids("-l", "app=sel,tier=web") == ["sel-a"]
    row = next(r for r in ok(run(kc, "list", "pods", "-l", "app=sel,tier=web")).split("\n") if r.startswith("sel-a"))
    assert row == "sel-a               busybox             <unassigned>        app=sel,tier=web    Waiting"

    # -json before the command (Go style) and after it; the raw v1beta1 list
    for args in (["-json", "list", "pods", "-l", "app=sel"], ["list", "pods", "-l", "app=sel", "-json"]):
        doc = json.loads(ok(run(kc, *args)))
        assert doc["kind"] == "PodList" and doc["apiVersion"] == "v1beta1"
        assert sorted(i["id"] for i in doc["items"]) == ["sel-a", "sel-b", "sel-c"]
    got = json.loads(ok(run(kc, "get", "pods/sel-a", "-json")))
    assert got == api(kc, "GET", "/pods/sel-a").json()
    doc = yaml.safe_load(ok(run(kc, "-yaml", "get", "/pods/sel-b")))
    assert doc["kind"] == "Pod" and doc["id"] == "sel-b" and doc["labels"] == {"app": "sel", "tier": "db"}
    assert fails(run(kc, "get", "pods/sel-a", "-json", "-yaml"), 2).strip().endswith("choose one of -json and -yaml")
    # get as a one-row table (RES/ID is tested elsewhere; here RES ID)
    assert ok(run(kc, "get", "pods", "sel-c")).split("\n")[2:] == \
        ["sel-c               busybox             <unassigned>        app=sel             Waiting", "", ""]


def test_server_selection_and_failover_past_a_dead_first_url(kc, tmp_path):
    assert api(kc, "POST", "/pods", pod_body("srv-1")).status_code == 200
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    # -h wins over $KUBERNETES_MASTER; the first URL is dead, the answer comes from the next one
    proc = run(kc, "-h", f"{dead},{kc.urls[2]}", "get", "pods/srv-1", env={"KUBERNETES_MASTER": dead})
    assert ok(proc).split("\n")[2].startswith("srv-1 ")
    assert proc.stderr == ""  # the user sees one answer
    body = write_json(tmp_path, "p.json", pod_body("srv-2"))
    ok(run(kc, "-c", body, "create", "pods", "-h", f"{dead},{kc.urls[0]}"))
    assert api(kc, "GET", "/pods/srv-2").status_code == 200
    # no -h, no $KUBERNETES_MASTER: the masters of ./cluster.toml
    proc = run(kc, "get", "pods/srv-1", cwd=kc.workdir, env={"KUBERNETES_MASTER": None})
    assert ok(proc).split("\n")[2].startswith("srv-1 ")
    # nothing reachable: one line, exit 1
    err = fails(run(kc, "list", "pods", env={"KUBERNETES_MASTER": f"{dead},{dead}"}))
    assert err.startswith("Error: no master reachable") and err.count("\n") == 1


def test_errors_are_one_line_with_a_nonzero_exit(kc, tmp_path):
    assert api(kc, "POST", "/pods", pod_body("dup")).status_code == 200
    dup = write_json(tmp_path, "dup.json", pod_body("dup"))
    assert fails(run(kc, "-c", dup, "create", "/pods")) == 'Error: pod "dup" already exists\n'
    assert fails(run(kc, "get", "pods/nope")) == 'Error: pod "nope" not found\n'
    assert fails(run(kc, "delete", "services/nope")) == 'Error: service "nope" not found\n'

    bad = pod_body("bad")
    bad["desiredState"]["manifest"]["containers"][0].pop("image")
    bad["desiredState"]["manifest"]["containers"][0]["name"] = "Not_A_Label"
    err = fails(run(kc, "-c", write_json(tmp_path, "bad.json", bad), "create", "pods"))
    assert err.startswith('Error: pod "bad" is invalid: ') and err.count("\n") == 1
    assert "desiredState.manifest.containers[0].name: invalid value 'Not_A_Label'" in err
    assert "desiredState.manifest.containers[0].image: required value" in err
    del bad["desiredState"]["manifest"]["version"]
    assert fails(run(kc, "-c", write_json(tmp_path, "bad.json", bad), "create", "pods")) == \
        'Error: pod "bad" is invalid: desiredState.manifest.version: required value\n'
    assert api(kc, "GET", "/pods/bad").status_code == 404

    typed = pod_body("typed")
    typed["desiredState"]["manifest"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    err = fails(run(kc, "-c", write_json(tmp_path, "typed.json", typed), "create", "pods"))
    assert "desiredState.manifest.containers[0].ports[0].containerPort: invalid value 'eighty'" in err

    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x",,}')
    assert fails(run(kc, "-c", broken, "create", "pods")).startswith(f"Error: {broken}: not valid JSON: ")
    assert fails(run(kc, "-c", "missing.json", "create", "pods")) == \
        "Error: cannot read missing.json: No such file or directory\n"
    assert "Need config file (-c)" in fails(run(kc, "create", "pods"), 2)
    assert fails(run(kc, "-c", "redis.json", "create", "/widgets")) == \
        'Error: unknown resource "widgets" (known: pods, replicationControllers, services, endpoints, minions, events)\n'
    assert fails(run(kc, "-c", "redisController.json", "create", "pods")) == \
        "Error: data of kind 'ReplicationController', obj of type 'Pod'\n"
    assert fails(run(kc, "list", "pods", "-l", "name")) == "Error: invalid selector: 'name'; can't understand 'name'\n"


def test_create_from_stdin_and_yaml_then_update_injects_the_resource_version(kc, tmp_path):
    body = pod_body("up-1")
    ok(run(kc, "-c", "-", "create", "pods", stdin=yaml.safe_dump(body)))
    before = api(kc, "GET", "/pods/up-1").json()
    body["labels"] = {"name": "up-1", "version": "2"}  # no resourceVersion in the file
    out = ok(run(kc, "-c", write_json(tmp_path, "up.json", body), "update", "pods/up-1"))
    assert out.split("\n")[2].split() == ["up-1", "busybox", "<unassigned>", "name=up-1,version=2", "Waiting"]
    after = api(kc, "GET", "/pods/up-1").json()
    assert after["labels"] == {"name": "up-1", "version": "2"}
    assert after["resourceVersion"] > before["resourceVersion"] and after["uid"] == before["uid"]
    err = fails(run(kc, "-c", write_json(tmp_path, "other.json", pod_body("other")), "update", "pods/up-1"))
    assert err == "Error: the id in " + str(tmp_path / "other.json") + " ('other') is not 'up-1'\n"
    assert fails(run(kc, "-c", write_json(tmp_path, "gone.json", pod_body("gone")), "update", "pods", "gone")) == \
        'Error: pod "gone" not found\n'


def test_delete_prints_the_status_table(kc):
    assert api(kc, "POST", "/pods", pod_body("del-1")).status_code == 200
    assert ok(run(kc, "delete", "pods/del-1")) == STATUS_TABLE
    assert api(kc, "GET", "/pods/del-1").status_code == 404
    assert api(kc, "POST", "/pods", pod_body("del-2")).status_code == 200
    doc = json.loads(ok(run(kc, "-json", "delete", "/pods/del-2")))
    assert (doc["kind"], doc["status"]) == ("Status", "Success")
    assert fails(run(kc, "delete", "pods/del-1")) == 'Error: pod "del-1" not found\n'


def test_delete_with_preconditions_deletes_only_that_object(kc):
    first = api(kc, "POST", "/pods", pod_body("del-pre")).json()
    assert api(kc, "DELETE", "/pods/del-pre").status_code == 200
    again = api(kc, "POST", "/pods", pod_body("del-pre")).json()  # the same name, another object
    assert fails(run(kc, "delete", "pods/del-pre", "-uid", first["uid"])) == (
        f'Error: pod "del-pre" cannot be deleted: Precondition failed: UID in precondition: {first["uid"]}, '
        f'UID in object meta: {again["uid"]}\n')
    assert "ResourceVersion in precondition: 1," in fails(run(kc, "delete", "pods/del-pre", "--resource-version", 1))
    assert api(kc, "GET", "/pods/del-pre").json()["uid"] == again["uid"]
    assert ok(run(kc, "delete", "pods/del-pre", "--uid", again["uid"], "--resource-version",
                  again["resourceVersion"])) == STATUS_TABLE
    assert api(kc, "GET", "/pods/del-pre").status_code == 404


def test_resize_stop_rm(kc):
    assert api(kc, "POST", "/replicationControllers", rc_body("rs-1", replicas=1)).status_code == 200
    doc = yaml.safe_load(ok(run(kc, "resize", "rs-1", "3")))  # kubecfg printed the controller as YAML
    assert doc["kind"] == "ReplicationController" and doc["desiredState"]["replicas"] == 3
    assert api(kc, "GET", "/replicationControllers/rs-1").json()["desiredState"]["replicas"] == 3
    assert fails(run(kc, "rm", "rs-1")) == "Error: controller has non-zero replicas (3), please stop it first\n"
    assert api(kc, "GET", "/replicationControllers/rs-1").status_code == 200
    doc = json.loads(ok(run(kc, "stop", "replicationControllers/rs-1", "-json")))
    assert doc["desiredState"]["replicas"] == 0
    assert ok(run(kc, "rm", "rs-1")) == STATUS_TABLE
    assert api(kc, "GET", "/replicationControllers/rs-1").status_code == 404
    assert fails(run(kc, "resize", "rs-1", "2")) == 'Error: replicationController "rs-1" not found\n'
    assert "replicas must be >= 0" in fails(run(kc, "resize", "rs-x", "--", "-1"), 2)


class FakeReplicationManager:
    """Keeps the pod count of ONE controller at its desired replicas, through the API (as the real one will)."""

    def __init__(self, kc, rc_name):
        self.kc, self.rc_name = kc, rc_name
        self.stop = threading.Event()
        self.created = 0
        self.thread = threading.Thread(target=self._loop, name="fake-rc", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)

    def _loop(self):
        while not self.stop.is_set():
            try:
                self.sync_once()
            except requests.RequestException:
                pass
            self.stop.wait(0.05)

    def sync_once(self):
        rc = api(self.kc, "GET", f"/replicationControllers/{self.rc_name}").json()
        desired = rc["desiredState"]
        sel = ",".join(f"{k}={v}" for k, v in sorted(desired["replicaSelector"].items()))
        pods = requests.get(self.kc.urls[0] + API + "/pods", params={"labels": sel}, timeout=5).json()["items"]
        for _ in range(desired["replicas"] - len(pods)):
            self.created += 1
            template = desired["podTemplate"]
            api(self.kc, "POST", "/pods", {"id": f"{self.rc_name}-{self.created}", "labels": template["labels"],
                                           "desiredState": template["desiredState"]})
        for p in pods[desired["replicas"]:]:
            api(self.kc, "DELETE", f"/pods/{p['id']}")


@pytest.fixture(scope="module")
def real_replication_manager(kc) -> bool:
    """Whether the masters run a replication manager (built concurrently with the CLI): probe once."""
    assert api(kc, "POST", "/replicationControllers", rc_body("probe-rm", replicas=1)).status_code == 200
    try:
        poll_until(lambda: api(kc, "GET", "/pods?labels=name%3Dprobe-rm").json()["items"], 5, what="a probe pod")
        found = True
    except AssertionError:
        found = False
    rc = api(kc, "GET", "/replicationControllers/probe-rm").json()
    rc["desiredState"]["replicas"] = 0
    api(kc, "PUT", "/replicationControllers/probe-rm", rc)
    return found


def replication_manager(kc, real: bool, rc_name: str):
    """The masters' own replication manager if they have one, else a fake one for this controller."""
    return contextlib.nullcontext() if real else FakeReplicationManager(kc, rc_name)


def test_resize_wait_shows_progress_until_converged(kc, real_replication_manager):
    assert api(kc, "POST", "/replicationControllers", rc_body("wt", replicas=0)).status_code == 200
    with replication_manager(kc, real_replication_manager, "wt"):
        proc = run(kc, "resize", "wt", "3", "--wait", "--timeout", "20s")
        ok(proc)
        poll_until(lambda: api(kc, "GET", "/replicationControllers/wt").json()["currentState"]["replicas"] == 3,
                   5, what="3 replicas")
    progress = proc.stderr.splitlines()
    assert progress[-1] == 'replicationController "wt": 3/3 replicas'
    assert all(re.fullmatch(r'replicationController "wt": [0-3]/3 replicas', line) for line in progress)
    assert yaml.safe_load(proc.stdout)["desiredState"]["replicas"] == 3


def test_run_creates_a_controller_and_a_service(kc):
    docs = list(yaml.safe_load_all(ok(run(kc, "-p", "8080:80,9090", "-s", "8000", "run", "nginx", "2", "web"))))
    assert [d["kind"] for d in docs] == ["ReplicationController", "Service"]
    rc = api(kc, "GET", "/replicationControllers/web").json()
    assert rc["desiredState"]["replicas"] == 2 and rc["desiredState"]["replicaSelector"] == {"name": "web"}
    tmpl = rc["desiredState"]["podTemplate"]
    assert tmpl["labels"] == {"name": "web"}
    c = tmpl["desiredState"]["manifest"]["containers"][0]
    assert (c["name"], c["image"]) == ("web", "nginx")
    assert [(p.get("hostPort"), p["containerPort"]) for p in c["ports"]] == [(8080, 80), (None, 9090)]
    lines = ok(run(kc, "list", "services")).split("\n")
    assert lines[0] == "ID                  Labels              Selector            Port"
    assert "web                 name=web            name=web            8000" in lines
    assert ok(run(kc, "list", "replicationControllers", "-l", "name=web")).split("\n")[2] == \
        "web                 nginx               name=web            2"
    # a service name that is not a DNS-952 label: refused before anything is created
    err = fails(run(kc, "-s", "8001", "run", "nginx", "1", "Bad_Name"))
    assert err.startswith('Error: replicationController "Bad_Name" is invalid: ') or \
        err.startswith('Error: service "Bad_Name" is invalid: ')
    assert api(kc, "GET", "/replicationControllers/Bad_Name").status_code == 404
    assert "-p" in fails(run(kc, "-p", "80:x", "run", "nginx", "1", "web2"), 2)


class PodsRun(FakeReplicationManager):
    """Stands in for the kubelets of a cluster without minions: marks ONE controller's pods Running (a status
    write, as a kubelet makes), so commands that wait for Running pods (rollingupdate) can finish."""

    def sync_once(self):
        from raftkube.client import HttpClient
        from raftkube.model.errors import ApiError
        client = HttpClient(self.kc.urls, timeout_s=5.0)
        try:
            for pod in client.list("Pod", labels=f"name={self.rc_name}")[0]:
                if (pod.get("status") or {}).get("phase") == "Pending":
                    pod["status"] = {**pod.get("status", {}), "phase": "Running"}
                    client.update_status(pod)
        except ApiError:
            pass  # deleted meanwhile, or a master lost: the next pass looks again


def test_rollingupdate_replaces_pods_one_by_one_with_the_new_image(kc, real_replication_manager):
    assert api(kc, "POST", "/replicationControllers", rc_body("ru", replicas=2, image="busybox:1")).status_code == 200

    def pods():
        return api(kc, "GET", "/pods?labels=name%3Dru").json()["items"]

    with replication_manager(kc, real_replication_manager, "ru"), PodsRun(kc, "ru"):
        poll_until(lambda: len(pods()) == 2, 10, what="2 pods")
        old = {p["id"] for p in pods()}
        proc = run(kc, "-image", "busybox:2", "-u", "0.1s", "rollingupdate", "ru")
        ok(proc)
        poll_until(lambda: len(pods()) == 2, 5, what="2 pods after the update")
    err = proc.stderr.splitlines()
    assert err[0] == 'replicationController "ru": template image is now busybox:2'
    assert [l.split(";")[0] for l in err if "deleted pod" in l] == \
        [f"[1/2] deleted pod {n}" for n in sorted(old)[:1]] + [f"[2/2] deleted pod {n}" for n in sorted(old)[1:]]
    assert "waiting 0.1s before the next pod" in err
    assert err[-1] == 'replicationController "ru": all 2 pods replaced'
    now = pods()
    assert not ({p["id"] for p in now} & old)
    assert {p["desiredState"]["manifest"]["containers"][0]["image"] for p in now} == {"busybox:2"}


def test_events_table(kc):
    ev = {"involvedObject": {"kind": "Pod", "name": "ev-pod", "namespace": "default"},
          "status": "Pending", "reason": "scheduled", "message": "Successfully assigned ev-pod to m9", "source": "test"}
    assert api(kc, "POST", "/events", ev).status_code == 200
    out = ok(run(kc, "events", "--fields", "involvedObject.name=ev-pod"))
    assert out == ("Name                Kind                Status              Reason              Message\n"
                   "----------          ----------          ----------          ----------          ----------\n"
                   "ev-pod              Pod                 Pending             scheduled           "
                   "Successfully assigned ev-pod to m9\n\n")
    assert json.loads(ok(run(kc, "-json", "events")))["kind"] == "EventList"


class FakeKubelet:
    """Answers GET /containerLogs/<ns>/<pod>/<container> like the minion's kubelet will."""

    def __init__(self):
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                body = f"log of {self.path}\nsecond line\n".encode()
                self.send_response(200 if self.path.startswith("/containerLogs/") else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-kubelet", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_logs_through_the_kubelet_of_the_pods_minion(kc):
    two = pod_body("lg-2")
    two["desiredState"]["manifest"]["containers"].append({"name": "side", "image": "busybox"})
    for body in (pod_body("lg-1"), two, pod_body("lg-unbound"), pod_body("lg-dead")):
        assert api(kc, "POST", "/pods", body).status_code == 200
    with FakeKubelet() as kubelet:
        for minion, port in (("lg-minion", kubelet.port), ("lg-dead-minion", free_ports(1)[0])):
            r = api(kc, "POST", "/minions", {"id": minion, "hostIP": "127.0.0.1", "status": {"kubeletPort": port}})
            assert r.status_code == 200, r.text
        for pod, minion in (("lg-1", "lg-minion"), ("lg-2", "lg-minion"), ("lg-dead", "lg-dead-minion")):
            assert api(kc, "POST", "/bindings", {"podID": pod, "host": minion}).status_code == 200
        assert ok(run(kc, "logs", "lg-1")) == "log of /containerLogs/default/lg-1/c\nsecond line\n"
        assert ok(run(kc, "logs", "/pods/lg-2", "side", "--tail", "5")) == \
            "log of /containerLogs/default/lg-2/side?tail=5\nsecond line\n"
        assert kubelet.paths == ["/containerLogs/default/lg-1/c", "/containerLogs/default/lg-2/side?tail=5"]
        assert fails(run(kc, "logs", "lg-2")) == 'Error: pod "lg-2" has 2 containers (c, side): name one\n'
        assert fails(run(kc, "logs", "lg-1", "nope")) == 'Error: pod "lg-1" has no container "nope" (containers: c)\n'
    assert fails(run(kc, "logs", "lg-unbound")) == 'Error: pod "lg-unbound" is not assigned to a minion yet: no logs\n'
    err = fails(run(kc, "logs", "lg-dead"))
    assert err.startswith('Error: cannot reach the kubelet of minion "lg-dead-minion" at http://127.0.0.1:')
    assert fails(run(kc, "logs", "lg-none")) == 'Error: pod "lg-none" not found\n'
    # the minions table
    lines = ok(run(kc, "list", "minions")).split("\n")
    assert lines[:2] == ["Minion identifier", "----------"] and "lg-minion" in lines


def test_shell_completion_of_commands_and_resources(kc):
    for prog in ("raftkube", "kubecfg"):
        env = {f"_{prog.upper()}_COMPLETE": "bash_complete", "COMP_WORDS": f"{prog} list rep", "COMP_CWORD": "2"}
        out = ok(run(kc, script=prog, env=env))
        assert out.splitlines() == ["plain,replicationControllers"]
    env = {"_RAFTKUBE_COMPLETE": "bash_complete", "COMP_WORDS": "raftkube roll", "COMP_CWORD": "1"}
    assert ok(run(kc, script="raftkube", env=env)).splitlines() == ["plain,rollingupdate"]
    assert "complete -o nosort -F" in ok(run(kc, script="raftkube", env={"_RAFTKUBE_COMPLETE": "bash_source"}))


# ---- last: a master goes down -----------------------------------------------------------------------

def test_status_and_failover_with_a_master_down(kc):
    lines = ok(run(kc, "status")).split("\n")
    assert lines[0].split() == ["Name", "URL", "Role", "Leader", "Term", "Commit", "index", "Applied", "index",
                                "Store", "used/quota", "Reachable"]
    rows = [l.split() for l in lines[2:] if l]
    assert sorted(r[0] for r in rows) == kc.names and all(r[-1] == "yes" for r in rows)
    assert all(r[-2].endswith("/2.0GiB") and r[-2][0].isdigit() for r in rows)  # used/quota, the default quota
    assert sorted(r[2] for r in rows) == ["follower", "follower", "leader"] and len({r[3] for r in rows}) == 1
    doc = json.loads(ok(run(kc, "status", "-json")))
    assert all(d["reachable"] and d["raft"]["commitIndex"] >= d["raft"]["appliedIndex"] >= 1 for d in doc)

    kc.stop("m1")
    kc.wait_ready(["m2", "m3"])
    # names come from ./cluster.toml, so the stopped master is named though it cannot answer
    proc = run(kc, "status", cwd=kc.workdir, env={"KUBERNETES_MASTER": None})
    rows = {r.split()[0]: r.split() for r in ok(proc).split("\n")[2:] if r}
    assert rows["m1"][2:] == ["-", "-", "-", "-", "-", "-", "no", "(connection", "refused)"]
    assert rows["m2"][-1] == rows["m3"][-1] == "yes"
    # the first URL is the stopped master: every command still gets one answer from the next
    m1_first = ",".join(kc.url(n) for n in ("m1", "m2", "m3"))
    out = ok(run(kc, "-h", m1_first, "-c", write_json(kc.workdir, "fo.json", pod_body("fo-1")), "create", "pods"))
    assert out.split("\n")[2].startswith("fo-1 ")
    assert ok(run(kc, "-h", m1_first, "list", "pods", "-l", "name=fo-1")).split("\n")[2].startswith("fo-1 ")
    assert ok(run(kc, "-h", m1_first, "delete", "pods/fo-1")) == STATUS_TABLE
    only_dead = run(kc, "status", "-h", kc.url("m1"))
    assert fails(only_dead).splitlines()[-1] == f"Error: no master reachable ({kc.url('m1')})"
    assert only_dead.stdout.split("\n")[2].split()[-3:] == ["no", "(connection", "refused)"]
