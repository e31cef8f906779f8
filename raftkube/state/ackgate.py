"""Acknowledgements of log entries wait until this node's journal has those entries on disk.

Raft counts an entry as committed once a majority *stores* it. With the journal synced once per tick
(state/journal.py, group commit), "appended" and "on disk" are two moments, and an acknowledgement must not
leave before the second:

- a follower's answer to AppendEntries (``next_node_idx``, success) is held until its journal is synced up to
  the index it acknowledges;
- the leader counts itself towards every commit, so a follower's answer for index N is handed to the Raft
  code only once the leader's own journal is synced up to N (with one follower answer, leader + follower =
  a majority of three, both on disk).

Messages to (or from) one peer leave in the order they were offered. Held messages are dropped when the log
loses entries (a conflict truncated it, a snapshot replaced it) or the term changes: they would acknowledge
entries that are no longer the ones they named. Dropping an acknowledgement is always safe: the leader
sends the entries again.
"""

from __future__ import annotations

from collections import deque
from typing import Callable


class AckGate:
    """Holds (peer, message) pairs until ``synced()`` reaches their index; all calls on the tick thread."""

    def __init__(self, synced: Callable[[], int], term: Callable[[], int],
                 release: Callable[[object, dict], None]):
        self._synced = synced
        self._term = term
        self._release = release
        self._held: dict[object, deque] = {}
        self.stats = {"held": 0, "dropped": 0}

    def offer(self, peer, message: dict, index: int) -> bool:
        """Pass the message on now (False) or hold it (True) until the journal is synced to ``index``;
        ``index`` 0 for a message that acknowledges nothing (it still waits behind held ones)."""
        queue = self._held.get(peer)
        if not queue and index <= self._synced():
            return False
        if queue is None:
            queue = self._held[peer] = deque()
        queue.append((index, self._term(), message))
        self.stats["held"] += 1
        return True

    def pump(self) -> int:
        """Release what the journal now covers, in order per peer; returns how many were released."""
        if not self._held:
            return 0
        synced, term, released = self._synced(), self._term(), 0
        for peer in list(self._held):
            queue = self._held[peer]
            while queue and queue[0][0] <= synced:
                index, held_term, message = queue.popleft()
                if held_term != term:
                    self.stats["dropped"] += 1
                    continue
                self._release(peer, message)
                released += 1
            if not queue:
                del self._held[peer]
        return released

    def drop_all(self) -> None:
        """The log lost entries: nothing held may be acknowledged any more."""
        self.stats["dropped"] += sum(len(q) for q in self._held.values())
        self._held.clear()

    def __len__(self) -> int:
        return sum(len(q) for q in self._held.values())
