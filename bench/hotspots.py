"""Where the gateway spends its time under load: py-spy samples, summed per function.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``); this module
sums them into own samples (the function was running) and inclusive samples (it was on the
stack), per function and per package. py-spy samples busy threads only, so percentages are of
the time the server was doing something.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(
    pid: int, seconds: float, out: Path, fmt: str, rate: int = 400
) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` (and its children) for ``seconds`` into ``out``."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    argv = [binary, "record", "--pid", str(pid), "--subprocesses", "--rate", str(rate)]
    argv += ["--duration", str(max(1, round(seconds))), "--format", fmt, "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _package(file: str) -> str:
    """``azure_asgi``, a distribution's top-level name, ``stdlib asyncio``, or ``bench``."""
    if file.startswith("azure_asgi/") or "/azure_asgi/" in file:
        return "azure_asgi"
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    match = re.search(r"lib/python3\.\d+/(.+)", file)
    if match:
        file = match.group(1)
    top = file.split("/", 1)[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return f"stdlib {top}"
    if top in ("floors", "launch"):
        return "bench"
    return top or "?"


def _ours(file: str) -> bool:
    return (file.startswith("azure_asgi/") or "/azure_asgi/" in file) and not file.endswith(
        ("_cli.py", "__main__.py")
    )


@dataclass
class Row:
    function: str
    own_pct: float
    inclusive_pct: float


@dataclass
class Summary:
    samples: int
    by_package: list[tuple[str, float]]  # own samples per package, %
    top_own: list[Row]  # every function, by own samples
    azure_asgi: list[Row]  # azure_asgi functions, by inclusive samples
    #: samples charged to the deepest azure_asgi line on the stack and what it called there
    #: ("line -> callee", %): where the gateway's time goes, library calls included.
    by_line: list[tuple[str, float]]


def _frames(stack: str) -> list[tuple[str, str, str]]:
    out = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame.strip())
        if match is not None:  # "process ..." / "thread ..." headers do not match
            out.append((match["func"], match["file"], match["line"] or ""))
    return out


def summarise(raw: Path, top: int = 15) -> Summary:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    total = 0
    for text in raw.read_text().splitlines():
        stack, _, count_text = text.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        names = [f"{func} ({file})" for func, file, _ in frames]
        own[names[-1]] += count
        packages[_package(frames[-1][1])] += count
        for name in set(names):
            inclusive[name] += count
        deepest = [i for i, (_, file, _) in enumerate(frames) if _ours(file)]
        if deepest:
            i = deepest[-1]
            func, file, line = frames[i]
            callee = "(itself)" if i + 1 == len(frames) else names[i + 1]
            lines[f"{func} ({file}:{line}) -> {callee}"] += count
    if not total:
        return Summary(0, [], [], [], [])

    def pct(n: int) -> float:
        return round(n * 100 / total, 1)

    top_own = [Row(n, pct(c), pct(inclusive[n])) for n, c in own.most_common(top)]
    ours = [
        Row(n, pct(own[n]), pct(c))
        for n, c in inclusive.most_common()
        if _ours(n.rsplit("(", 1)[1].rstrip(")"))
    ][:top]
    by_package = [(p, pct(c)) for p, c in packages.most_common(10)]
    by_line = [(k, pct(c)) for k, c in lines.most_common(20)]
    return Summary(total, by_package, top_own, ours, by_line)
