"""Backups of the object store (``raftkube snapshot save`` / ``restore``) and the data directories a restore makes.

A backup file is ``BACKUP_MAGIC``, the SHA-256 of the rest, then msgpack of ``{"format": 1, "revision": int,
"objects": int, "state": <StateMachine.snapshot()>}``, taken by one master at a linearizable read point
(``RaftStore.backup``). ``restore`` writes, for every master of a new cluster, a data directory holding only a
snapshot (``raft.dump``, the format of state/raft.py) of that state behind a log of two no-ops of term 0
(``first_entries``): every master starts from the same state and revision, elects a leader as a new cluster
does, and serves the objects with their resourceVersions; watch history before the revision is gone (a watch
from an older revision gets 410). The leader epoch's holder and term are reset (the new cluster's terms start
again at 0, and a claim older than the epoch's term would be refused) and the request ids are dropped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from raftkube.state.codec import pack, unpack
from raftkube.state.journal import durable_replace, fsync_dir
from raftkube.state.raft import encode_snapshot
from raftkube.state.syncobj import first_entries

BACKUP_MAGIC = b"RKBACKUP1\n"
FORMAT = 1


class BackupError(Exception):
    """A backup file that is not one, is damaged, or a restore that would overwrite data: the message says."""


def encode_backup(revision: int, state: dict) -> bytes:
    body = pack({"format": FORMAT, "revision": revision, "objects": len(state.get("objects", ())), "state": state})
    return BACKUP_MAGIC + hashlib.sha256(body).digest() + body


def decode_backup(raw: bytes, where: str = "backup") -> dict:
    """The backup's document; BackupError unless the magic and the checksum match."""
    head = len(BACKUP_MAGIC) + 32
    if not raw.startswith(BACKUP_MAGIC) or len(raw) < head:
        raise BackupError(f"{where}: not a raftkube snapshot file (it does not start with {BACKUP_MAGIC!r})")
    digest, body = raw[len(BACKUP_MAGIC):head], raw[head:]
    if hashlib.sha256(body).digest() != digest:
        raise BackupError(f"{where}: checksum mismatch: the file is damaged or truncated")
    doc = unpack(body)
    if doc.get("format") != FORMAT:
        raise BackupError(f"{where}: snapshot format {doc.get('format')!r} is not {FORMAT}")
    return doc


def checksum(raw: bytes) -> str:
    """The SHA-256 recorded in a backup file, as hex."""
    return raw[len(BACKUP_MAGIC):len(BACKUP_MAGIC) + 32].hex()


def restored_state(state: dict) -> dict:
    return {**state, "holder": "", "epoch_term": 0, "requests": [], "requests_at": 0.0}


def restore(doc: dict, data_dirs: list[Path], members: list[str], fsync: bool = True) -> None:
    """Write a new data directory holding ``doc``'s state for each of ``data_dirs``; ``members`` are the Raft
    addresses of the new cluster. Refuses (before writing anything) if one of them exists and is not empty."""
    taken = [d for d in data_dirs if d.exists() and any(d.iterdir())]
    if taken:
        raise BackupError(f"refusing to overwrite existing data: {', '.join(map(str, taken))} (a restore makes "
                          "the data directories of a new cluster; move them away first)")
    last_entry, prev_entry = first_entries()
    blob = encode_snapshot({"raft": [last_entry, prev_entry, sorted(members)], "state": restored_state(doc["state"])})
    for d in data_dirs:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(d, 0o700)
        tmp = d / "raft.dump.restore"
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        durable_replace(tmp, d / "raft.dump", False)
        if fsync:
            fsync_dir(d)
