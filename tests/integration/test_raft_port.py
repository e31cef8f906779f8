"""Abuse of a master's Raft port (state/raftport.py): idle connections and huge length prefixes change nothing
for the cluster, and the master closes them."""

import os
import socket
import struct
import time

import requests

from raftkube.testing import poll_until, pod_body

PODS = "/api/v1beta1/pods"


def _closed(sock) -> bool:
    try:
        return sock.recv(1 << 16) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_connections_and_huge_frames_on_the_raft_port_change_nothing(cluster):
    leader = cluster.leader()
    before = {name: cluster.raft(name) for name in cluster.names}
    port = cluster.raft_ports[leader]
    fds_before = _fds(cluster.procs[leader].pid)

    started = time.monotonic()
    huge = []
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(struct.pack("i", 2**31 - 1) + b"\0" * 4096)
        huge.append(s)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(1000)]
    for s in huge + idle:
        s.setblocking(False)

    for i in range(20):  # writes through the leader and a follower meanwhile
        url = cluster.url(cluster.names[i % len(cluster.names)])
        r = requests.post(url + PODS, json=pod_body(f"raftport-{i}"), timeout=10)
        assert r.status_code == 200, r.text

    open_ = list(huge + idle)

    def all_closed():
        open_[:] = [s for s in open_ if not _closed(s)]
        return not open_

    poll_until(all_closed, timeout_s=60, what="the master closes every abusive Raft connection")
    print(f"all 1005 closed {time.monotonic() - started:.1f} s after the first was opened")
    for s in huge + idle:
        s.close()

    after = {name: cluster.raft(name) for name in cluster.names}
    for name in cluster.names:  # no election: same term, same leader everywhere, peers still connected
        assert after[name]["term"] == before[name]["term"], (name, before[name]["term"], after[name]["term"])
        assert after[name]["leader"] == leader
        assert all(p["connected"] for p in after[name]["peers"])
    refused = after[leader]["raftPort"]["refused"]
    assert refused["oversized"] >= 5
    assert refused["handshakes_full"] + refused["handshake_timeout"] >= 1000
    assert after[leader]["raftPort"]["pendingHandshakes"] == 0
    print("refused:", refused)
    poll_until(lambda: _fds(cluster.procs[leader].pid) <= fds_before + 20, timeout_s=30,
               what="the leader's file descriptors back near where they were")
    r = requests.get(cluster.url(leader) + PODS, timeout=10)
    assert sum(p["id"].startswith("raftport-") for p in r.json()["items"]) == 20
