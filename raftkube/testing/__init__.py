"""The test harness of raftkube, shared by ``tests/`` and ``bench/`` (never imported by raftkube itself:
an import-linter contract says so).

* ``waiting``: ``poll_until`` (wait for a condition with a deadline) and ``holds_for``.
* ``processes``: ``free_ports``, ``start_cli`` (``python -m raftkube.cli ...`` logging to a file),
  ``stop_process`` (signal, wait, and fail loudly if it had to kill).
* ``cluster``: ``MasterCluster`` (real masters on free loopback ports) and ``running_cluster``.
* ``load``: ``Writers``, threads that create pods and time every acknowledged write.
* ``objects``: the test objects, internal model and v1beta1 bodies (``pod``, ``rc``, ``pod_body``, ...).

The commonly used names are importable from the package itself: ``from raftkube.testing import
MasterCluster, poll_until``.
"""

from raftkube.testing.cluster import MasterCluster, running_cluster
from raftkube.testing.objects import pod_body, rc_body, service_body
from raftkube.testing.processes import free_ports, start_cli, stop_process
from raftkube.testing.waiting import holds_for, poll_until

__all__ = ["MasterCluster", "free_ports", "holds_for", "pod_body", "poll_until", "rc_body", "running_cluster",
           "service_body", "start_cli", "stop_process"]
