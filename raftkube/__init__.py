"""raftkube: the 2014 Kubernetes design with its object store replicated by Raft inside the masters."""

__version__ = "0.1.0"
