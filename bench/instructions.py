"""CPU instructions per request under valgrind's callgrind: a measure no throttled machine moves.

req/s and CPU time move with the machine (a throttled VM once ran Python 7x slower, and every
ratio of that day meant nothing). Instructions executed per request do not: the same code on
the same input executes the same instructions, however fast the CPU runs them. So this counts,
for the aiohttp floor and for ``azure-asgi serve`` on uvicorn, each against the canned nginx
upstream of ``run.py``:

- each server runs under ``valgrind --tool=callgrind`` (about 50x slower), pinned like the
  loopback runs; wrk sends ``--warm`` requests, then two counted runs of ``--small`` and
  ``--requests`` requests, the counters zeroed before each (``callgrind_control -z``) and
  dumped after it. Each wrk run opens its connections anew, which costs as much in both runs,
  so the difference of the two totals over the difference of their requests is the figure:
  what one more request costs, with no connection set-up in it;
- the same targets as the loopback table: JSON and the 30-event stream for both, and the
  translated Claude stream for the gateway.

Instructions are not time: a system call, a cache miss and the kernel's share of a request
count for nothing here (the kernel's work is about the same for the floor and the gateway,
the same sockets and bytes), so a ratio of instructions is a little wider than the ratio of CPU
time the loopback run measures. It is a measure to compare code by, not a target.

Under valgrind every request outlives the 20 ms after which the gateway starts watching for
its caller to leave (a task per request, which a native run at this load never starts), so the
gateway is served here with that watch pushed out of reach: what is counted is the native path.

    apt-get install -y valgrind nginx wrk
    python bench/instructions.py [--requests 800] [--small 200] [--warm 200] [--json out.json]
        [--only gateway-stream gateway-claude] [--keep DIR]

With ``--keep DIR`` the dumps stay: ``callgrind_annotate DIR/callgrind-gateway-claude.<pid>.2``
shows where one target's instructions go, function by function.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import loopback  # noqa: E402
import payloads  # noqa: E402
import procs  # noqa: E402
import run  # noqa: E402
import upstreams  # noqa: E402

#: (target, server, mode): what is counted, in this order.
TARGETS = [
    ("floor", "json"),
    ("gateway", "json"),
    ("floor", "stream"),
    ("gateway", "stream"),
    ("gateway", "claude"),
]

_SERVE_NATIVE = """\
import sys
import azure_asgi._disconnects as disconnects
disconnects.WATCH_AFTER_S = 3600.0  # see bench/instructions.py: the native path is counted
from azure_asgi._cli import main
sys.exit(main(sys.argv[1:]))
"""


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"bench: {binary} is not installed (apt-get install -y valgrind wrk)")
    return path


def _wrk(port: int, mode: str, route: str, n: int, connections: int, workdir: Path) -> None:
    """Send ``n`` requests with wrk and return once their answers are in."""
    body = loopback.body_file(workdir, mode, route)
    key = payloads.CLIENT_KEY if route == "unified" else payloads.UPSTREAM_KEY
    env = {**loopback.wrk_env(body, key, route), "BENCH_MAX_REQUESTS": str(n)}
    # Stopped by the script after n answers; a long time-out, since valgrind is slow.
    argv = loopback.wrk_command(loopback.url(port, mode, route), connections, 3600, 300)
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "BENCH_COUNT_REACHED" in line:
                break
        else:
            raise RuntimeError(f"wrk ended before {n} answers: {argv!r}")
        proc.terminate()


def _check(port: int, mode: str, route: str, workdir: Path) -> None:
    """One request by hand: counting a server that answers with errors would mean nothing."""
    body = loopback.body_file(workdir, mode, route).read_bytes()
    key = payloads.CLIENT_KEY if route == "unified" else payloads.UPSTREAM_KEY
    headers = {"content-type": "application/json"}
    if route == "unified":
        headers["authorization"] = f"Bearer {key}"
    else:
        headers["api-key"] = key
    url = urlsplit(loopback.url(port, mode, route))
    path = f"{url.path}?{url.query}" if url.query else url.path
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request("POST", path, body, headers)
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    complete = data.rstrip().endswith(b"[DONE]") if mode != "json" else b'"choices"' in data
    if answer.status != 200 or not complete:
        raise RuntimeError(f"{mode} through port {port}: HTTP {answer.status}: {data[:300]!r}")


def _total(dump: Path) -> int:
    text = dump.read_text()
    found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no instruction total in {dump}")
    return int(found.group(1))


def count(target: str, mode: str, upstream: str, args: argparse.Namespace, workdir: Path) -> float:
    """Instructions per request of one target, in steady state."""
    port = procs.free_port()
    if target == "floor":
        argv = run.floor_argv("floor-aiohttp", "uvicorn", port, upstream)
        route = "azure"
    else:
        config = run.gateway_config(workdir / "gateway.json", upstream)
        script = workdir / "serve_native.py"
        script.write_text(_SERVE_NATIVE)
        serve = run.serve_argv(config, "uvicorn", port)
        argv = [sys.executable, str(script), *serve[serve.index("serve") :]]
        route = "unified"
    out = workdir / f"callgrind-{target}-{mode}"
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
    log = workdir / f"{target}-{mode}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*procs.taskset(procs.SERVER_CPU), *valgrind, *argv],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    control = ["callgrind_control"]
    try:
        procs.wait_port(port, proc, timeout=900)
        _check(port, mode, route, workdir)
        _wrk(port, mode, route, args.warm, args.connections, workdir)
        for n in (args.small, args.requests):
            subprocess.run([*control, "-z", str(proc.pid)], check=True, capture_output=True)
            _wrk(port, mode, route, n, args.connections, workdir)
            subprocess.run([*control, "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        procs.stop(proc, timeout=300)
    dumps = [Path(f"{out}.{proc.pid}.{i}") for i in (1, 2)]
    if not all(d.exists() for d in dumps):
        raise RuntimeError(f"callgrind wrote no dumps for {target} {mode} (see {log})")
    small, large = (_total(d) for d in dumps)
    per = (large - small) / (args.requests - args.small)
    # Each window's own average carries its connection set-up; they should lie above the
    # difference, the smaller window further. A collection of the cyclic GC is lumpy: one in
    # the smaller window only would make the difference too small, and this shows it.
    print(
        f"  {target}-{mode}: {small / args.small / 1000:,.1f}k over {args.small}, "
        f"{large / args.requests / 1000:,.1f}k over {args.requests}",
        flush=True,
    )
    return per


def table(counts: dict[str, float]) -> str:
    rows = ["| target | mode | k instructions / request | against |", "|---|---|---|---|"]
    for target, mode in TARGETS:
        key = f"{target}-{mode}"
        if key not in counts:
            continue
        against = ""
        if target == "gateway" and mode == "claude" and "gateway-stream" in counts:
            ratio = counts[key] / counts["gateway-stream"]
            against = f"{ratio:.2f}x the gateway's pass-through stream"
        elif target == "gateway" and f"floor-{mode}" in counts:
            against = f"{counts[key] / counts[f'floor-{mode}']:.2f}x the aiohttp floor"
        rows.append(f"| {target} | {mode} | {counts[key] / 1000:,.0f} | {against} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="the larger counted run")
    parser.add_argument("--small", type=int, default=200, help="the smaller counted run")
    parser.add_argument("--warm", type=int, default=200, help="sent first, not counted")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", nargs="*", help="targets such as gateway-json floor-stream")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    parser.add_argument(
        "--keep", type=Path, help="copy callgrind's dumps here (for callgrind_annotate)"
    )
    args = parser.parse_args()
    for binary in ("valgrind", "callgrind_control"):
        _need(binary)
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx's worker (another user) reads the canned answers in it
        with upstreams.canned_upstream(workdir) as upstream:
            if upstream.kind != "nginx":
                raise SystemExit("bench: instructions needs nginx as the canned upstream")
            for target, mode in TARGETS:
                key = f"{target}-{mode}"
                if args.only and key not in args.only:
                    continue
                started = time.monotonic()
                counts[key] = count(target, mode, upstream.url, args, workdir)
                took = time.monotonic() - started
                print(f"{key:16} {counts[key] / 1000:9,.1f} k instructions/request ({took:.0f} s)")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for dump in workdir.glob("callgrind-*"):
                    shutil.copy2(dump, args.keep / dump.name)
    print()
    print(table(counts))
    if args.json:
        args.json.write_text(json.dumps(counts, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same hashing in every server it starts
    main()
