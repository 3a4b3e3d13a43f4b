"""Paired slices: the gateway and what it is compared with, loaded in turn, seconds apart.

The loopback table measures each target once per round, a minute or more from the target it
is compared with; on a shared VM the machine's speed drifts by 10-20 % over such spans (the
same code moved by 0.14 on a ratio from one run to the next), which a ratio then reports as
the gateway's. Here both servers run side by side on the server CPU (the idle one costs
nothing) and take turns under the same load, in short slices ordered A B B A A B ..., so that
drift charges both alike. Each pair gives one ratio (of req/s, or at one connection of the
latency each side adds over nginx's); the target is judged on their median and the spread is
reported with it (docs/performance.md).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import loopback


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a running server, and what is sent to it."""

    label: str
    pid: int
    port: int
    mode: str
    route: str


@dataclass
class Slice:
    rps: float
    cpu_us_per_request: float
    requests: int
    p50_us: float


def load(side: Side, results: Path, connections: int, seconds: float) -> Slice:
    """One wrk slice against ``side``, with the CPU its server spent per request."""
    body = loopback.body_file(results, side.mode, side.route)
    target_url = loopback.url(side.port, side.mode, side.route)
    raw, cpu = loopback.wrk_timed(
        side.pid, target_url, body, connections, seconds, route=side.route
    )
    requests = int(raw["requests"])
    elapsed = int(raw["duration_us"]) / 1e6
    return Slice(
        rps=round(requests / elapsed, 1),
        cpu_us_per_request=round(cpu / requests * 1e6, 1) if requests else float("nan"),
        requests=requests,
        p50_us=float(raw["latency_us"]["percentiles"]["50"]),
    )


def compare(
    a: Side, b: Side, results: Path, *, pairs: int, connections: int, seconds: float
) -> dict[str, Any]:
    """``pairs`` pairs of slices, ``b`` measured against ``a`` (ratios are b / a)."""
    for side in (a, b):  # warm-up, not counted
        load(side, results, connections, 1)
    rows = []
    for i in range(pairs):
        if i % 2 == 0:
            sa, sb = load(a, results, connections, seconds), load(b, results, connections, seconds)
        else:
            sb, sa = load(b, results, connections, seconds), load(a, results, connections, seconds)
        rows.append({"a": asdict(sa), "b": asdict(sb), "ratio": round(sb.rps / sa.rps, 4)})
        print(
            f"  pair {i + 1}/{pairs}: {a.label} {sa.rps:>7.0f}  {b.label} {sb.rps:>7.0f} req/s  "
            f"ratio {sb.rps / sa.rps:.3f}  cpu {sa.cpu_us_per_request:.0f} / "
            f"{sb.cpu_us_per_request:.0f} µs/req",
            flush=True,
        )
    return {"a": a.label, "b": b.label, "connections": connections, "pairs": rows}


def added_p50(comparison: dict[str, Any], base_us: float) -> dict[str, float]:
    """For single-connection pairs: each side's p50 over ``base_us`` (nginx's own), b's added
    latency over a's per pair, and the median of those ratios."""
    rows = comparison["pairs"]
    ratios = [(r["b"]["p50_us"] - base_us) / (r["a"]["p50_us"] - base_us) for r in rows]
    return {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "added_a": statistics.median(r["a"]["p50_us"] - base_us for r in rows),
        "added_b": statistics.median(r["b"]["p50_us"] - base_us for r in rows),
    }


def summary(comparison: dict[str, Any]) -> dict[str, float]:
    """The median ratio of req/s, its range, and the median ratio of CPU per request."""
    rows = comparison["pairs"]
    ratios = [r["ratio"] for r in rows]
    cpu = [r["b"]["cpu_us_per_request"] / r["a"]["cpu_us_per_request"] for r in rows]
    return {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "cpu_median": statistics.median(cpu),
        "rps_a": statistics.median(r["a"]["rps"] for r in rows),
        "rps_b": statistics.median(r["b"]["rps"] for r in rows),
    }
