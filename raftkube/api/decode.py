"""Request bodies into plain JSON values, with limits: every bad body is a 400 Status, never a 500 or a hang.

The limits (README, API section): nesting depth ``MAX_DEPTH``, keys per object ``MAX_KEYS``, characters per
string (and per key) ``MAX_STRING``, values in one body ``MAX_VALUES``, integers within int64; strict UTF-8
(invalid bytes and lone surrogates, also as ``\\ud800`` escapes, are refused); ``NaN``/``Infinity`` refused.
YAML bodies are refused when they use anchors or aliases (checked on the event stream, before anything is
composed, so an alias bomb costs nothing) and get the same limits. The body size limit is the caller's.
"""

from __future__ import annotations

import json
import math
import re

from raftkube.model.errors import BadRequest

MAX_DEPTH = 100
MAX_KEYS = 10_000
MAX_STRING = 1024 * 1024
MAX_VALUES = 200_000
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None


def _json_depth_ok(text: str) -> None:
    """Nesting depth of the JSON text, counted without recursion (strings stripped first)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # fewer opening brackets than the limit, strings included: it cannot nest deeper
    depth = 0
    for m in _BRACKETS.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _no_constant(name: str):
    raise BadRequest(f"the request body contains {name}, which is not a JSON number")


def _checked_int(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise BadRequest(f"the number {v} in the request body is out of range (64-bit integers)")
    return v


def _checked_float(v: float) -> float:
    if not math.isfinite(v):  # NaN, Infinity, or 1e999 in JSON
        raise BadRequest("the request body contains a non-finite number (NaN or Infinity)")
    return v


def _int(digits: str) -> int:
    return _checked_int(int(digits))


def _float(digits: str) -> float:
    return _checked_float(float(digits))


def _small(text: str) -> bool:
    """Whether a JSON text is too short to break the key, string or value limits, whatever it holds (a key
    costs at least 4 characters, ``"":0``, a value at least 2, ``0,``)."""
    return len(text) < min(4 * MAX_KEYS, MAX_STRING, 2 * MAX_VALUES)


def decode_json(raw: bytes):
    text = _text(raw)
    _json_depth_ok(text)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_int=_int, parse_float=_float)
    except BadRequest:
        raise
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"malformed JSON in the request body: {exc}") from None
    # Numbers were checked while parsing; a small text without a \u escape can break no other limit (valid
    # UTF-8 holds no lone surrogate, only an escape can make one; keys of JSON objects are strings): the walk
    # over every value is then skipped (it was a quarter of a create's API time, in-process)
    if not _small(text) or "\\u" in text:
        check(value)
    return value


def decode_yaml(raw: bytes):
    import yaml  # noqa: PLC0415 (YAML bodies are rare)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = _text(raw)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise BadRequest("YAML anchors and aliases are not accepted in a request body")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        value = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise BadRequest(f"malformed YAML in the request body: {exc}") from None
    check(value, yaml_types=True)
    return value


def check(value, yaml_types: bool = False) -> None:
    """Raise BadRequest unless ``value`` is plain JSON within the limits (iterative: no recursion)."""
    stack = [value]
    seen = 0
    while stack:
        v = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise BadRequest(f"the request body has more than {MAX_VALUES} values")
        if isinstance(v, str):
            _check_string(v)
        elif isinstance(v, bool) or v is None:
            pass
        elif isinstance(v, int):
            _checked_int(v)
        elif isinstance(v, float):
            _checked_float(v)
        elif isinstance(v, dict):
            if len(v) > MAX_KEYS:
                raise BadRequest(f"an object in the request body has more than {MAX_KEYS} keys")
            for k in v:
                if not isinstance(k, str):
                    raise BadRequest(f"the key {k!r} in the request body is not a string")
                _check_string(k)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            what = "YAML value" if yaml_types else "value"
            raise BadRequest(f"the {what} {str(v)[:40]!r} of type {type(v).__name__} is not a JSON value")


def _check_string(s: str) -> None:
    if len(s) > MAX_STRING:
        raise BadRequest(f"a string in the request body is longer than {MAX_STRING} characters")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("a string in the request body contains a lone surrogate (not valid Unicode)") from None
