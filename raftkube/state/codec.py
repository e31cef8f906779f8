"""msgpack encoding of objects, transactions and snapshots: the store's only codec."""

from __future__ import annotations

import msgpack

_packer_opts = dict(use_bin_type=True)


def pack(value) -> bytes:
    return msgpack.packb(value, **_packer_opts)


def unpack(data: bytes):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def encode_object(obj: dict) -> bytes:
    """Objects are stored without their resourceVersion: the store knows it and stamps it on read."""
    md = obj.get("metadata")
    if md is not None and "resourceVersion" in md:
        md = dict(md)
        md.pop("resourceVersion")
        obj = {**obj, "metadata": md}
    return pack(obj)


def decode_object(data: bytes, rv: int) -> dict:
    obj = unpack(data)
    obj.setdefault("metadata", {})["resourceVersion"] = rv
    return obj
