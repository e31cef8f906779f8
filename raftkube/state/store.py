"""What the registry sees of a replica of the store: four verbs, whatever replicates it.

``RaftStore`` (state/raft.py, a master's replica) and ``LocalStore`` (state/local.py, one replica without Raft,
for tests and tools) implement it; nothing above ``state/`` reaches into their state machine or watch hub.
"""

from __future__ import annotations

from typing import Protocol

from raftkube.state.machine import Event, Key


class StoreView(Protocol):
    """Read access to this replica's applied state (``StateMachine``'s read methods)."""

    revision: int
    epoch: int

    def get(self, key: Key) -> tuple[int, bytes] | None:
        """(resourceVersion, stored bytes) of one object, or None."""

    def list(self, kind: str, namespace: str | None = None) -> tuple[int, list[tuple[Key, int, bytes]]]:
        """(revision, [(key, resourceVersion, stored bytes)]) of a kind, one namespace or all."""

    def outcome(self, rid: str) -> list | None:
        """The result of the transaction with this request id, if it applied here (within the window)."""


class Store(Protocol):
    ready: bool  # caught up with the log: serving is allowed
    write_timeout_s: float  # how long submit and a consistent read wait at most

    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        """Commit one transaction (state/machine.py's ops); its per-op revisions, or an ApiError
        (``Timeout``: the outcome is unknown, the transaction may still apply later)."""

    def read(self, consistent: bool = True, timeout_s: float | None = None) -> StoreView:
        """This replica's state; ``consistent``: first wait until it reflects every write acknowledged before
        the call, on any replica (``Unavailable`` without a quorum)."""

    def watch(self, kind: str, cursor: int, wait_s: float) -> tuple[list[Event], int] | None:
        """Changes of one kind after revision ``cursor``, waiting up to ``wait_s`` for the first, and the
        revision now seen (the next cursor); ``Gone`` when they already left the ring; None once the store
        stops serving watches."""

    def on_watch_events(self, fn) -> None:
        """Call ``fn(kinds)`` (the kinds that changed; ``None``: every kind, or the store stopped serving
        watches) after events are published; ``fn`` must return at once (it runs on the apply thread)."""

    def close_watches(self) -> None:
        """End every watch (their streams finish) before the store itself closes."""

    def status(self) -> dict:
        """This replica's role, term, indexes and peers, for /raft."""

    def close(self) -> None: ...
