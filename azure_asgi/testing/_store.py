"""The emulator's in-memory objects (files, batches, responses, videos, fine-tuning jobs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Store", "Tracked", "page"]


@dataclass(slots=True)
class Tracked:
    """A stored object as sent on the wire, plus what the emulator keeps beside it.

    ``polls`` counts retrievals: asynchronous objects (batches, videos, fine-tuning jobs,
    background responses) move one status forward per retrieval, deterministically.
    """

    obj: dict[str, Any]
    data: bytes = b""  # a file's content
    polls: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)  # input items, job events
    later: dict[str, Any] | None = None  # a background response's finished fields


class Store:
    """Every stateful object of one emulator, by id, in creation order.

    ``emulator.store.files`` (and ``batches``, ``responses``, ``videos``, ``jobs``) map an id
    to its :class:`Tracked`: ``.obj`` is the object as the API returns it, ``.data`` a file's
    bytes. Tests may read them, and seed files with ``emulator.seed_file(...)``.
    """

    def __init__(self) -> None:
        self.files: dict[str, Tracked] = {}
        self.batches: dict[str, Tracked] = {}
        self.responses: dict[str, Tracked] = {}
        self.videos: dict[str, Tracked] = {}
        self.jobs: dict[str, Tracked] = {}
        self._counter = 0

    def clear(self) -> None:
        """Forget every object and restart the id sequence (ids repeat after a reset)."""
        for table in (self.files, self.batches, self.responses, self.videos, self.jobs):
            table.clear()
        self._counter = 0

    def new_id(self, prefix: str, length: int = 32) -> str:
        """A fresh id such as ``file-<32 hex>``: unique, and the same on every run."""
        self._counter += 1
        digest = hashlib.sha256(f"{prefix}{self._counter}".encode()).hexdigest()
        return prefix + digest[:length]

    def add_file(
        self, filename: str, purpose: str, data: bytes, *, created: int, expires: int | None = None
    ) -> Tracked:
        file_id = self.new_id("file-")
        obj: dict[str, Any] = {
            "bytes": len(data),
            "created_at": created,
            "filename": filename,
            "id": file_id,
            "object": "file",
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        if expires is not None:
            obj["expires_at"] = expires
        tracked = Tracked(obj, data)
        self.files[file_id] = tracked
        return tracked


def _limit(value: str | None, default: int) -> int:
    try:
        limit = int(value) if value is not None else default
    except ValueError:
        return default
    return min(max(limit, 1), 10_000)


def page(
    objects: Iterable[Mapping[str, Any]],
    query: Mapping[str, str],
    *,
    order: str = "desc",
    limit: int = 20,
) -> dict[str, Any]:
    """A cursor page of ``objects`` (given oldest first), honouring ``limit``/``after``/``order``.

    ``{"object": "list", "data", "first_id", "last_id", "has_more"}``: the SDK asks for the
    next page with ``after=<last id>``.
    """
    items = list(objects)
    if query.get("order", order) != "asc":
        items.reverse()
    after = query.get("after")
    if after:
        index = next((i for i, obj in enumerate(items) if obj.get("id") == after), None)
        items = items[index + 1 :] if index is not None else []
    size = _limit(query.get("limit"), limit)
    data = items[:size]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": len(items) > size,
    }
