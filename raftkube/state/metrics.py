"""A Prometheus collector of one master's store and Raft figures, read when ``/metrics`` is scraped.

Nothing here runs on the Raft tick thread or on the write path: the figures are the counters the store keeps
anyway (``RaftStore.status()``, the journal's ``SyncStats``, ``BackgroundSnapshots``) and, per kind, the objects
and encoded bytes the state machine holds (counted under its lock at scrape time: O(objects), about a
millisecond for 10 000). Works over ``LocalStore`` too (the figures it does not have are left out).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

ROLES = ("leader", "follower", "candidate")


def _gauge(name, doc, value, labels=None):
    g = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    g.add_metric(list((labels or {}).values()), value)
    return g


def _counter(name, doc, value):
    c = CounterMetricFamily(name, doc)
    c.add_metric([], value)
    return c


class StoreCollector:
    def __init__(self, store):
        self.store = store

    def collect(self):
        store = self.store
        st = store.status()
        role = st.get("role")
        g = GaugeMetricFamily("raftkube_raft_role", "1 for this master's current Raft role", labels=["role"])
        for r in ROLES:
            g.add_metric([r], 1.0 if role == r else 0.0)
        yield g
        for key, name, doc in (("term", "raftkube_raft_term", "Current Raft term"),
                               ("commitIndex", "raftkube_raft_commit_index", "Highest log index known committed"),
                               ("appliedIndex", "raftkube_raft_applied_index", "Highest log index applied"),
                               ("logLength", "raftkube_raft_log_entries", "Entries in the log (since the snapshot)"),
                               ("revision", "raftkube_store_revision", "Store revision (last resourceVersion)"),
                               ("epoch", "raftkube_raft_leader_epoch", "Replicated leader epoch"),
                               ("storeBytes", "raftkube_store_bytes", "Encoded bytes of every stored object"),
                               ("quotaBytes", "raftkube_store_quota_bytes", "Store quota (encoded bytes)")):
            if st.get(key) is not None:
                yield _gauge(name, doc, st[key])
        yield _gauge("raftkube_raft_ready", "1 once this master caught up with the log", 1.0 if st.get("ready") else 0.0)
        if "hasQuorum" in st:
            yield _gauge("raftkube_raft_has_quorum", "1 if this master sees a quorum", 1.0 if st["hasQuorum"] else 0.0)
        if st.get("peers"):
            g = GaugeMetricFamily("raftkube_raft_peer_connected", "1 if the Raft connection to a peer is up",
                                  labels=["peer"])
            for p in st["peers"]:
                g.add_metric([p["name"]], 1.0 if p["connected"] else 0.0)
            yield g
        changes = getattr(store, "role_changes", None)
        if changes is not None:
            c = CounterMetricFamily("raftkube_raft_role_changes", "Times this master took a Raft role "
                                    "(role=leader: elections it won)", labels=["role"])
            for r in ROLES:
                c.add_metric([r], changes.get(r, 0))
            yield c
        if "proposals" in st:
            p = st["proposals"]
            yield _counter("raftkube_raft_proposed_entries", "Raft entries this master proposed", p["entries"])
            yield _counter("raftkube_raft_proposed_transactions", "Transactions carried by the entries this "
                           "master proposed (transactions per entry = this / proposed_entries)", p["txns"])
            yield _counter("raftkube_raft_proposal_retries", "Proposals retried (no leader, queue full)",
                           p["retries"])
        if "tickGapMaxMs" in st:
            yield _gauge("raftkube_raft_tick_gap_max_seconds", "Longest gap between two Raft ticks since start",
                         st["tickGapMaxMs"] / 1000)
            yield _gauge("raftkube_raft_tick_gap_recent_max_seconds", "Longest gap between two Raft ticks in "
                         "the last 10-20 s", st["tickGapRecentMaxMs"] / 1000)
        if "reads" in st:
            r = st["reads"]
            c = CounterMetricFamily("raftkube_raft_linearizable_reads", "Linearizable read barriers, by how "
                                    "they were served", labels=["path"])
            c.add_metric(["lease"], r.get("leased", 0))
            c.add_metric(["round"], r.get("rounds", 0))
            c.add_metric(["ask_leader"], r.get("asks", 0))
            yield c
        journal = getattr(store, "journal_stats", None)
        if journal is not None:
            yield from self._journal(journal)
        snaps = getattr(store, "snapshots", None)
        if snaps is not None:
            yield _counter("raftkube_raft_snapshots", "Snapshots this master wrote", snaps.count)
            yield _gauge("raftkube_raft_snapshot_last_duration_seconds", "Duration of the last snapshot written",
                         snaps.last_duration_ms / 1000)
            yield _gauge("raftkube_raft_snapshot_last_bytes", "Size of the last snapshot written", snaps.last_bytes)
        yield from self._objects()

    @staticmethod
    def _journal(stats):
        with stats._lock:
            buckets, total, syncs, entries, nbytes = list(stats.buckets), stats.seconds, stats.syncs, \
                stats.entries, stats.bytes
        cumulative, acc = [], 0
        for bound, n in zip(list(stats.BOUNDS) + [float("inf")], buckets):
            acc += n
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), acc))
        h = HistogramMetricFamily("raftkube_journal_sync_duration_seconds", "fdatasync of the Raft journal "
                                  "(one covers every entry appended since the last)")
        h.add_metric([], cumulative, total)
        yield h
        yield _counter("raftkube_journal_syncs", "Syncs of the Raft journal", syncs)
        yield _counter("raftkube_journal_synced_entries", "Entries covered by journal syncs (entries per sync "
                       "= this / syncs)", entries)
        yield _counter("raftkube_journal_written_bytes", "Bytes appended to the Raft journal", nbytes)

    def _objects(self):
        machine = self.store.read(consistent=False)
        counts = GaugeMetricFamily("raftkube_store_objects", "Objects in the store, by kind", labels=["kind"])
        sizes = GaugeMetricFamily("raftkube_store_object_bytes", "Encoded bytes of the stored objects, by kind",
                                  labels=["kind"])
        with machine.lock:
            per_kind = [(kind, len(objs), sum(len(v[1]) for v in objs.values()))
                        for kind, objs in machine.objects.items()]
            applied = machine.applied_entries
        for kind, n, size in sorted(per_kind):
            counts.add_metric([kind], n)
            sizes.add_metric([kind], size)
        yield counts
        yield sizes
        yield _counter("raftkube_raft_applied_entries", "Raft entries applied to this master's state machine",
                       applied)


__all__ = ["StoreCollector"]
