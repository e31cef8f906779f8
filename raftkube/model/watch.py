"""One change seen by a watch: what a watch stream carries, in- or out-of-process."""

from __future__ import annotations

from dataclasses import dataclass

ADDED, MODIFIED, DELETED, ERROR = "ADDED", "MODIFIED", "DELETED", "ERROR"


@dataclass
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: dict  # the internal object (model/objects.py)
    revision: int
