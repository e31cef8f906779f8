"""`raftkube members` and `raftkube snapshot`: operating the masters (README "Operating the masters").

``members list`` and ``members transfer-leader`` ask any master (``-h`` or cluster.toml, with the TLS options of
the other client commands) and then the leader it names, at its URL of the same scheme. ``snapshot save`` takes a
backup from any master; ``snapshot restore`` writes the data directories of a new cluster from one, offline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from raftkube.cli.options import DURATION, server_option
from raftkube.cli.targets import REQUEST_RETRY_S, credentials, make_client, server_urls
from raftkube.client import HttpClient
from raftkube.config import ConfigError, load
from raftkube.model.errors import NotLeader
from raftkube.state.backup import BackupError, checksum, decode_backup, restore


def _members(client: HttpClient) -> tuple[dict, HttpClient]:
    """The member list, from the leader if the master asked first is not it; and a client of that master."""
    view = client.request("GET", "/raft/members").json()
    if view["progressKnown"] or not view.get("leader"):
        return view, client
    leader = next(m for m in view["members"] if m["name"] == view["leader"])
    url = leader["secureUrl"] if client.current_url.startswith("https://") else leader["apiUrl"]
    if not url:
        return view, client
    leader_client = HttpClient([url], timeout_s=10.0, retry_for_s=REQUEST_RETRY_S, credentials=client.credentials)
    try:
        return leader_client.request("GET", "/raft/members").json(), leader_client
    except Exception:  # the leader changed or is unreachable from here: what the first master knows
        return view, client


def _age(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


@click.group()
def members() -> None:
    """The masters of the cluster: list, add and remove them, move the leadership."""


@members.command("list")
@server_option
@click.option("--json", "as_json", is_flag=True, help="print the JSON the master answered")
def members_list(server: str | None, as_json: bool) -> None:
    """Every master: name, Raft address, role, match index, last contact (from the leader's view).

    Example: raftkube members list
    """
    view, _ = _members(make_client(server))
    if as_json:
        import json
        click.echo(json.dumps(view, indent=2))
        return
    rows = [("NAME", "ADDRESS", "ROLE", "MATCH", "LAST CONTACT", "CONNECTED")]
    for m in view["members"]:
        rows.append((m["name"] + (" *" if m["self"] else ""), m["address"], m["role"],
                     "-" if m["matchIndex"] is None else str(m["matchIndex"]),
                     "-" if m["self"] else _age(m["lastContactS"]), "yes" if m["connected"] else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    click.echo(f"term {view['term']}, commit index {view['commitIndex']}, as seen by {view['self']} (*)"
               + ("" if view["progressKnown"] else "; the leader's view was not available"))


@members.command("transfer-leader")
@click.argument("name")
@server_option
@click.option("--timeout", "timeout_s", type=DURATION, default="5s", show_default=True,
              help="give up (leadership stays) if NAME has not taken over by then")
def transfer_leader(name: str, server: str | None, timeout_s: float) -> None:
    """Hand the leadership to master NAME: the leader holds new writes, waits until NAME has every entry,
    and lets it start an election first; the controllers move with it.

    Example: raftkube members transfer-leader m2
    """
    client = make_client(server)
    deadline = time.monotonic() + timeout_s + REQUEST_RETRY_S
    while True:
        view, leader = _members(client)
        if view.get("leader") == name:
            click.echo(f"master {name} is the leader already")
            return
        if name not in {m["name"] for m in view["members"]}:
            raise click.ClickException(f"no master named {name!r} (masters: "
                                       f"{', '.join(m['name'] for m in view['members'])})")
        # only the leader can do it, and a 503 is an answer (the transfer failed), not a reason to ask elsewhere
        leader = HttpClient([leader.current_url], timeout_s=10.0, retry_for_s=0.0, credentials=client.credentials)
        try:
            out = leader.request("POST", "/raft/transfer-leader", body={"name": name, "timeoutSeconds": timeout_s},
                                 timeout_s=timeout_s + 5).json()
            break
        except NotLeader:  # the leader changed (or was not known) between the two calls: ask again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    click.echo(f"leader: {out['previous']} -> {out['leader']} in {out['tookMs']:.0f} ms "
               f"(stepped down after {out['steppedDownMs']:.0f} ms)")
    if out["leader"] != name:
        raise click.ClickException(f"master {out['leader']} won the election instead of {name}")


def _on_leader(client: HttpClient, method: str, path: str, body: dict | None = None) -> dict:
    """``method path`` on the leader (found through ``client``'s master), again at the new one if it changed
    (for up to 15 s: removing the leader moves the leadership first)."""
    deadline = time.monotonic() + 15.0
    while True:
        view, leader = _members(client)
        leader = HttpClient([leader.current_url], timeout_s=10.0, retry_for_s=0.0, credentials=client.credentials)
        try:  # a 4xx/503 is an answer (refused), not a reason to ask elsewhere: no retries but for NotLeader
            return leader.request(method, path, body=body, timeout_s=25.0).json()
        except NotLeader:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@members.command("add")
@click.argument("name")
@click.option("--host", required=True, help="the new master's address (its API and Raft listen there)")
@click.option("--api-port", type=click.IntRange(1, 65535), required=True)
@click.option("--raft-port", type=click.IntRange(1, 65535), required=True)
@click.option("--secure-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="its TLS API port (needed off loopback; `raftkube init` must have made its certificate)")
@server_option
def members_add(name: str, host: str, api_port: int, raft_port: int, secure_port: int, server: str | None) -> None:
    """Add master NAME to the cluster (one change at a time, through the Raft log), then start it with
    `raftkube master NAME --join URL`: it gets a snapshot and the log from the leader.

    Example: raftkube members add m4 --host 127.0.0.1 --api-port 8084 --raft-port 7004
    """
    client = make_client(server)
    out = _on_leader(client, "POST", "/raft/members", {"name": name, "host": host, "apiPort": api_port,
                                                         "raftPort": raft_port, "securePort": secure_port})
    click.echo(f"added master {name} ({host}:{raft_port}) in {out['tookMs']:.0f} ms; members: "
               f"{', '.join(out['members'])}")
    click.echo(f"now start it: raftkube master {name} --join {client.current_url}")


@members.command("remove")
@click.argument("name")
@server_option
def members_remove(name: str, server: str | None) -> None:
    """Remove master NAME from the cluster (through the Raft log; a leader first hands its leadership over).
    Stop its process afterwards: the others no longer talk to it.

    Example: raftkube members remove m2
    """
    out = _on_leader(make_client(server), "DELETE", f"/raft/members/{name}")
    click.echo(f"removed master {name} in {out['tookMs']:.0f} ms; members: {', '.join(out['members'])}")


@click.group()
def snapshot() -> None:
    """Back up the store (save) and start a new cluster from a backup (restore)."""


@snapshot.command("save")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@server_option
def snapshot_save(file: Path, server: str | None) -> None:
    """Write a consistent snapshot of the whole store to FILE, from any master (taken at a linearizable read
    point; the file holds its revision and a SHA-256).

    Example: raftkube snapshot save backup.rksnap
    """
    client = make_client(server)
    started = time.monotonic()
    resp = client.request("GET", "/raft/snapshot", timeout_s=60.0)
    raw = resp.content
    doc = decode_backup(raw, "the master's answer")
    tmp = file.with_name(file.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, file)
    click.echo(f"saved revision {doc['revision']} ({doc['objects']} objects, {len(raw)} bytes, sha256 "
               f"{checksum(raw)}) to {file} in {(time.monotonic() - started) * 1000:.0f} ms")


@snapshot.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", default="cluster.toml", show_default=True, type=click.Path(path_type=Path),
              help="the new cluster's cluster.toml: a data directory is made for each of its masters")
def snapshot_restore(file: Path, config_path: Path) -> None:
    """Make the data directories of a new cluster from FILE (refuses if one exists); then start its masters.

    Objects keep their resourceVersions; watches from before the snapshot's revision get 410 Gone.

    Example: raftkube snapshot restore backup.rksnap --config cluster.toml
    """
    try:
        config = load(config_path)
        doc = decode_backup(file.read_bytes(), str(file))
        dirs = [config.master_dir(m.name) for m in config.masters]
        restore(doc, dirs, [m.raft_address for m in config.masters], fsync=config.fsync)
    except (ConfigError, BackupError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored revision {doc['revision']} ({doc['objects']} objects) into "
               f"{', '.join(map(str, dirs))}; start the masters with `raftkube master NAME --config {config_path}`")


COMMANDS = (members, snapshot)
