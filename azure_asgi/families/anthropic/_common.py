"""Placeholder until the shared translation pieces land (replaced by the real module)."""

from __future__ import annotations

from typing import Any

__all__ = ["anthropic_error"]


def anthropic_error(status: int, body: bytes) -> dict[str, Any]:
    raise NotImplementedError
