"""core/v1 as an ``ApiVersion`` with no resources yet: nothing routes to it, so no conversion is reached."""

from __future__ import annotations

from types import MappingProxyType

from raftkube.apis.version import ApiVersion


class V1(ApiVersion):
    name = "v1"
    resources = MappingProxyType({})

    def _none(self, *args, **kwargs):
        raise NotImplementedError("core/v1 serves no resources yet")

    decode = decode_status = decode_binding = encode = encode_list = field_selector = _none
    error = status_body = success_body = _none


VERSION = V1()
