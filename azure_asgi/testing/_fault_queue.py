"""Which request takes an injected fault: :class:`Match`, and the queue of armed faults."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._faults import (
    CutStreamFault,
    Fault,
    HoldStreamFault,
    SlowFault,
    SlowStreamFault,
    StreamErrorFault,
    TruncatedJsonFault,
)

if TYPE_CHECKING:
    from ._requests import RecordedRequest

__all__ = ["Effects", "FaultQueue", "Match", "Predicate"]

Predicate = Callable[["RecordedRequest"], bool]


@dataclass(frozen=True)
class Match:
    """Which requests a fault is for; every field left out matches anything.

    - ``method``: ``"POST"``, ``"GET"``... (case-insensitive).
    - ``path``: a string is a substring of the request path (``"/chat/completions"``); a
      compiled :func:`re.compile` pattern is searched in it (``re.compile(r"/files/[^/]+$")``).
    - ``deployment``: the deployment in the path, or the ``model`` of a v1 or Anthropic body.
    - ``nth``: the fault skips the first ``nth - 1`` requests that match the rest, counted from
      when it was injected, then takes the next ``times`` ones.

    ::

        emulator.inject(Fault.status(500), match=Match(path="/chat/completions", nth=2))
        emulator.inject(Fault.slow(1), times=None, match=Match(deployment="gpt-4o"))  # every one

    ``match=`` also takes any callable ``(RecordedRequest) -> bool``.
    """

    method: str | None = None
    path: str | re.Pattern[str] | None = None
    deployment: str | None = None
    nth: int = 1

    def __post_init__(self) -> None:
        if self.nth < 1:
            raise ValueError("nth counts from 1: Match(nth=1) is the first matching request")

    def __call__(self, request: RecordedRequest) -> bool:
        """Whether ``request`` matches (``nth`` is counted by the queue, not here)."""
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        if self.deployment is not None and request.deployment != self.deployment:
            return False
        if isinstance(self.path, str):
            return self.path in request.path
        if self.path is not None:
            return self.path.search(request.path) is not None
        return True


@dataclass(slots=True)
class Effects:
    """The combined effect of the faults one request took."""

    delay_s: float = 0.0
    answer: Fault | None = None  # a status, a dropped connection or a malformed body
    chunk_delay_s: float | None = None
    cut_after: int | None = None
    hold: HoldStreamFault | None = None
    stream_error: StreamErrorFault | None = None
    truncate_at: int | None = None

    def add(self, fault: Fault) -> None:
        """Fold ``fault`` in (the queue gives each group at most one)."""
        if isinstance(fault, SlowFault):
            self.delay_s = fault.delay_s
        elif isinstance(fault, SlowStreamFault):
            self.chunk_delay_s = fault.delay_s
        elif isinstance(fault, CutStreamFault):
            self.cut_after = fault.after_chunks
        elif isinstance(fault, HoldStreamFault):
            self.hold = fault
        elif isinstance(fault, StreamErrorFault):
            self.stream_error = fault
        elif isinstance(fault, TruncatedJsonFault):
            self.truncate_at = fault.at_bytes
        else:
            self.answer = fault


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int | None  # None: every matching request, until reset()
    matches: Predicate
    skip: int


class FaultQueue:
    """Injected faults waiting for matching requests, in injection order."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def __bool__(self) -> bool:
        return bool(self._armed)

    def __len__(self) -> int:
        return len(self._armed)

    def add(
        self,
        fault: Fault,
        times: int | None,
        *,
        match: Match | Predicate | None = None,
        path_contains: str | None = None,
    ) -> None:
        if not isinstance(fault, Fault) or type(fault) is Fault:
            raise TypeError(f"inject() takes a Fault (Fault.status(...), ...), not {fault!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: every matching request)")
        checks: list[Predicate] = []
        if path_contains is not None:
            checks.append(Match(path=path_contains))
        if match is not None:
            checks.append(match)
        skip = match.nth - 1 if isinstance(match, Match) else 0
        self._armed.append(_Armed(fault, times, _all(checks), skip))

    def clear(self) -> None:
        self._armed.clear()

    def take(self, request: RecordedRequest) -> Effects:
        """Consume the first armed fault of each group matching ``request``; combine them.

        One request takes at most one answer (status, drop, malformed body), one delay, one
        stream fault and one body fault, so faults of a group injected one after the other hit
        successive requests, while a delay and an error injected together hit the same one.
        """
        effects = Effects()
        taken: set[str] = set()
        for armed in list(self._armed):
            fault = armed.fault
            if fault.group in taken or not armed.matches(request):
                continue
            if armed.skip:
                armed.skip -= 1
                continue
            taken.add(fault.group)
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed.remove(armed)
            effects.add(fault)
        return effects


def _all(checks: list[Predicate]) -> Predicate:
    if len(checks) == 1:
        return checks[0]
    return lambda request: all(check(request) for check in checks)
