"""Serve one bench-only app on a loopback port: a floor, or the emulator as a (slow) upstream.

    python bench/launch.py floor-aiohttp --server uvicorn --port 9201 --upstream http://...
    python bench/launch.py floor-httpx --server granian --port 9202 --upstream http://...
    python bench/launch.py emulator --port 9300 --chunk-delay 1.0

Servers are configured the way ``azure-asgi serve`` configures them (one worker, uvloop,
httptools for uvicorn, no access log), so a floor and the gateway differ only in the app.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
APPS = {"floor-aiohttp": "floors:aiohttp_app", "floor-httpx": "floors:httpx_app"}


def serve_uvicorn(app: object, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def serve_granian(target: str, port: int) -> None:
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        target,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        working_dir=BENCH,
    ).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=[*APPS, "emulator"])
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", default="http://127.0.0.1:9000")
    parser.add_argument("--upstream-key", default="bench-upstream-key")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="emulator stream pacing")
    args = parser.parse_args()
    if args.app == "emulator":
        from azure_asgi.testing import AzureEmulator

        serve_uvicorn(AzureEmulator(api_keys=None, chunk_delay_s=args.chunk_delay), args.port)
        return
    # Read by floors.py at import, in this process or in granian's worker.
    os.environ["BENCH_UPSTREAM"] = args.upstream
    os.environ["BENCH_UPSTREAM_KEY"] = args.upstream_key
    if args.server == "granian":
        serve_granian(APPS[args.app], args.port)
        return
    sys.path.insert(0, str(BENCH))
    import floors

    serve_uvicorn(getattr(floors, APPS[args.app].split(":")[1]), args.port)


if __name__ == "__main__":
    main()
