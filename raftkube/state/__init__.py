"""The replicated store: a deterministic state machine, its Raft node (pysyncobj) and the watch hub."""
