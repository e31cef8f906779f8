"""The replicated member list: which masters form the cluster, by name, with their addresses.

A membership change is a log entry (pysyncobj's MEMBERSHIP command, see state/syncobj.py): ``["add", address,
address, record]`` or ``["rem", address, address, record]`` (pysyncobj reads the first three; the fourth, the
member's record, is ours). As in Raft's single-server changes, a configuration is in effect from the moment its
entry is in the log, committed or not, and is rolled back if the entry is truncated. ``MemberList`` follows the
log through the journal (``appended``, ``truncated``) and the snapshots (``reset``): the members at any index
are the base (the snapshot's, or the seed from cluster.toml / ``--join``) plus the changes in the log up to it.

A record is ``{"name", "host", "apiPort", "raftPort", "securePort"}``; a member's Raft address is
``host:raftPort`` (pysyncobj's node id).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

FIELDS = ("name", "host", "apiPort", "raftPort", "securePort")


def address(record: dict) -> str:
    return f"{record['host']}:{record['raftPort']}"


def api_url(record: dict) -> str:
    return f"http://{record['host']}:{record['apiPort']}"


def secure_url(record: dict) -> str:
    return f"https://{record['host']}:{record['securePort']}" if record.get("securePort") else ""


def record(name: str, host: str, api_port: int, raft_port: int, secure_port: int = 0) -> dict:
    return {"name": name, "host": host, "apiPort": int(api_port), "raftPort": int(raft_port),
            "securePort": int(secure_port or 0)}


@dataclass(frozen=True)
class Change:
    index: int
    op: str  # "add" | "rem"
    record: dict


def request(op: str, rec: dict) -> list:
    """The MEMBERSHIP request pysyncobj replicates for a change (see the module doc)."""
    return [op, address(rec), address(rec), dict(rec)]


def change_of(index: int, req) -> Change | None:
    """A log entry's MEMBERSHIP request as a Change; None for one without our record (not written by raftkube)."""
    if not isinstance(req, (list, tuple)) or len(req) < 4 or req[0] not in ("add", "rem") or \
            not isinstance(req[3], dict):
        return None
    return Change(index, req[0], dict(req[3]))


def refusal(members: dict[str, dict], op: str, rec: dict) -> str | None:
    """Why a change cannot be made to ``members`` (None: it can). Pure; the leader checks it on the tick thread."""
    name = rec["name"]
    if op == "add":
        if name in members:
            return f"a master named {name!r} exists already ({address(members[name])})"
        for other in members.values():
            if address(other) == address(rec):
                return f"Raft address {address(rec)} is master {other['name']}'s"
            if other["host"] == rec["host"] and rec["apiPort"] in (other["apiPort"], other.get("securePort")):
                return f"API port {rec['host']}:{rec['apiPort']} is master {other['name']}'s"
        return None
    if name not in members:
        return f"no master named {name!r} (masters: {', '.join(sorted(members))})"
    if len(members) == 1:
        return f"master {name} is the last master of the cluster: it cannot be removed"
    return None


def apply(members: dict[str, dict], change: Change) -> dict[str, dict]:
    out = dict(members)
    if change.op == "add":
        out[change.record["name"]] = change.record
    else:
        out.pop(change.record["name"], None)
    return out


class MemberList:
    """The members at every index of the log this master holds (tick thread writes, any thread reads)."""

    def __init__(self, base: dict[str, dict], base_index: int = 0):
        self._lock = threading.Lock()
        self._base = dict(base)
        self._base_index = base_index
        self._changes: list[Change] = []

    # ---- following the log (tick thread, through the journal and the snapshots) ---------------------
    def appended(self, change: Change) -> None:
        with self._lock:
            self._changes = [c for c in self._changes if c.index < change.index]
            if change.index > self._base_index:
                self._changes.append(change)

    def truncated(self, from_index: int) -> None:
        with self._lock:
            self._changes = [c for c in self._changes if c.index < from_index]

    def reset(self, base: dict[str, dict], base_index: int) -> None:
        """A snapshot was installed: its members, at its last index; the log after it comes next."""
        with self._lock:
            self._base, self._base_index = dict(base), base_index
            self._changes = [c for c in self._changes if c.index > base_index]

    # ---- reading ------------------------------------------------------------------------------------
    def at(self, index: int) -> dict[str, dict]:
        with self._lock:
            members = self._base
            for c in self._changes:
                if c.index <= index:
                    members = apply(members, c)
            return members

    def current(self) -> dict[str, dict]:
        with self._lock:
            members = self._base
            for c in self._changes:
                members = apply(members, c)
            return members

    def last_change_index(self) -> int:
        """The index of the newest change in the log (0: none since the base)."""
        with self._lock:
            return self._changes[-1].index if self._changes else 0

    def by_address(self) -> dict[str, str]:
        return {address(r): n for n, r in self.current().items()}
