"""Ids that carry their resource, so any process of any replica can route them (pure).

A stateful object (file, batch, stored response, video, fine-tuning job) lives on the one Azure
resource that created it. The gateway hands callers ``<azure id>~<resource>`` and strips the
suffix before it calls Azure, so later calls on that id reach the same resource with no shared
store. Ids without a known suffix (made outside the gateway) are passed through untouched.
"""

from __future__ import annotations

from collections.abc import Collection, MutableMapping
from typing import Any

from ._operations import STATEFUL_OBJECTS

__all__ = ["REQUEST_ID_FIELDS", "tag", "tag_ids", "untag", "untag_fields"]

SEP = "~"

#: Fields of stateful objects (and of list envelopes) that hold ids of other stateful objects.
_RESPONSE_ID_FIELDS = (
    "input_file_id",
    "output_file_id",
    "error_file_id",
    "training_file",
    "validation_file",
    "previous_response_id",
    "fine_tuning_job_id",
)
#: Request body fields (and list query parameters) that name stateful objects.
REQUEST_ID_FIELDS = (
    "input_file_id",
    "training_file",
    "validation_file",
    "previous_response_id",
    "after",
    "before",
)
_REQUEST_ID_FIELDS = frozenset(REQUEST_ID_FIELDS)


def tag(object_id: str, resource: str) -> str:
    return f"{object_id}{SEP}{resource}"


def untag(value: str, resources: Collection[str]) -> tuple[str, str | None]:
    """``("file-1", "eastus")`` from ``"file-1~eastus"``; unknown suffixes are not tags."""
    base, sep, resource = value.rpartition(SEP)
    if sep and base and resource in resources:
        return base, resource
    return value, None


def tag_ids(data: Any, resource: str) -> bool:
    """Tag, in place, the ids of stateful objects in an Azure answer; True if any changed.

    Handles one object, a list envelope (``data`` plus ``first_id``/``last_id``), and stream
    events that wrap an object (``{"type": "response.created", "response": {...}}``).
    """
    if not isinstance(data, dict):
        return False
    changed = False
    kind = data.get("object")
    # A deletion answers with "<object>.deleted" for some kinds (videos): same id, same tag.
    stateful = isinstance(kind, str) and kind.removesuffix(".deleted") in STATEFUL_OBJECTS
    if stateful and isinstance(data.get("id"), str):
        data["id"] = tag(data["id"], resource)
        changed = True
    for name in _RESPONSE_ID_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value:
            data[name] = tag(value, resource)
            changed = True
    files = data.get("result_files")
    if isinstance(files, list):
        data["result_files"] = [tag(f, resource) if isinstance(f, str) else f for f in files]
        changed = True
    items = data.get("data")
    if data.get("object") == "list" and isinstance(items, list):
        listed = False
        for item in items:
            if tag_ids(item, resource):
                listed = True
        if listed:
            # Cursors are ids too: a caller pages with after=<last_id>.
            for name in ("first_id", "last_id"):
                if isinstance(data.get(name), str):
                    data[name] = tag(data[name], resource)
            changed = True
    inner = data.get("response")
    if isinstance(inner, dict):
        changed = tag_ids(inner, resource) or changed
    return changed


def untag_fields(data: MutableMapping[str, Any], resources: Collection[str]) -> set[str]:
    """Strip tags, in place, from the id fields of a request; the resources they named."""
    named: set[str] = set()
    if _REQUEST_ID_FIELDS.isdisjoint(data):
        return named  # most requests name no object: one set test instead of six look-ups
    for name in REQUEST_ID_FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            base, resource = untag(value, resources)
            if resource is not None:
                data[name] = base
                named.add(resource)
    return named
