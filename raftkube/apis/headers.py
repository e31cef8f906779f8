"""HTTP headers of raftkube's own, shared by the API server and its clients.

Exactly-once writes: a client gives each write an id (``Raftkube-Request-Id``) that it sends unchanged on every
attempt, on whichever master, with the attempt's number (``Raftkube-Attempt``, 1 for the first). The masters
apply a write at most once per id and answer a replay with the first attempt's outcome (state/machine.py).
"""

REQUEST_ID_HEADER = "Raftkube-Request-Id"
ATTEMPT_HEADER = "Raftkube-Attempt"
#: the methods that write, and so carry a request id
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
