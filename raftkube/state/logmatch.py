"""AppendEntries without needless truncation: entries a follower already has are not written again.

pysyncobj truncates a follower's log after ``prevLogIdx`` whenever the follower has more entries, then appends
the message's entries, even when they are the very entries it already holds (the leader re-sends after it
moved a follower's next index back, which happens routinely when answers to pipelined entries come in). Raft
removes entries only on a *conflict* (same index, different term). The truncation cost a rewrite and another
sync, and it briefly removed from the journal entries this follower had already acknowledged.

``trim_known_entries`` rewrites such a message before pysyncobj handles it: the entries that match the log are
dropped and ``prevLogIdx``/``prevLogTerm`` moved to the last of them, so pysyncobj appends only what is new and
truncates only at a real conflict. A message whose entries are all known and end before the log does is left
alone (pysyncobj then removes the follower's unconfirmed tail, which a new leader without those entries would
do anyway).
"""

from __future__ import annotations

from typing import Sequence


def trim_known_entries(log: Sequence[tuple], message: dict) -> dict:
    """``message`` (an append_entries dict), or a copy without the entries ``log`` already holds.

    ``log`` is the follower's journal: (command, index, term) tuples with consecutive indexes.
    """
    entries = message.get("entries")
    if not entries or "prevLogIdx" not in message or message.get("transmission") is not None or not log:
        return message
    first, last = log[0][1], log[-1][1]
    prev = message["prevLogIdx"]
    if prev is None or prev < first or prev > last or log[prev - first][2] != message["prevLogTerm"]:
        return message  # pysyncobj answers "reset" for a log that does not match
    known = 0
    while known < len(entries) and entries[known][1] <= last and log[entries[known][1] - first][2] == entries[known][2]:
        known += 1
    if known == 0 or (known == len(entries) and entries[-1][1] < last):
        return message
    trimmed = dict(message)
    trimmed["prevLogIdx"], trimmed["prevLogTerm"] = entries[known - 1][1], entries[known - 1][2]
    trimmed["entries"] = list(entries[known:])
    return trimmed
