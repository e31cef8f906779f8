"""`raftkube verify`: a fault verifier built in (issue 20). Masters in network namespaces of their own, a
workload through the API, a seeded nemesis, pure checkers over the recorded history, and a report.

One job per module:

- ``linearizable``: Wing & Gong / Lowe search for compare-and-set registers (pure);
- ``checks``: the checkers over a history (registers, creates, watches, availability; pure);
- ``history``: the JSON-lines history the workload and the nemesis append to;
- ``netns``: the bridge, a namespace per master, their removal (also after a crash of an earlier run);
- ``cluster``: the masters in those namespaces (by address, as on separate hosts), on power-loss disks;
- ``nemesis``: the faults (kill, pause, partition, netem, power) and their seeded schedule;
- ``workload``: the clients (creates, deletes, compare-and-set registers, reads, watches);
- ``report``: the summary table, the verdict and the report folder (HTML with a timeline plot);
- ``run``: one verify run from start to report.
"""
