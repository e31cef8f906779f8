"""The REST layer below HTTP: validates, fills system fields, proposes, reads back (2014's pkg/registry).

Both the HTTP API and the in-process client of the controllers (``registry.client.LocalClient``) go through
it, so every write is validated and stamped the same way, whoever makes it.
"""

from raftkube.registry.client import LocalClient
from raftkube.registry.registry import Registry, WriteRequest

__all__ = ["LocalClient", "Registry", "WriteRequest"]
