"""Loopback load with wrk: one server under test on CPU 0, wrk and the upstream on CPU 1.

Every run records req/s, the latency percentiles wrk measured, errors, and the CPU time the
server process (and its children) spent per request, read from ``/proc/<pid>/stat`` before and
after the run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import payloads
import procs

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "wrk.lua"
MODES = ("json", "stream")
#: ``claude``: a streaming chat call on a Claude alias, translated from the Messages API.
#: ``azure``: ``AzureOpenAI``'s deployments route with ``api-key`` (what the floors serve);
#: ``unified``: ``OpenAI``'s ``/v1/chat/completions`` with an alias and ``Authorization: Bearer``.
ROUTES = ("azure", "unified")


@dataclass
class Result:
    target: str  # "nginx direct", "aiohttp floor", "httpx floor", "gateway"
    server: str  # "nginx", "uvicorn", "granian"
    mode: str  # "json" (non-streaming), "stream" (30-event SSE), "claude" (translated stream)
    connections: int
    requests: int
    duration_s: float
    rps: float
    errors: int
    cpu_us_per_request: float
    latency_us: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    rounds: int = 1

    @property
    def p50_us(self) -> float:
        return self.latency_us["50"]

    @property
    def p99_us(self) -> float:
        return self.latency_us["99"]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("bench: wrk is not installed (apt-get install -y wrk)")
    return binary


def body_file(results: Path, mode: str, route: str = "azure") -> Path:
    if mode == "claude":
        model = payloads.CLAUDE_ALIAS
    elif route == "unified":
        model = payloads.JSON_ALIAS if mode == "json" else payloads.STREAM_ALIAS
    else:
        model = payloads.JSON_DEPLOYMENT if mode == "json" else payloads.STREAM_DEPLOYMENT
    path = results / f"body-{route}-{mode}.json"
    path.write_bytes(payloads.request_body(model, stream=mode != "json"))
    return path


def url(port: int, mode: str, route: str = "azure") -> str:
    if route == "unified":
        return f"http://127.0.0.1:{port}{payloads.UNIFIED_PATH}"
    deployment = payloads.JSON_DEPLOYMENT if mode == "json" else payloads.STREAM_DEPLOYMENT
    return f"http://127.0.0.1:{port}{payloads.path(deployment)}"


def wrk_env(body: Path, key: str, route: str) -> dict[str, str]:
    auth = "bearer" if route == "unified" else "api-key"
    return {**os.environ, "BENCH_BODY": str(body), "BENCH_KEY": key, "BENCH_AUTH": auth}


def wrk_command(
    target_url: str, connections: int, duration_s: float, timeout_s: float = 10
) -> list[str]:
    return [
        *procs.taskset(procs.LOAD_CPU),
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        f"{timeout_s:g}s",
        "-s",
        str(LUA),
        target_url,
    ]


def wrk(
    target_url: str,
    body: Path,
    connections: int,
    duration_s: float,
    *,
    key: str = payloads.CLIENT_KEY,
    max_requests: int = 0,
    route: str = "azure",
) -> dict[str, Any]:
    """Run wrk once; with ``max_requests`` it is interrupted as soon as that many came back."""
    env = wrk_env(body, key, route)
    if max_requests:
        env["BENCH_MAX_REQUESTS"] = str(max_requests)
    argv = wrk_command(target_url, connections, duration_s)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("BENCH_COUNT_REACHED"):
            proc.send_signal(signal.SIGINT)  # wrk then reports and runs done()
    proc.wait(duration_s + 30)
    for line in lines:
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line[len("BENCH_RESULT ") :])
            return result
    raise RuntimeError(f"wrk gave no result: {''.join(lines)[-2000:]}")


def wrk_timed(
    pid: int,
    target_url: str,
    body: Path,
    connections: int,
    duration_s: float,
    *,
    key: str = payloads.CLIENT_KEY,
    route: str = "azure",
) -> tuple[dict[str, Any], float]:
    """One wrk run, and the CPU seconds the server ``pid`` (and its children) spent in it."""
    cpu0 = procs.cpu_seconds(pid)
    raw = wrk(target_url, body, connections, duration_s, key=key, route=route)
    return raw, procs.cpu_seconds(pid) - cpu0


def measure(
    target: str,
    server: str,
    pid: int,
    port: int,
    results: Path,
    *,
    connections: tuple[int, ...],
    duration_s: float,
    key: str = payloads.CLIENT_KEY,
    log: list[Result] | None = None,
    route: str = "azure",
    modes: tuple[str, ...] = MODES,
) -> list[Result]:
    """Warm up, then one wrk run per mode and connection count against ``port``."""
    out = []
    for mode in modes:
        body = body_file(results, mode, route)
        target_url = url(port, mode, route)
        wrk(target_url, body, max(connections), 1, key=key, route=route)  # warm-up
        for conns in connections:
            raw, cpu = wrk_timed(pid, target_url, body, conns, duration_s, key=key, route=route)
            requests = int(raw["requests"])
            errors = sum(raw["errors"].values())
            seconds = int(raw["duration_us"]) / 1e6
            result = Result(
                target=target,
                server=server,
                mode=mode,
                connections=conns,
                requests=requests,
                duration_s=round(seconds, 3),
                rps=round(requests / seconds, 1),
                errors=errors,
                cpu_us_per_request=round(cpu / requests * 1e6, 1) if requests else float("nan"),
                latency_us={k: float(v) for k, v in raw["latency_us"]["percentiles"].items()},
                cpu_s=round(cpu, 3),
            )
            print(
                f"  {target:<14} {server:<8} {mode:<6} c={conns:<3} {result.rps:>9.0f} req/s  "
                f"p50 {result.p50_us / 1000:6.2f} ms  p99 {result.p99_us / 1000:6.2f} ms  "
                f"cpu {result.cpu_us_per_request:6.0f} µs/req  errors {errors}",
                flush=True,
            )
            out.append(result)
            if log is not None:
                log.append(result)
        time.sleep(0.2)
    return out


def combine(results: list[Result]) -> list[Result]:
    """One row per target, server, mode and connection count, from several rounds.

    Requests, durations and CPU time add up (so req/s and CPU per request are over all rounds);
    latency percentiles are the mean of the rounds' percentiles.
    """
    groups: dict[tuple[str, str, str, int], list[Result]] = {}
    for r in results:
        groups.setdefault((r.target, r.server, r.mode, r.connections), []).append(r)
    out = []
    for (target, server, mode, conns), rs in groups.items():
        requests = sum(r.requests for r in rs)
        seconds = sum(r.duration_s for r in rs)
        cpu = sum(r.cpu_s for r in rs)
        out.append(
            Result(
                target=target,
                server=server,
                mode=mode,
                connections=conns,
                requests=requests,
                duration_s=round(seconds, 3),
                rps=round(requests / seconds, 1) if seconds else 0.0,
                errors=sum(r.errors for r in rs),
                cpu_us_per_request=round(cpu / requests * 1e6, 1) if requests else float("nan"),
                latency_us={
                    k: round(sum(r.latency_us[k] for r in rs) / len(rs), 1)
                    for k in rs[0].latency_us
                },
                cpu_s=round(cpu, 3),
                rounds=len(rs),
            )
        )
    return out
