"""The API server of a real master under many connections."""

import resource
import socket

import requests

from raftkube.testing import MasterCluster

CONNECTIONS = 1100  # with the master's own descriptors (Raft, journal, pipes) these pass descriptor 1023


def test_api_keeps_serving_with_connection_descriptors_above_1023(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * CONNECTIONS
    if soft < want:  # the master inherits the limit; select() is limited to descriptors below 1024 whatever it is
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    # every connection is from 127.0.0.1: the per-client cap (1 000 by default) is raised with the total
    c = MasterCluster(tmp_path, n=1, extra_toml="\n[api]\nconnection_limit = 2000\nconnections_per_client = 2000\n")
    socks = []
    try:
        c.start_all()
        port = c.api_ports["m1"]
        for _ in range(CONNECTIONS):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        last = socks[-1]
        last.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert last.recv(4096).startswith(b"HTTP/1.1 200"), "a connection accepted late got no answer"
        r = requests.post(c.urls[0] + "/api/v1beta1/pods", json={"id": "late", "desiredState": {"manifest": {
            "version": "v1beta1", "containers": [{"name": "c", "image": "busybox"}]}}}, timeout=5)
        assert r.status_code == 200, r.text
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        c.close()
