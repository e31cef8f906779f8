import os
from pathlib import Path

import pytest

from raftkube.config import ConfigError, load, read_or_create_secret
from raftkube.master import choose_cpu

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    p = tmp_path / "cluster.toml"
    p.write_text(text)
    return p


MASTERS = """
[[masters]]
name = "m1"
api_port = 9080
raft_port = 9001
"""


def test_repo_cluster_toml_is_the_documented_default():
    cfg = load(ROOT / "cluster.toml")
    assert [(m.name, m.host, m.api_port, m.raft_port) for m in cfg.masters] == [
        ("m1", "127.0.0.1", 8080, 7001), ("m2", "127.0.0.1", 8081, 7002), ("m3", "127.0.0.1", 8082, 7003)]
    assert cfg.master_dir("m2") == ROOT / ".raftkube" / "m2"
    assert cfg.raft.leader_fallback_timeout_s < cfg.raft.min_timeout_s
    assert cfg.api_urls[0] == "http://127.0.0.1:8080"
    assert [m.secure_url for m in cfg.masters] == [f"https://127.0.0.1:{p}" for p in (6443, 6444, 6445)]


def test_defaults_for_a_minimal_file(tmp_path):
    cfg = load(write(tmp_path, MASTERS))
    assert cfg.secret_file == tmp_path / ".raftkube" / "secret"
    assert cfg.raft.write_timeout_s == 5.0 and cfg.api.threads >= 4
    assert cfg.quota_bytes == 2147483648 and cfg.controllers.replica_burst == 500


def test_quota_and_burst_are_read(tmp_path):
    cfg = load(write(tmp_path, "[cluster]\nquota_bytes = 20000\n" + MASTERS + "[controllers]\nreplica_burst = 7\n"))
    assert cfg.quota_bytes == 20000 and cfg.controllers.replica_burst == 7
    assert load(write(tmp_path, "[cluster]\nmax_object_bytes = 4096\n" + MASTERS)).max_object_bytes == 4096


@pytest.mark.parametrize("text, needle", [
    (MASTERS + "\n[raft]\nbogus = 1\n", "raft.bogus"),
    (MASTERS + "\n[raft]\nmin_timeout_s = 'fast'\n", "raft.min_timeout_s"),
    (MASTERS + "\n[api]\nthreads = 1\n", "api.threads"),
    (MASTERS + "\n[api]\nread_timeout_s = 0\n", "api.read_timeout_s"),
    (MASTERS + "\n[raft]\nmax_handshakes = 0\n", "raft.max_handshakes"),
    ("[cluster]\nmax_object_bytes = 10\n" + MASTERS, "cluster.max_object_bytes"),
    (MASTERS + "\n[api]\nmax_watches = 0\n", "api.max_watches"),
    (MASTERS + "\n[api]\nwatches_per_client = 0\n", "api.watches_per_client"),
    (MASTERS + "\n[api]\nwatch_buffer_bytes = 0\n", "api.watch_buffer_bytes"),
    (MASTERS + "\n[api]\nwatch_keepalive_s = 0\n", "api.watch_keepalive_s"),
    (MASTERS + "\n[api]\nwatch_stall_s = 0\n", "api.watch_stall_s"),
    (MASTERS + "\n[api]\nconnections_per_client = -1\n", "api.connections_per_client"),
    (MASTERS + "\n[api]\nwatch_buffer_bytes = 9000000\n", "api.watch_buffer_bytes"),
    ("extra = 1\n" + MASTERS, "unknown key extra"),
    (MASTERS + "nickname = 1\n", "masters[0].nickname"),
    ("[[masters]]\napi_port = 1\n", "masters[0].name"),
    ("[[masters]]\nname = 'm1'\napi_port = 70000\n", "masters[0].api_port"),
    ("[[masters]]\nname = 'm1'\nhost = 'x'\nport = 3\n", "masters[0].port"),
    (MASTERS + MASTERS, "used twice"),
    (MASTERS + "cpu = 'fast'\n", "masters[0].cpu"),
    (MASTERS + "cpu = 1\n", "masters[0].cpu"),
    ("", "masters"),
    (MASTERS + "\n[raft]\nappend_entries_period_s = 0.2\n", "append_entries_period_s"),
    ("this is not toml = = =", "not valid TOML"),
    ("[cluster]\nquota_bytes = '2G'\n" + MASTERS, "cluster.quota_bytes: expected int"),
    ("[cluster]\nquota_bytes = 0\n" + MASTERS, "cluster.quota_bytes must be a positive"),
    ("[cluster]\nquota_bytes = 1.5e9\n" + MASTERS, "cluster.quota_bytes: expected int"),
    ("[cluster]\nquota = 1\n" + MASTERS, "unknown key cluster.quota"),
    (MASTERS + "\n[controllers]\nreplica_burst = 0\n", "controllers.replica_burst"),
    (MASTERS + "\n[controllers]\nreplica_burst = true\n", "controllers.replica_burst"),
])
def test_bad_config_names_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load(write(tmp_path, text))
    assert needle in str(exc.value)


def test_unknown_master_name(tmp_path):
    cfg = load(write(tmp_path, MASTERS))
    with pytest.raises(ConfigError, match="no master named 'm9'"):
        cfg.master("m9")


def test_secret_is_generated_0600_and_reused(tmp_path):
    path = tmp_path / "d" / "secret"
    first = read_or_create_secret(path)
    assert len(first) >= 32 and (path.stat().st_mode & 0o777) == 0o600
    assert read_or_create_secret(path) == first
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_or_create_secret(path)


def test_masters_starting_together_all_read_one_whole_secret(tmp_path):
    """Three masters create the secret at the same moment: none may read a half-written file."""
    import threading

    for attempt in range(20):
        path = tmp_path / f"run{attempt}" / "secret"
        barrier = threading.Barrier(3)
        results, errors = [], []

        def start():
            barrier.wait()
            try:
                results.append(read_or_create_secret(path))
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(results) == 3 and len(set(results)) == 1 and len(results[0]) == 64
        assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]  # no temporary file left


def test_cpu_auto_spreads_masters_over_the_allowed_cpus_by_their_index():
    assert [choose_cpu("auto", i, {0, 1}) for i in range(3)] == [0, 1, 0]
    assert [choose_cpu("auto", i, {5, 2, 7}) for i in range(4)] == [2, 5, 7, 2]
    assert choose_cpu("auto", 1, {3}) is None  # one CPU: nothing to choose
    assert choose_cpu("none", 0, {0, 1}) is None
    assert choose_cpu("7", 0, {6, 7}) == 7
    with pytest.raises(ConfigError, match=r"masters\[2\]\.cpu: CPU 4 is not one this process may use \(0, 1\)"):
        choose_cpu("4", 2, {0, 1})
    assert load(ROOT / "cluster.toml").masters[0].cpu == "auto"


def test_watch_bookmark_period_must_be_positive(tmp_path):
    assert load(write(tmp_path, MASTERS)).api.watch_bookmark_s == 60.0
    with pytest.raises(ConfigError, match="api.watch_bookmark_s must be positive"):
        load(write(tmp_path, MASTERS + "\n[api]\nwatch_bookmark_s = 0\n"))
