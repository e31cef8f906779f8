"""The little of Kubernetes' protobuf encoding that stock kubectl sends: ``kubectl create namespace`` POSTs a
Namespace as ``application/vnd.kubernetes.protobuf`` (client-go's typed client), whatever the server prefers.

A body is the magic ``k8s\\0`` and a ``runtime.Unknown`` (1: typeMeta {1: apiVersion, 2: kind}, 2: raw); the raw
Namespace is 1: ObjectMeta {1: name, 2: generateName, 11: labels, 12: annotations (map entries {1: key,
2: value})}. Only those fields are read; anything else of the Namespace (its spec's finalizers) is ignored.
Other kinds in protobuf are a 415 (the client's JSON bodies are the rule).
"""

from __future__ import annotations

from raftkube.model.errors import BadRequest, UnsupportedMediaType

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


def _varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise BadRequest("malformed protobuf body: truncated varint")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message; length-delimited values are bytes."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise BadRequest("malformed protobuf body: a field runs past the end")
            v, i = data[i:i + n], i + n
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            v, i = int.from_bytes(data[i:i + size], "little"), i + size
        else:
            raise BadRequest(f"malformed protobuf body: wire type {wire} is not supported")
        out.append((num, v))
    return out


def _text(v) -> str:
    try:
        return v.decode("utf-8") if isinstance(v, bytes) else ""
    except UnicodeDecodeError:
        raise BadRequest("malformed protobuf body: a string is not UTF-8") from None


def _map(entries: list[bytes]) -> dict[str, str]:
    out = {}
    for e in entries:
        kv = dict(fields(e))
        out[_text(kv.get(1, b""))] = _text(kv.get(2, b""))
    return out


def _object_meta(data: bytes) -> dict:
    md: dict = {}
    labels, annotations = [], []
    for num, v in fields(data):
        if num == 1:
            md["name"] = _text(v)
        elif num == 2:
            md["generateName"] = _text(v)
        elif num == 11:
            labels.append(v)
        elif num == 12:
            annotations.append(v)
    if labels:
        md["labels"] = _map(labels)
    if annotations:
        md["annotations"] = _map(annotations)
    return md


def decode(raw: bytes) -> dict:
    """A protobuf body -> the JSON-shaped v1 object (Namespace only)."""
    if not raw.startswith(MAGIC):
        raise BadRequest("malformed protobuf body: it does not start with the k8s envelope")
    unknown = fields(raw[len(MAGIC):])
    type_meta = dict(fields(next((v for n, v in unknown if n == 1), b"")))
    api_version, kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
    if kind != "Namespace":
        raise UnsupportedMediaType(f"{MEDIA_TYPE} bodies are accepted for Namespaces only (got {kind or 'no kind'}): "
                                   "send application/json")
    body = next((v for n, v in unknown if n == 2), b"")
    meta = next((v for n, v in fields(body) if n == 1), b"")
    return {"apiVersion": api_version or "v1", "kind": kind, "metadata": _object_meta(meta)}
