"""Process plumbing for the benchmarks: start pinned, wait for a port, read CPU time and RSS."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
#: The server under test runs on CPU 0; the load generator and the upstreams on CPU 1.
SERVER_CPU = 0
LOAD_CPU = 1


def cpus() -> int:
    return os.cpu_count() or 1


def taskset(cpu: int) -> list[str]:
    """A ``taskset -c CPU`` prefix, or nothing on a one-CPU machine."""
    return ["taskset", "-c", str(cpu)] if cpus() > 1 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout:g} s")


@contextlib.contextmanager
def running(
    argv: Sequence[str], *, port: int, cpu: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` pinned to ``cpu``, wait until ``port`` accepts, stop it afterwards."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*taskset(cpu), *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        wait_port(port, proc)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process (its own session: helpers it started too), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (granian serves from a child process)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants, from ``/proc/<pid>/stat``."""
    ticks = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / CLK_TCK


def rss_bytes(pid: int) -> dict[int, int]:
    """Resident set size of ``pid`` and each descendant, from ``/proc/<pid>/statm``."""
    out = {}
    for p in tree(pid):
        with contextlib.suppress(OSError):
            out[p] = int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
    return out


def pin(pids: Sequence[int], cpu: int) -> None:
    """Move running processes (all their threads) to ``cpu``."""
    if cpus() < 2:
        return
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), {cpu})


def python() -> str:
    return sys.executable
