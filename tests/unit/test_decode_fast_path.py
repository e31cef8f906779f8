"""api/decode.py's fast path: a small JSON body without \\u escapes skips the walk over every value, and still
gets every limit that can apply to it (numbers while parsing, depth by counting brackets)."""

import json

import pytest

from raftkube.api import decode
from raftkube.model.errors import BadRequest


def _walk_forbidden(monkeypatch):
    calls = []
    monkeypatch.setattr(decode, "check", lambda value, yaml_types=False: calls.append(value))
    return calls


def test_a_small_plain_body_is_decoded_without_the_walk(monkeypatch):
    calls = _walk_forbidden(monkeypatch)
    doc = {"id": "p", "labels": {"a": "b"}, "n": [1, 2.5, True, None, "é"]}
    assert decode.decode_json(json.dumps(doc, ensure_ascii=False).encode()) == doc
    assert calls == []


@pytest.mark.parametrize("raw", [b'{"a": "\\u00e9"}', b'{"a": "' + b"x" * 50_000 + b'"}'])
def test_an_escape_or_a_large_body_is_walked(monkeypatch, raw):
    calls = _walk_forbidden(monkeypatch)
    decode.decode_json(raw)
    assert len(calls) == 1


@pytest.mark.parametrize("number, message", [("9223372036854775808", "out of range"),
                                             ("-9223372036854775809", "out of range"),
                                             ("1e999", "non-finite"), ("-1e999", "non-finite")])
def test_numbers_are_checked_while_parsing(monkeypatch, number, message):
    _walk_forbidden(monkeypatch)
    with pytest.raises(BadRequest, match=message):
        decode.decode_json(f'{{"a": [{number}]}}'.encode())
    assert decode.decode_json(b'{"a": [9223372036854775807, -9223372036854775808, 1.5e300]}') == {
        "a": [2 ** 63 - 1, -(2 ** 63), 1.5e300]}


def test_depth_at_the_limit_passes_and_one_more_is_refused_with_or_without_brackets_in_strings():
    at_limit = "[" * decode.MAX_DEPTH + "]" * decode.MAX_DEPTH
    assert decode.decode_json(at_limit.encode()) is not None
    over = "[" * (decode.MAX_DEPTH + 1) + "]" * (decode.MAX_DEPTH + 1)
    with pytest.raises(BadRequest, match="nests deeper"):
        decode.decode_json(over.encode())
    # brackets inside strings push the count over the fast path's bound but do not nest
    padded = '["' + "[{" * 200 + '"]'
    assert decode.decode_json(padded.encode()) == ["[{" * 200]
