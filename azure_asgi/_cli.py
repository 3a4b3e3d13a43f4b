"""The ``azure-asgi`` command: ``serve``, ``emulator``, ``demo`` and ``check``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._config import ConfigError, GatewayConfig

__all__ = ["console", "create_app", "demo_banner", "demo_config", "main", "routing_table"]

_CONFIG_ENV = "AZURE_ASGI_CONFIG"
DEMO_KEY = "demo-key"
_DEMO_BODY = (
    '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello from azure-asgi"}]}'
)
EMULATOR_KEY = "emulator-key"
#: ``serve`` without ``--server``. uvicorn: in docs/performance.md both serve the same req/s,
#: but uvicorn answers single requests sooner and holds 1,000 streams in ~65 % of granian's RSS.
DEFAULT_SERVER = "uvicorn"
# What serve allows a request head by default; _heads.DEFAULT_MAX_HEAD_BYTES for httptools
# (kept apart so that the CLI does not import uvicorn's httptools protocol to build --help).
_DEFAULT_MAX_HEAD_BYTES = 64 * 1024


def _fail(message: str) -> int:
    print(f"azure-asgi: {message}", file=sys.stderr)
    return 2


def _load(path: str) -> GatewayConfig:
    return GatewayConfig.load(path)


def routing_table(config: GatewayConfig) -> str:
    """The resolved routing table, one row per alias and resource; never a secret."""
    rows = [("alias", "resource", "deployment", "family", "style", "auth", "endpoint", "fallbacks")]
    for res in config.resources:
        style = "openai-compatible" if res.kind == "openai" else res.api_style
        for alias, dep in res.deployments.items():
            rows.append(
                (
                    alias,
                    res.name,
                    dep.deployment,
                    dep.family or "openai",
                    style,
                    res.auth.method,
                    res.endpoint,
                    ",".join(dep.fallbacks) or "-",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    callers = (
        "anonymous" if config.clients.anonymous else f"{len(config.clients.api_keys)} client key(s)"
    )
    lines.append("")
    lines.append(
        f"api-version {config.api_version} · timeout {config.timeout_s:g}s · "
        f"{config.retries.max_attempts} attempts · callers: {callers} · "
        f"direct keys: {'on' if config.direct_keys.enabled else 'off'}"
    )
    return "\n".join(lines)


def create_app() -> Any:
    """uvicorn factory for ``serve --workers N``: each worker builds its gateway from the file."""
    from ._app import AzureGateway

    return AzureGateway(os.environ[_CONFIG_ENV])


def _serve_app() -> Any:
    """The factory ``serve`` hands its workers: :func:`create_app`, the collector tuned."""
    app = create_app()
    _tune_collector()
    return app


#: Container allocations between two young-generation collections in ``serve`` (CPython's
#: default is 700). Each collection walks every young object still alive, which in a busy
#: gateway means every request in flight: at 700 that happens every few requests.
_GC_YOUNG_THRESHOLD = 20_000


def _tune_collector() -> None:
    """Keep the cyclic garbage collector's walks off the request path of ``serve``.

    - Everything built at start-up is frozen: a gateway process holds tens of thousands of
      long-lived objects (the config models, pydantic, azure-identity, the servers' modules)
      that every full collection would walk again.
    - Young collections run every :data:`_GC_YOUNG_THRESHOLD` allocations instead of 700:
      requests free what they allocate by reference counting, and the collector only finds
      the cycles, which are few and small; memory stays flat (docs/performance.md).

    Only for the standalone server: a host application decides this for its own process.
    """
    import gc

    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)


def _require_uvicorn(command: str) -> str | None:
    """None when uvicorn is installed, else the line that says how to get it."""
    if _installed("uvicorn"):
        return None
    return (
        f"`azure-asgi {command}` runs a server, which needs uvicorn (an optional dependency): "
        "pip install 'azure-asgi[serve]'"
    )


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        config = _load(args.config)
    except ConfigError as exc:
        return _fail(f"invalid config {args.config}: {exc}")
    print(routing_table(config))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = _load(args.config)
    except ConfigError as exc:
        return _fail(f"invalid config {args.config}: {exc}")
    if args.server == "granian":
        return _serve_granian(args)
    missing = _require_uvicorn("serve")
    if missing:
        return _fail(missing)
    import uvicorn

    options = _uvicorn_options(args)
    if args.workers > 1:
        os.environ[_CONFIG_ENV] = os.path.abspath(args.config)
        uvicorn.run(
            "azure_asgi._cli:_serve_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=args.access_log,
            log_level=args.log_level,
            **options,
        )
        return 0
    from ._app import AzureGateway

    app = AzureGateway(config)
    _tune_collector()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
        log_level=args.log_level,
        **options,
    )
    return 0


def _uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's settings for ``serve``: no ``server`` header (what software answers is
    nobody's business, and every answer saves a header line), and what bounds a request head
    and the work in flight, per HTTP implementation:

    - h11: ``h11_max_incomplete_event_size`` (h11's default 16 KiB) is the most a head may
      buffer while incomplete; past it h11 raises and uvicorn answers 400 and closes.
    - httptools (uvicorn's default when installed): llhttp keeps no size limit, httptools
      joins header pieces as they come and uvicorn exposes no setting, so a head is
      unbounded (a 5 MB one is served). ``_heads.HeadBoundedHttpToolsProtocol`` applies the
      same ``h11_max_incomplete_event_size`` to it and answers 431.
    - zttp (uvicorn's optional HTTP/1.1 + HTTP/2 parser): not selected here.

    Neither bounds how long a head may take to arrive (uvicorn has no such timeout;
    ``timeout_keep_alive`` covers idle connections between requests); ``limit_concurrency``
    answers 503 to a request whose head completes while that many connections or tasks are
    open.
    """
    http = "azure_asgi._heads:HeadBoundedHttpToolsProtocol" if _installed("httptools") else "h11"
    return {
        "server_header": False,
        "http": http,
        "h11_max_incomplete_event_size": args.max_header_bytes or _DEFAULT_MAX_HEAD_BYTES,
        "limit_concurrency": args.limit_concurrency,
    }


def _at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}, not {value}")
        return value

    return parse


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _serve_granian(args: argparse.Namespace) -> int:
    if args.limit_concurrency is not None or args.max_header_bytes is not None:
        # Granian has no 503-when-full limit, and its parser bounds heads itself: say so
        # rather than run without the bound that was asked for.
        return _fail(
            "--limit-concurrency and --max-header-bytes apply to uvicorn: drop them, or "
            "use --server uvicorn"
        )
    if not _installed("granian"):
        return _fail(
            "--server granian needs granian, an optional dependency: "
            "pip install 'azure-asgi[granian]'"
        )
    # Granian's main process only starts and watches its workers, and each worker builds its
    # gateway from the file. Run as granian's own command in a fresh interpreter (same pid),
    # that process holds none of the gateway's imports: aiohttp, pydantic and the rest cost it
    # ~25 MB of RSS otherwise (docs/performance.md, "Memory"). The config was checked above.
    os.environ[_CONFIG_ENV] = os.path.abspath(args.config)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, _granian_argv(args))  # noqa: S606 - granian, this interpreter
    return 0  # not reached: execv returns only by raising


#: Granian's log levels (its ``--log-level``); uvicorn's ``trace`` has no peer there.
_GRANIAN_LEVELS = ("critical", "error", "warning", "warn", "info", "debug", "notset")


def _granian_argv(args: argparse.Namespace) -> list[str]:
    """The granian command ``serve --server granian`` becomes, on this interpreter."""
    level = args.log_level.lower()
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--loop",
        "uvloop" if _installed("uvloop") else "asyncio",
        "--log-level",
        level if level in _GRANIAN_LEVELS else "info",
        "--access-log" if args.access_log else "--no-access-log",
        "azure_asgi._cli:_serve_app",
    ]


def _cmd_emulator(args: argparse.Namespace) -> int:
    missing = _require_uvicorn("emulator")
    if missing:
        return _fail(missing)
    import uvicorn

    from .testing import AzureEmulator

    keys = None if args.no_auth else tuple(args.api_key or [EMULATOR_KEY])
    accepted = ", ".join(keys or ["any"])
    print(f"Azure OpenAI emulator on http://{args.host}:{args.port} (api-key: {accepted})")
    uvicorn.run(
        AzureEmulator(api_keys=keys), host=args.host, port=args.port, log_level=args.log_level
    )
    return 0


#: Where the demo mounts its emulator on the gateway's own server (docs/testing.md).
DEMO_EMULATOR_PREFIX = "/_emulator"
_CLAUDE_BODY = (
    '{"model": "claude-sonnet", "max_tokens": 256, '
    '"messages": [{"role": "user", "content": "Hello from azure-asgi"}]}'
)


def demo_config(emulator_url: str) -> dict[str, Any]:
    """The demo gateway's config: one alias per kind of model, all on the emulator."""
    return {
        "resources": [
            {
                "name": "emulator",
                "endpoint": emulator_url,
                "auth": {"api_key": EMULATOR_KEY},
                # One alias per kind of model, so every operation can be tried.
                "deployments": {
                    "gpt-4o": "gpt-4o-demo",
                    "gpt-4o-mini": "gpt-4o-mini-demo",
                    "text-embedding-3-small": "embedding-demo",
                    "gpt-image-1": "image-demo",
                    "whisper": "whisper-demo",
                    "tts": "tts-demo",
                    "sora": "sora-demo",
                    "claude-sonnet": {"deployment": "claude-sonnet-demo", "family": "anthropic"},
                },
            }
        ],
        "clients": {"api_keys": [DEMO_KEY]},
    }


def demo_banner(base: str, config: dict[str, Any]) -> str:
    """What ``demo`` prints: the aliases it serves, a curl line per API family, a snippet."""
    deployments: dict[str, Any] = config["resources"][0]["deployments"]
    width = max(len(alias) for alias in deployments)
    aliases = []
    for alias, target in deployments.items():
        family = target.get("family", "openai") if isinstance(target, dict) else "openai"
        aliases.append(f"  {alias.ljust(width)}  ({family})")
    return "\n".join(
        [
            "azure-asgi demo: the gateway in front of the built-in Azure OpenAI emulator",
            f"(no Azure account needed). Gateway: {base}  ·  client key: {DEMO_KEY}",
            "",
            "Aliases served (GET /v1/models lists them as azure/<alias>):",
            *aliases,
            "",
            "Try, OpenAI-shaped:",
            "",
            f"  curl {base}/v1/chat/completions -H 'api-key: {DEMO_KEY}' "
            f"-H 'content-type: application/json' -d '{_DEMO_BODY}'",
            "",
            "Claude (Anthropic Messages):",
            "",
            f"  curl {base}/anthropic/v1/messages -H 'x-api-key: {DEMO_KEY}' "
            "-H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' "
            f"-d '{_CLAUDE_BODY}'",
            "",
            '  # streaming: add "stream": true to a body and -N to curl',
            "",
            "Python (Claude too: model='claude-sonnet', translated to its Messages API):",
            "",
            "  from openai import OpenAI",
            f"  client = OpenAI(base_url='{base}/v1', api_key='{DEMO_KEY}')",
            "  reply = client.chat.completions.create(",
            "      model='gpt-4o', messages=[{'role': 'user', 'content': 'Hello'}]",
            "  )",
            "  print(reply.choices[0].message.content)",
            "",
            "Press Ctrl+C to stop.",
            "",
        ]
    )


class _DemoApp:
    """The gateway, with the emulator mounted under ``DEMO_EMULATOR_PREFIX`` on the same
    server: one port, one log, and nothing to mistake for the gateway's address."""

    def __init__(self, gateway: Any, emulator: Any) -> None:
        self._gateway = gateway
        self._emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(DEMO_EMULATOR_PREFIX + "/"):
            root = scope.get("root_path", "") + DEMO_EMULATOR_PREFIX
            await self._emulator({**scope, "root_path": root}, receive, send)
        else:
            await self._gateway(scope, receive, send)


class _HideEmulatorCalls(logging.Filter):
    """Drops uvicorn access-log lines for requests to the mounted emulator."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith(DEMO_EMULATOR_PREFIX) for a in args)


def _loopback(host: str) -> str:
    """Where the gateway reaches its own server: the host, or loopback for a wildcard."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _cmd_demo(args: argparse.Namespace) -> int:
    missing = _require_uvicorn("demo")
    if missing:
        return _fail(missing)
    import uvicorn

    from ._app import AzureGateway
    from .testing import AzureEmulator

    try:
        # Bound first: the printed addresses are right even for --port 0, and a port in use
        # is one line, not a server traceback.
        sock = socket.create_server((args.host, args.port))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    port = sock.getsockname()[1]
    base = f"http://{_loopback(args.host)}:{port}"
    config = demo_config(base + DEMO_EMULATOR_PREFIX)
    gateway = AzureGateway(config)
    app = _DemoApp(gateway, AzureEmulator(api_keys=(EMULATOR_KEY,)))
    print(demo_banner(base, config), flush=True)
    # Ctrl+C must stop the demo even when a launcher started it with SIGINT ignored (as
    # shells do for background jobs): uvicorn restores this handler once it has shut down.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level))
    # The gateway's own calls to the mounted emulator are not the user's requests.
    logging.getLogger("uvicorn.access").addFilter(_HideEmulatorCalls())
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        # uvicorn stops gracefully on the first Ctrl+C, then re-raises the signal for the
        # process: that ends here, as the conventional 130, without a traceback.
        return 130
    finally:
        sock.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azure-asgi", description="Azure OpenAI gateway as an ASGI library."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway as a standalone server")
    serve.add_argument("--config", required=True, help="YAML or JSON config file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--access-log", action="store_true", help="log every request (off: faster)")
    serve.add_argument(
        "--server",
        choices=("uvicorn", "granian"),
        default=DEFAULT_SERVER,
        help="ASGI server (default: uvicorn; granian needs pip install 'azure-asgi[granian]')",
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--limit-concurrency",
        type=_at_least(1, "--limit-concurrency"),
        default=None,
        metavar="N",
        help="answer 503 to new requests while N connections or requests are open "
        "(uvicorn; default: no limit)",
    )
    serve.add_argument(
        "--max-header-bytes",
        type=_at_least(1024, "--max-header-bytes"),
        default=None,
        metavar="BYTES",
        help=f"largest request line plus headers of one request (uvicorn; default "
        f"{_DEFAULT_MAX_HEAD_BYTES}); larger heads are refused (431, or 400 with h11)",
    )
    serve.set_defaults(func=_cmd_serve)

    emu = sub.add_parser("emulator", help="run the built-in Azure OpenAI emulator")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=9000)
    emu.add_argument(
        "--api-key", action="append", help=f"accepted api-key (default {EMULATOR_KEY})"
    )
    emu.add_argument("--no-auth", action="store_true", help="accept any request")
    emu.add_argument("--log-level", default="info")
    emu.set_defaults(func=_cmd_emulator)

    demo = sub.add_parser("demo", help="gateway + emulator with a sample config: try it with curl")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--log-level", default="info")
    demo.set_defaults(func=_cmd_demo)

    check = sub.add_parser("check", help="validate a config and print the routing table")
    check.add_argument("--config", required=True)
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
