"""The protobuf Namespace body ``kubectl create namespace`` sends (``raftkube/api/protobuf.py``)."""

from __future__ import annotations

import pytest

from raftkube.api import protobuf
from raftkube.model.errors import BadRequest, UnsupportedMediaType


def _field(num: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([num << 3 | 2, len(value)]) + value


def _entry(k: str, v: str) -> bytes:
    return _field(1, k.encode()) + _field(2, v.encode())


def _body(kind="Namespace", name="kns") -> bytes:
    meta = _field(1, name.encode()) + _field(11, _entry("team", "a")) + _field(12, _entry("note", "hi"))
    ns = _field(1, meta) + _field(2, _field(1, b"kubernetes"))  # spec.finalizers: ignored
    type_meta = _field(1, b"v1") + _field(2, kind.encode())
    return protobuf.MAGIC + _field(1, type_meta) + _field(2, ns) + _field(4, b"application/vnd.kubernetes.protobuf")


def test_a_namespace_body_decodes():
    assert protobuf.decode(_body()) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "kns", "labels": {"team": "a"}, "annotations": {"note": "hi"}}}


def test_other_kinds_and_malformed_bodies_are_refused():
    with pytest.raises(UnsupportedMediaType):
        protobuf.decode(_body(kind="Pod"))
    for bad in (b"{}", protobuf.MAGIC + b"\x0a\x7f", protobuf.MAGIC + b"\x0b", protobuf.MAGIC + b"\x0a\x80"):
        with pytest.raises(BadRequest):
            protobuf.decode(bad)
