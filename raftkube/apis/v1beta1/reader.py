"""Typed reading of v1beta1 wire JSON: a wrong type is recorded under its WIRE path and read as the default.

Every conversion ``*_from_wire(r, body)`` reads through one ``Reader`` so that all type errors of a body are
reported at once (``r.errs``), each with the path of the bad field as the client wrote it.
"""

from __future__ import annotations

from typing import Any

from raftkube.model.errors import FieldErrors


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Reader:
    """Typed access to wire dicts; a wrong type is recorded under its wire path and read as the default."""

    def __init__(self) -> None:
        self.errs = FieldErrors()

    def _bad(self, path: str, value: Any, want: str) -> None:
        self.errs.invalid(path, value, f"must be {want}")

    def as_dict(self, value: Any, path: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._bad(path, value, "an object")
            return {}
        return value

    def dict_(self, d: dict, key: str, path: str) -> dict:
        return self.as_dict(d.get(key), join(path, key))

    def has(self, d: dict, key: str) -> bool:
        return d.get(key) is not None

    def list_(self, d: dict, key: str, path: str) -> list:
        v = d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            self._bad(join(path, key), v, "a list")
            return []
        return v

    def str_(self, d: dict, key: str, path: str, default: str = "") -> str:
        v = d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            self._bad(join(path, key), v, "a string")
            return default
        return v

    def ts(self, d: dict, key: str, path: str) -> str:
        """An RFC 3339 timestamp; ``null`` reads as ``""``."""
        return self.str_(d, key, path)

    def int_(self, d: dict, key: str, path: str, default: int = 0) -> int:
        v = d.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            self._bad(join(path, key), v, "an integer")
            return default
        return v

    def bool_(self, d: dict, key: str, path: str) -> bool:
        v = d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            self._bad(join(path, key), v, "a boolean")
            return False
        return v

    def int_or_str(self, d: dict, key: str, path: str) -> int | str:
        v = d.get(key)
        if v is None:
            return 0
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            self._bad(join(path, key), v, "an integer or a string")
            return 0
        return v

    def str_map(self, d: dict, key: str, path: str) -> dict[str, str]:
        m = self.dict_(d, key, path)
        out = {}
        for k, v in m.items():
            if not isinstance(v, str):
                self._bad(join(path, key), v, "a map of strings")
                continue
            out[k] = v
        return out

    def str_list(self, d: dict, key: str, path: str) -> list[str]:
        out = []
        for i, v in enumerate(self.list_(d, key, path)):
            if not isinstance(v, str):
                self._bad(f"{join(path, key)}[{i}]", v, "a string")
                continue
            out.append(v)
        return out

    def items(self, d: dict, key: str, path: str):
        """``(item_dict, item_path)`` for each entry of a list of objects."""
        base = join(path, key)
        for i, v in enumerate(self.list_(d, key, path)):
            p = f"{base}[{i}]"
            yield self.as_dict(v, p), p
