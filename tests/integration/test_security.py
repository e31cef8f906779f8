"""Issue 18 with real masters: ports, TLS, authentication, authorization and admission."""

from __future__ import annotations

import subprocess

from raftkube.testing.processes import CLI, free_ports


def test_non_loopback_master_without_tls_refuses_to_start(tmp_path):
    api, raft = free_ports(2)
    (tmp_path / "cluster.toml").write_text(
        '[cluster]\ndata_dir = "data"\n\n[[masters]]\nname = "m1"\nhost = "192.0.2.10"\n'
        f"api_port = {api}\nraft_port = {raft}\n")
    proc = subprocess.run([*CLI, "master", "m1", "--config", "cluster.toml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert "'192.0.2.10' is not a loopback address and masters[0].secure_port is not set" in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything
