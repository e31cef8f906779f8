"""The model's validation with v1beta1 field paths: what kubecfg checks before sending, with the messages
the server would answer (``desiredState.manifest.containers[0].image: required value``)."""

from __future__ import annotations

from raftkube.apis.v1beta1.errors import causes_to_wire, invalid_error
from raftkube.model import validation
from raftkube.model.errors import Cause


def causes_of(obj: dict) -> list[Cause]:
    """All field errors of an internal object, with v1beta1 paths."""
    return causes_to_wire(obj.get("kind", ""), obj, validation.causes_of(obj))


def validate(obj: dict) -> None:
    """Raise ``Invalid`` (v1beta1 paths and message) carrying every field error of ``obj``, if it has any."""
    causes = causes_of(obj)
    if causes:
        raise invalid_error(obj.get("kind", ""), (obj.get("metadata") or {}).get("name") or "", causes)
