"""Property-based fuzzing of every route, over HTTP only.

Whatever a caller sends (any method, any spelling of any route, junk headers, junk query
strings, JSON that is deep, huge, NaN-laden or full of lone surrogates, broken multipart, random
bytes), the gateway must:

- answer within a few seconds (a hang fails);
- never answer 5xx itself: a 5xx must be the upstream's (``is_gateway_error: false``);
- answer every error (status >= 400) as JSON in the contract's one shape (section 7), with
  ``status_code`` equal to the HTTP status;
- never raise out of its ASGI callable (a real server would turn that into a plain-text 500
  or a dropped connection).

The gateway runs in front of the in-process emulator and is driven through
``httpx.ASGITransport``. httpx normalises dot segments away, so the raw path travels in a
private header that a small server shim (:class:`_Server`) puts back into the scope exactly as
uvicorn would (``raw_path`` as sent, ``path`` percent-decoded). Hypothesis's ``@given`` cannot
drive an async test, so each test is sync and runs its requests on one shared event loop
(:class:`_Harness`, one per module). Only HTTP behaviour is asserted: these tests hold across
any rewrite of the request path.

The explicit regression tests at the end pin known defects; the multipart boundary ones run in
a subprocess because the defect freezes the event loop (``asyncio.wait_for`` cannot interrupt
that).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import string
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator

from .conftest import CLIENT_KEY, EMULATOR_KEY, make_config
from .test_chaos import error_shape_problems

#: Longest any one request may take before it counts as hung.
REQUEST_TIMEOUT_S = 10.0

#: The header carrying the raw request target past httpx (which would normalise it).
_RAW_TARGET = b"x-fuzz-raw-target"

FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,  # no example database: a failure prints its example
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
}


# -------------------------------------------------------------------------------- harness


class _Server:
    """What uvicorn does around an ASGI app, for the in-process transport.

    Restores the raw request target the client meant (``raw_path`` as sent, ``path``
    percent-decoded, ``query_string``), records anything the app raises, and answers a
    plain-text 500 when the app ends without starting a response, as uvicorn does.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.crashes: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            headers = []
            for name, value in scope["headers"]:
                if name == _RAW_TARGET:
                    raw_path, _, query = value.partition(b"?")
                    scope["raw_path"] = raw_path
                    scope["path"] = unquote(raw_path.decode("ascii"))
                    scope["query_string"] = query
                else:
                    headers.append((name, value))
            scope["headers"] = headers
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            self.crashes.append(traceback.format_exc())
            if started:
                raise
        if not started:
            body = b"Internal Server Error"
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def fuzz_config() -> dict[str, Any]:
    """Three resources on the one emulator: deployments style, a second region, and v1 style
    (where ``model`` is rewritten in the body); direct keys on, with every allowed endpoint
    reaching the in-process emulator (no network)."""
    config = make_config("http://emulator", timeout_s=5)
    config["resources"] += [
        {
            "name": "westus",
            "endpoint": "http://emulator",
            "auth": {"api_key": EMULATOR_KEY},
            "deployments": {
                "gpt-4o": "west-gpt4o",
                "text-embedding-3-small": "my-embedding",
                "dall-e-3": "my-dalle",
                "whisper": "my-whisper",
                "tts": "my-tts",
                "sora": "my-sora",
                "claude-sonnet": {"deployment": "my-claude", "family": "anthropic"},
                "gpt-4o-fb": {"deployment": "my-fb", "fallbacks": ["gpt-4o", "gpt-4o-v1"]},
            },
        },
        {
            "name": "centralus",
            "endpoint": "http://emulator",
            "api_style": "v1",
            "auth": {"api_key": EMULATOR_KEY},
            "deployments": {"gpt-4o-v1": "v1-gpt4o"},
        },
    ]
    config["direct_keys"] = {
        "enabled": True,
        "allowed_endpoints": ["http://emulator", "https://*.openai.azure.com"],
    }
    return config


@dataclass
class Req:
    """One fuzzed request; ``target`` is the raw request target (path and query), ASCII."""

    method: str
    target: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def __repr__(self) -> str:
        body = (
            self.body
            if len(self.body) <= 400
            else self.body[:400] + b"...(%d bytes)" % len(self.body)
        )
        target = self.target if len(self.target) <= 300 else self.target[:300] + "..."
        headers = [(k, v if len(v) <= 200 else v[:200] + b"...") for k, v in self.headers]
        return f"Req({self.method} {target!r}, headers={headers!r}, body={body!r})"


class _Failures(logging.Handler):
    """The exceptions the gateway logged (its catch-all turns a bug into a 500 and a log line)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.seen.append(f"{type(exc).__name__}: {str(exc)[:200]}")


class _Harness:
    """One event loop, one emulator and one gateway, shared by a module's examples."""

    def __init__(self) -> None:
        self.logged = _Failures()
        logging.getLogger("azure_asgi").addHandler(self.logged)
        self.runner = asyncio.Runner()
        self.runner.run(self._start())

    async def _start(self) -> None:
        self.emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
        # An emulator bug must surface as an upstream 500 (is_gateway_error false), not as the
        # gateway's "upstream unreachable".
        upstream = httpx.ASGITransport(app=self.emulator, raise_app_exceptions=False)
        self.upstream = httpx.AsyncClient(transport=upstream)
        self.gateway = AzureGateway(fuzz_config(), http_client=self.upstream)
        self.server = _Server(self.gateway)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.server, raise_app_exceptions=False),
            base_url="http://gateway",
            timeout=REQUEST_TIMEOUT_S,
        )

    def send(self, req: Req) -> httpx.Response:
        self.server.crashes.clear()
        self.logged.seen.clear()
        self.emulator.requests.clear()  # keep memory flat over thousands of examples
        try:
            return self.runner.run(asyncio.wait_for(self._send(req), REQUEST_TIMEOUT_S))
        except TimeoutError:
            pytest.fail(f"no answer within {REQUEST_TIMEOUT_S:g} s (hung): {req!r}")

    async def _send(self, req: Req) -> httpx.Response:
        headers = [(_RAW_TARGET, req.target.encode("ascii")), *req.headers]
        return await self.client.request(req.method, "/", headers=headers, content=req.body)

    def check(self, req: Req) -> httpx.Response:
        """Send ``req`` and assert what every answer must satisfy."""
        resp = self.send(req)
        crashes = list(self.server.crashes)
        assert not crashes, (
            f"the gateway raised out of its ASGI app (HTTP {resp.status_code}):\n"
            f"{crashes[-1][-1500:]}\nrequest: {req!r}"
        )
        try:
            check_answer(req, resp)
        except AssertionError as exc:
            if self.logged.seen:
                raise AssertionError(f"{exc}\ngateway logged: {self.logged.seen[-1]}") from None
            raise
        return resp

    def close(self) -> None:
        async def close() -> None:
            await self.client.aclose()
            await self.gateway.aclose()
            await self.upstream.aclose()

        self.runner.run(close())
        self.runner.close()
        logging.getLogger("azure_asgi").removeHandler(self.logged)


def check_answer(req: Req, resp: httpx.Response) -> None:
    status = resp.status_code
    if status < 400:
        return
    if req.method == "HEAD" and not resp.content:
        assert status < 500, f"gateway answered {status} to {req!r}"
        return
    content_type = resp.headers.get("content-type", "")
    assert "json" in content_type, (
        f"HTTP {status} answer is not JSON ({content_type!r}): {resp.content[:300]!r}\n"
        f"request: {req!r}"
    )
    try:
        body = json.loads(resp.content)
    except ValueError as exc:
        pytest.fail(f"HTTP {status} body is not JSON ({exc}): {resp.content[:300]!r}\n{req!r}")
    problems = error_shape_problems(body, status)
    assert not problems, f"HTTP {status} error shape: {problems}; body {body!r}\nrequest: {req!r}"
    if status >= 500:
        assert body["is_gateway_error"] is False, (
            f"the gateway itself answered {status}: {body['error']!r}\nrequest: {req!r}"
        )


@pytest.fixture(scope="module")
def harness() -> Iterator[_Harness]:
    h = _Harness()
    try:
        yield h
    finally:
        h.close()


# -------------------------------------------------------------------------------- strategies


class Raw(str):
    """A JSON token written as is: NaN, 1e999, deep nesting."""


class Obj(tuple):  # type: ignore[type-arg]
    """A JSON object as ``(key, value)`` pairs, so keys may repeat."""


def encode_json(value: Any) -> str:
    """JSON text for ``value``; ``ensure_ascii`` writes lone surrogates as ``\\ud800`` escapes."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{encode_json(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return encode_json(Obj(value.items()))
    if isinstance(value, list):
        return "[" + ",".join(encode_json(v) for v in value) + "]"
    return json.dumps(value, allow_nan=True)


def deep(depth: int, kind: str = "[") -> Raw:
    """``depth`` nested arrays or objects, built as text (no recursion to build or print)."""
    if kind == "[":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "1" + "}" * depth)


# Hypothesis favours the first choice and the smallest values: the common case goes first.
USUALLY = st.sampled_from([True, True, True, True, False])
RARELY = st.sampled_from([False, False, False, False, True])

SURROGATES = st.one_of(
    st.sampled_from(["\ud800", "\udfff", "a\ud800b", "\udc00\ud800", "hi \ud83d"]),
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3),
)
TEXTS = st.one_of(st.text(max_size=24), SURROGATES)
RAW_NUMBERS = st.sampled_from(
    [
        *("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "1e-999", "-0", "0.0e0"),
        *("1" + "0" * 400, "-" + "9" * 400, "7" * 5000),
    ]
).map(Raw)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXTS,
    RAW_NUMBERS,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXTS, children, max_size=4)
    ),
    max_leaves=16,
)
DEEP = st.builds(
    deep,
    st.one_of(st.integers(1, 50), st.integers(900, 3000)),
    st.sampled_from(["[", "{"]),
)

GOOD_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "my-gpt4o",
    "azure/gpt-4o",
    "text-embedding-3-small",
    "dall-e-3",
    "whisper",
    "tts",
    "sora",
    "gpt-4o-fb",
    "gpt-4o-v1",
    "claude-sonnet",
    "babbage-002",
]
BAD_MODELS = ["", " gpt-4o", "GPT-4O", "openai/gpt-4o", "anthropic/x", "azure/", "gpt-5", "~"]
MODELS = st.one_of(
    st.sampled_from(GOOD_MODELS),
    st.sampled_from(BAD_MODELS),
    TEXTS,
    SURROGATES,
    st.sampled_from(GOOD_MODELS).map(lambda m: m + "\ud800"),
    SCALARS,  # wrong types
    st.lists(st.sampled_from(GOOD_MODELS), max_size=2),
    DEEP,
)
MESSAGES = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool"]), TEXTS),
                "content": st.one_of(TEXTS, SURROGATES, JSON_VALUES, DEEP),
            }
        ),
        min_size=1,
        max_size=3,
    ),
    st.just([]),
    JSON_VALUES,
    DEEP,
)
FALLBACKS = st.one_of(
    st.lists(st.one_of(st.sampled_from(GOOD_MODELS + BAD_MODELS), SURROGATES), max_size=3),
    JSON_VALUES,
)
ENDPOINTS = st.one_of(
    st.sampled_from(
        [
            "http://emulator",
            "https://x.openai.azure.com",
            "https://evil.example",
            "http://user:pw@emulator",
            "http://[::1]:99999",
            "http://emulator:0",
            "http://emulator/path?q",
            "javascript:alert(1)",
            "",
            "http://%65mulator",
            "http://emulator\\@evil",
        ]
    ),
    TEXTS,
)
# Fields some operation reads (and junk in them), beyond model/messages.
FIELDS = {
    "stream": st.one_of(st.booleans(), SCALARS),
    "input": st.one_of(TEXTS, JSON_VALUES, DEEP),
    "prompt": st.one_of(TEXTS, JSON_VALUES),
    "fallbacks": FALLBACKS,
    "endpoint": ENDPOINTS,
    "stream_options": JSON_VALUES,
    "max_tokens": SCALARS,
    "n": SCALARS,
    "dimensions": SCALARS,
    "voice": TEXTS,
    "input_file_id": st.sampled_from(["file-1~eastus", "file-1~mars", "~", "file-1"]),
    "training_file": st.sampled_from(["file-1~westus", "file-1~eastus~westus", "x"]),
    "previous_response_id": st.sampled_from(["resp_1~eastus", "resp_1~centralus", "resp_1"]),
    "completion_window": TEXTS,
}


#: A valid body per JSON operation (what an SDK would send), before any junk goes in.
VALID_BODIES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "chat/completions": {
        "model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "gpt-4o-v1", "gpt-4o-fb"]),
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": TEXTS}),
            min_size=1,
            max_size=2,
        ),
        "stream": st.booleans(),
    },
    "completions": {
        "model": st.sampled_from(["gpt-4o", "babbage-002", "gpt-4o-v1"]),
        "prompt": st.one_of(TEXTS, st.lists(TEXTS, min_size=1, max_size=2)),
        "stream": st.booleans(),
    },
    "embeddings": {
        "model": st.sampled_from(["text-embedding-3-small", "gpt-4o-v1"]),
        "input": st.one_of(TEXTS, st.lists(TEXTS, min_size=1, max_size=2)),
    },
    "images/generations": {"model": st.just("dall-e-3"), "prompt": TEXTS},
    "audio/speech": {"model": st.just("tts"), "input": TEXTS, "voice": st.just("alloy")},
    "responses": {
        "model": st.sampled_from(["gpt-4o", "gpt-4o-v1"]),
        "input": TEXTS,
        "stream": st.booleans(),
    },
    "batches": {
        "input_file_id": st.sampled_from(["file-1~eastus", "file-1~westus", "file-1"]),
        "endpoint": st.just("/chat/completions"),
        "completion_window": st.just("24h"),
    },
    "fine_tuning/jobs": {
        "model": st.just("gpt-4o-mini"),
        "training_file": st.sampled_from(["file-1~westus", "file-1"]),
    },
    "videos": {"model": st.just("sora"), "prompt": TEXTS},
    "videos/{id}/remix": {"prompt": TEXTS},
}
#: Junk for any field: what the named field might wrongly hold, or anything at all.
JUNK_FIELDS = {"model": MODELS, "messages": MESSAGES, **FIELDS}


@st.composite
def json_bodies(draw: st.DrawFn, operation: str | None = None) -> bytes:
    """A valid body for ``operation`` with 0-3 fields broken, added, dropped or repeated; or
    occasionally not an object at all (any value, deep nesting)."""
    shape = draw(st.sampled_from(["request"] * 10 + ["value", "deep"]))
    if shape == "value":
        return encode_json(draw(JSON_VALUES)).encode()
    if shape == "deep":
        return encode_json(draw(DEEP)).encode()
    base = VALID_BODIES.get(operation or "", VALID_BODIES["chat/completions"])
    pairs: list[tuple[str, Any]] = [(name, draw(value)) for name, value in base.items()]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        action = draw(st.sampled_from(["junk", "junk", "add", "drop", "repeat", "extra"]))
        if action == "junk" and pairs:
            i = draw(st.integers(0, len(pairs) - 1))
            name = pairs[i][0]
            pairs[i] = (name, draw(JUNK_FIELDS.get(name, JSON_VALUES)))
        elif action == "add":
            name = draw(st.sampled_from(sorted(JUNK_FIELDS)))
            pairs.append((name, draw(JUNK_FIELDS[name])))
        elif action == "drop" and pairs:
            del pairs[draw(st.integers(0, len(pairs) - 1))]
        elif action == "repeat" and pairs:
            pairs.append((draw(st.sampled_from(pairs))[0], draw(JSON_VALUES)))
        else:
            pairs.append((draw(TEXTS), draw(JSON_VALUES)))
    order = draw(st.permutations(range(len(pairs))))
    return encode_json(Obj(pairs[i] for i in order)).encode("utf-8", "surrogatepass")


# Routes (below the mount point) per operation family; {id} and {d} are filled in later.
V1_OPERATIONS = [
    "chat/completions",
    "completions",
    "embeddings",
    "images/generations",
    "images/edits",
    "images/variations",
    "audio/speech",
    "audio/transcriptions",
    "audio/translations",
    "responses",
    "responses/{id}",
    "responses/{id}/input_items",
    "responses/{id}/cancel",
    "files",
    "files/{id}",
    "files/{id}/content",
    "batches",
    "batches/{id}",
    "batches/{id}/cancel",
    "models",
    "models/{id}",
    "videos",
    "videos/{id}",
    "videos/{id}/content",
    "videos/{id}/remix",
    "fine_tuning/jobs",
    "fine_tuning/jobs/{id}",
    "fine_tuning/jobs/{id}/cancel",
    "fine_tuning/jobs/{id}/events",
    "fine_tuning/jobs/{id}/checkpoints",
    "messages",
    "messages/count_tokens",
]
DEPLOYMENT_OPERATIONS = [
    "chat/completions",
    "completions",
    "embeddings",
    "images/generations",
    "images/edits",
    "audio/speech",
    "audio/transcriptions",
    "audio/translations",
]
JSON_POSTS = [
    "chat/completions",
    "completions",
    "embeddings",
    "images/generations",
    "audio/speech",
    "responses",
    "batches",
    "fine_tuning/jobs",
    "videos",
    "videos/{id}/remix",
]
MULTIPART_POSTS = [
    "images/edits",
    "images/variations",
    "audio/transcriptions",
    "audio/translations",
    "files",
    "videos",
]

IDS = st.one_of(
    st.sampled_from(
        [
            "file-abc123",
            "file-abc123~eastus",
            "file-abc123~westus",
            "resp_1~centralus",
            "resp_1~nowhere",
            "~",
            "~eastus",
            "batch_1~eastus~westus",
            "gpt-4o",
            "my-gpt4o",
            "video_1",
            "ftjob-1~westus",
            "x%2Fy",
            "%7Eeastus",
        ]
    ),
    st.text(min_size=1, max_size=20),
)
DEPLOYMENTS = st.one_of(
    st.sampled_from(["gpt-4o", "my-gpt4o", "west-gpt4o", "azure%2Fgpt-4o", "team%2Fgpt", "gpt-5"]),
    st.sampled_from(["my-embedding", "my-whisper", "my-claude", "claude-sonnet", "%00", "%ff"]),
    st.text(min_size=1, max_size=20),
)
JUNK_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            *(".", "..", "%2e%2e", "%2E%2E", "%2e", ".%2e", "%2F", "%2f..%2f", "", "%00", "%ff"),
            *("%", "%zz", "V1", "OpenAI", "Chat", "COMPLETIONS", "deployments", "v1", "openai"),
            *("é", "\U0001f4a5", "~", ";", "a;b=c", "\\", "..\\.."),
        ]
    ),
    st.text(min_size=1, max_size=12),
    st.integers(200, 12000).map(lambda n: "s" * n),
)
_PATH_SAFE = "!$&'()*+,;=:@%~-._"


def _fill(template: str, ident: str) -> list[str]:
    return [ident if part == "{id}" else part for part in template.split("/")]


#: Operations Azure's pre-v1 routes serve as ``/openai/<path>`` (deployment ones have their own).
CLASSIC_PREFIXES = ("responses", "files", "batches", "models", "videos", "fine_tuning", "images")


@st.composite
def route_segments(draw: st.DrawFn, operations: list[str] | None = None) -> list[str]:
    """A real route of the gateway, in one of its families, as segments (not yet encoded)."""
    op = draw(st.sampled_from(operations or V1_OPERATIONS))
    family = draw(st.sampled_from(["v1"] * 3 + ["openai/v1"] * 2 + ["azure"] * 3 + ["other"]))
    if family == "azure" and op in DEPLOYMENT_OPERATIONS:
        deployment = draw(st.one_of(st.sampled_from(["gpt-4o", "my-gpt4o", "tts"]), DEPLOYMENTS))
        return ["openai", "deployments", deployment, *op.split("/")]
    ident = draw(IDS)
    if family == "azure" and op.startswith(CLASSIC_PREFIXES):
        return ["openai", *_fill(op, ident)]
    if family == "other":
        prefix = draw(st.sampled_from([[], ["anthropic"], ["anthropic", "v1"], ["llm", "v1"]]))
        return [*prefix, *_fill(op, ident)]
    return [*draw(st.sampled_from([["v1"], ["openai", "v1"]])), *_fill(op, ident)]


@st.composite
def mangled_segments(draw: st.DrawFn, operations: list[str] | None = None) -> list[str]:
    """A real route with dot segments, encodings, case changes, unicode and long segments."""
    segments = draw(route_segments(operations))
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.integers(0, len(segments)))
        action = draw(st.sampled_from(["insert", "insert", "replace", "case", "drop"]))
        if action == "insert":
            segments.insert(where, draw(JUNK_SEGMENTS))
        elif where < len(segments):
            if action == "replace":
                segments[where] = draw(JUNK_SEGMENTS)
            elif action == "case":
                segments[where] = draw(
                    st.sampled_from([str.upper, str.title, str.swapcase, str.lower])
                )(segments[where])
            else:
                del segments[where]
    return segments


def encode_path(segments: list[str], *, lead: str = "/", trail: str = "") -> str:
    return lead + "/".join(quote(s, safe=_PATH_SAFE) for s in segments) + trail


QUERY_VALUES = st.one_of(
    st.sampled_from(
        [
            *("2024-10-21", "", "2025-04-01-preview", "preview", "latest", "%ff", "%zz", "%"),
            *("a b", "x" * 3000, "file-1~eastus", "file-1~westus", "~", "file-1~mars", "+", "&"),
        ]
    ),
    st.text(max_size=20),
)
QUERY_KEYS = st.one_of(
    st.sampled_from(
        ["api-version", "api-version", "after", "before", "limit", "order", "API-VERSION"]
    ),
    st.text(max_size=8),
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=4))
    parts = [f"{quote(k, safe='%')}={quote(v, safe='%~')}" for k, v in pairs]
    if draw(RARELY):
        parts.append(draw(st.sampled_from(["api-version", "&", "==", "after=&before="])))
    return "&".join(parts)


@st.composite
def targets(draw: st.DrawFn, operations: list[str] | None = None, *, mangle: bool = True) -> str:
    segments = draw(mangled_segments(operations) if mangle else route_segments(operations))
    lead = draw(st.sampled_from(["/", "/", "/", "//", "/./", "/../"])) if mangle else "/"
    trail = draw(st.sampled_from(["", "", "", "/", "/.", "/.."])) if mangle else ""
    path = encode_path(segments, lead=lead, trail=trail)
    query = draw(st.one_of(st.just("api-version=2024-10-21"), st.just(""), queries()))
    return path + ("?" + query if query else "")


HEADER_TEXT = st.one_of(
    st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=40,
    ).map(lambda s: s.encode("latin-1")),
    st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), max_size=20).map(
        lambda s: s.encode("utf-8")
    ),
    st.integers(200, 9000).map(lambda n: b"h" * n),
)
JSON_TYPES = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"APPLICATION/JSON",
    b"application/json; charset=latin-1",
    b"text/plain",
    b"",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=abc",
    b"application/json; boundary=x",
]
AUTHS = [
    [(b"api-key", CLIENT_KEY.encode())],
    [(b"authorization", b"Bearer " + CLIENT_KEY.encode())],
    [(b"x-gateway-key", CLIENT_KEY.encode())],
    [(b"x-gateway-key", CLIENT_KEY.encode()), (b"api-key", b"callers-own-azure-key")],
    [(b"x-gateway-key", CLIENT_KEY.encode()), (b"authorization", b"Bearer own-token")],
]
EXTRA_HEADERS = {
    b"x-azure-resource": st.one_of(
        st.sampled_from([b"eastus", b"westus", b"centralus", b"EASTUS", b" eastus ", b"", b"mars"]),
        HEADER_TEXT,
    ),
    b"x-bf-azure-endpoint": st.one_of(
        ENDPOINTS.map(lambda s: s.encode("utf-8", "replace")), HEADER_TEXT
    ),
    b"x-ms-client-request-id": HEADER_TEXT,
    b"x-request-id": HEADER_TEXT,
    b"anthropic-version": st.sampled_from([b"2023-06-01", b"", b"junk"]),
    b"accept": st.sampled_from([b"text/event-stream", b"*/*", b"application/json", b"\xff"]),
    b"accept-encoding": st.sampled_from([b"gzip", b"br", b"identity;q=0", b"\xff"]),
    b"cookie": HEADER_TEXT,
    b"x-bf-async": st.sampled_from([b"true", b"1", b""]),
}


@st.composite
def request_headers(
    draw: st.DrawFn, body: bytes, content_types: st.SearchStrategy[bytes]
) -> list[tuple[bytes, bytes]]:
    headers = list(draw(st.sampled_from(AUTHS)))
    if draw(USUALLY):
        headers.append((b"content-type", draw(content_types)))
    # content-length: usually absent or true; sometimes a lie (smaller, junk, huge).
    lie = draw(
        st.one_of(
            st.none(),
            st.none(),
            st.just(str(len(body)).encode()),
            st.integers(0, max(0, len(body) - 1)).map(lambda n: str(n).encode()),
            st.sampled_from([b"0", b"-1", b"abc", b"", b" 12", b"1e3", b"99999999999999999999"]),
        )
    )
    if lie is not None:
        headers.append((b"content-length", lie))
    names = st.lists(st.sampled_from(sorted(EXTRA_HEADERS)), max_size=3, unique=True)
    for name in draw(st.one_of(st.just([]), names)):
        headers.append((name, draw(EXTRA_HEADERS[name])))
    return headers


METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@st.composite
def json_requests(draw: st.DrawFn) -> Req:
    """A POST to a JSON operation (any family), mostly well addressed, with a fuzzed body."""
    operation = draw(st.sampled_from(JSON_POSTS))
    target = draw(targets([operation], mangle=draw(RARELY)))
    body = draw(json_bodies(operation))
    return Req("POST", target, draw(request_headers(body, st.sampled_from(JSON_TYPES))), body)


BOUNDARY_CHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
BOUNDARIES = st.one_of(
    st.text(alphabet=BOUNDARY_CHARS, min_size=1, max_size=70),
    st.text(min_size=1, max_size=10),  # quotes, semicolons, unicode
    st.integers(71, 20000).map(lambda n: "B" * n),  # far past RFC 2046's 70
)
PART_NAMES = st.one_of(
    st.sampled_from(["model", "model", "file", "image", "image[]", "mask", "prompt", "purpose"]),
    st.sampled_from(["response_format", "n", "size", "seconds", "stream", "language", "MODEL"]),
    st.text(max_size=8),
)
PART_VALUES = st.one_of(
    st.sampled_from([m.encode() for m in GOOD_MODELS + BAD_MODELS]),
    st.sampled_from([b"\xed\xa0\x80", b"gpt-4o\xff", b"gpt-4o\r\n", b'a"b', b"fine-tune"]),
    st.binary(max_size=200),
    st.integers(60_000, 140_000).map(lambda n: b"\0" * n),  # past the 64 KiB scan block
)
MODEL_VALUES = st.one_of(
    st.sampled_from([b"whisper", b"dall-e-3", b"sora", b"gpt-4o", b"gpt-4o-v1"]), PART_VALUES
)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """``(content-type, body)`` of a form upload, well formed or broken in one of many ways."""
    boundary = draw(BOUNDARIES).encode("utf-8", "surrogatepass")
    body = b""
    # Usually what an SDK sends (a model field, then a file), then anything.
    names = [b"model", b"file"] if draw(USUALLY) else []
    names += [n.encode("utf-8", "surrogatepass") for n in draw(st.lists(PART_NAMES, max_size=3))]
    for name in names:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        extra = b""
        # Files usually carry a filename, plain fields usually do not.
        is_file = name in (b"file", b"image", b"image[]", b"mask")
        if draw(USUALLY if is_file else RARELY):
            filename = draw(st.sampled_from([b"a.png", b"a.wav", b"data.jsonl", b"", b'x"y']))
            disposition += b'; filename="' + filename + b'"'
            extra = b"\r\nContent-Type: " + draw(
                st.sampled_from([b"image/png", b"audio/wav", b"application/octet-stream", b""])
            )
        body += b"--" + boundary + b"\r\n" + disposition + extra + b"\r\n\r\n"
        body += draw(MODEL_VALUES if name == b"model" else PART_VALUES) + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    breakage = draw(
        st.sampled_from(["none"] * 8 + ["truncate", "lf", "no-end", "junk", "mismatch"])
    )
    if breakage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif breakage == "lf":
        body = body.replace(b"\r\n", b"\n")
    elif breakage == "no-end":
        body = body[: -len(b"--\r\n")]
    elif breakage == "junk":
        body = draw(st.binary(max_size=50)) + body + draw(st.binary(max_size=50))
    header_boundary = boundary
    if breakage == "mismatch":
        header_boundary = draw(BOUNDARIES).encode("utf-8", "surrogatepass")
    content_type = draw(
        st.sampled_from(
            [
                *[b"multipart/form-data; boundary=" + header_boundary] * 4,
                b'multipart/form-data; boundary="' + header_boundary + b'"',
                b"MULTIPART/FORM-DATA; BOUNDARY=" + header_boundary,
                b"multipart/form-data; charset=utf-8; boundary=" + header_boundary,
                b"multipart/form-data; boundary=" + header_boundary + b"; x=y",
                b"multipart/form-data",
                b"multipart/form-data; boundary=",
                b"multipart/mixed; boundary=" + header_boundary,
                b"application/json",
            ]
        )
    )
    return content_type, body


@st.composite
def multipart_requests(draw: st.DrawFn) -> Req:
    target = draw(targets(MULTIPART_POSTS, mangle=draw(RARELY)))
    content_type, body = draw(multipart_bodies())
    headers = draw(request_headers(body, st.just(content_type)))
    return Req("POST", target, headers, body)


RAW_BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=2000),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.sampled_from(
        [b"{", b"[]", b"null", b'"x"', b"{}", b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00"]
    ),
    st.sampled_from([b'{"model": "gpt-4o"', b'{"model": "gpt-4o"}\x00', b"\x00" * 100]),
    json_bodies(),
)
ANY_CONTENT_TYPE = st.one_of(
    st.sampled_from(JSON_TYPES),
    st.sampled_from([b"multipart/form-data; boundary=" + b"x" * 70, b"text/event-stream"]),
    HEADER_TEXT,
)


@st.composite
def any_requests(draw: st.DrawFn) -> Req:
    """Any method on any (mangled) route, with any body and content-type."""
    method = draw(METHODS)
    target = draw(targets())
    body = draw(RAW_BODIES) if method not in ("GET", "HEAD") or draw(st.booleans()) else b""
    return Req(method, target, draw(request_headers(body, ANY_CONTENT_TYPE)), body)


# -------------------------------------------------------------------------------- properties


@settings(max_examples=700, **FUZZ_SETTINGS)
@given(req=json_requests())
def test_fuzzed_json_operations(harness: _Harness, req: Req) -> None:
    harness.check(req)


@settings(max_examples=500, **FUZZ_SETTINGS)
@given(req=any_requests())
def test_fuzzed_methods_paths_and_bodies(harness: _Harness, req: Req) -> None:
    harness.check(req)


@settings(max_examples=400, **FUZZ_SETTINGS)
@given(req=multipart_requests())
def test_fuzzed_multipart_uploads(harness: _Harness, req: Req) -> None:
    harness.check(req)


WRONG_KEYS = st.one_of(
    st.sampled_from(
        [
            CLIENT_KEY[:-1],
            CLIENT_KEY + "4",
            CLIENT_KEY.upper(),
            EMULATOR_KEY,
            "",
            " ",
            "Bearer",
            "client-key-123\x00",
        ]
    ),
    st.text(max_size=20),
).filter(lambda k: k.strip() != CLIENT_KEY)
KEY_HEADERS = st.sampled_from([b"api-key", b"x-gateway-key", b"authorization", b"x-api-key"])


@settings(max_examples=200, **FUZZ_SETTINGS)
@given(
    method=METHODS,
    target=targets(),
    keys=st.lists(st.tuples(KEY_HEADERS, WRONG_KEYS), max_size=3),
    body=RAW_BODIES,
)
def test_callers_without_the_key_get_401_on_any_route(
    harness: _Harness, method: str, target: str, keys: list[tuple[bytes, str]], body: bytes
) -> None:
    headers = []
    for name, key in keys:
        value = key.encode("utf-8", "surrogatepass")
        headers.append((name, b"Bearer " + value if name == b"authorization" else value))
    req = Req(method, target, headers, body)
    resp = harness.check(req)
    assert resp.status_code == 401, f"{resp.status_code} {resp.content[:300]!r} for {req!r}"


# -------------------------------------------------------------------------------- regressions
# Known defects, pinned by hand so they fail the same way every run.

CHAT_PATH = "/v1/chat/completions"


def _post_json(harness: _Harness, target: str, body: bytes) -> httpx.Response:
    headers = [(b"api-key", CLIENT_KEY.encode()), (b"content-type", b"application/json")]
    return harness.check(Req("POST", target, headers, body))


@pytest.mark.parametrize("depth", [1000, 3000])
@pytest.mark.parametrize(
    "where",
    ["messages", "content", "extra_field", "whole_body"],
)
def test_deeply_nested_json_is_refused_not_a_500(harness: _Harness, depth: int, where: str) -> None:
    nested = "[" * depth + "]" * depth
    body = {
        "messages": '{"model":"gpt-4o","messages":%s}',
        "content": '{"model":"gpt-4o","messages":[{"role":"user","content":%s}]}',
        "extra_field": '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":%s}',
        "whole_body": "%s",
    }[where] % nested
    resp = _post_json(harness, CHAT_PATH, body.encode())
    assert resp.status_code < 500, resp.content[:300]


@pytest.mark.parametrize(
    ("target", "body"),
    [
        pytest.param(
            CHAT_PATH,
            '{"model":"\\ud800","messages":[{"role":"user","content":"hi"}]}',
            id="model",
        ),
        pytest.param(
            CHAT_PATH,
            '{"model":"gpt-4o\\udfff","messages":[{"role":"user","content":"hi"}]}',
            id="model-suffix",
        ),
        pytest.param(
            CHAT_PATH,
            '{"model":"gpt-4o","messages":[{"role":"user","content":"\\ud800"}],'
            '"fallbacks":["gpt-4o-mini"]}',
            id="content-with-fallbacks",
        ),
        pytest.param(
            CHAT_PATH,
            '{"model":"gpt-4o-v1","messages":[{"role":"user","content":"a\\ud800b"}]}',
            id="content-v1-style-resource",
        ),
        pytest.param("/v1/responses", '{"model":"gpt-4o","input":"\\ud800"}', id="responses"),
        pytest.param(
            "/v1/batches",
            '{"input_file_id":"file-1~eastus","endpoint":"/chat/completions",'
            '"completion_window":"24h","metadata":{"k":"\\ud800"}}',
            id="batch-with-tagged-id",
        ),
    ],
)
def test_lone_surrogates_are_answered_in_json_below_500(
    harness: _Harness, target: str, body: str
) -> None:
    resp = _post_json(harness, target, body.encode())
    assert resp.status_code < 500, resp.content[:300]


def test_video_creation_accepts_a_json_body(harness: _Harness) -> None:
    """``POST /v1/videos`` with a JSON body (documented for video creation) is forwarded, not
    refused as ``invalid_multipart``."""
    body = json.dumps({"model": "sora", "prompt": "a cat on a skateboard"}).encode()
    resp = _post_json(harness, "/v1/videos", body)
    answer = resp.json()
    assert not (resp.status_code >= 400 and answer.get("is_gateway_error")), answer
    sent = [r for r in harness.emulator.requests if r.path.endswith("/videos")]
    assert sent, "nothing reached the upstream"


_FORM = (
    b'--{b}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n'
    b'--{b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
    b"Content-Type: audio/wav\r\n\r\nRIFF0000\r\n--{b}--\r\n"
)


@pytest.mark.parametrize(
    ("target", "headers", "body"),
    [
        pytest.param(
            "/v1/audio/transcriptions",
            [(b"content-type", b"multipart/form-data; boundary=\xc2\x80")],
            _FORM.replace(b"{b}", b"\xc2\x80"),
            id="non-ascii-boundary",
        ),
        pytest.param(
            CHAT_PATH,
            [(b"content-type", b"application/json"), (b"x-ms-client-request-id", b"q\xfd")],
            b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
            id="non-ascii-client-request-id",
        ),
    ],
)
def test_non_ascii_header_bytes_sent_upstream_are_not_a_500(
    harness: _Harness, target: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """Header bytes a server accepts (obs-text) and the gateway passes upstream (the upload's
    content-type, the client request id) must not break the upstream call."""
    req = Req("POST", target, [(b"api-key", CLIENT_KEY.encode()), *headers], body)
    resp = harness.check(req)
    assert resp.status_code < 500, resp.content[:300]


# The multipart scanner: a boundary this long makes its block overlap reach the block size.
_BOUNDARY_SCRIPT = r"""
import asyncio, json, sys, time
import httpx
from azure_asgi import AzureGateway
from azure_asgi.testing import AzureEmulator
from tests.test_fuzz import fuzz_config
from tests.conftest import CLIENT_KEY, EMULATOR_KEY

async def main(length):
    emulator = AzureEmulator(api_keys=(EMULATOR_KEY,))
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator))
    gateway = AzureGateway(fuzz_config(), http_client=upstream)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway, raise_app_exceptions=False),
        base_url="http://gateway",
    )
    b = "b" * length
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\nRIFF0000\r\n--{b}--\r\n"
    ).encode()
    started = time.monotonic()
    resp = await client.post(
        "/v1/audio/transcriptions",
        content=body,
        headers={"api-key": CLIENT_KEY, "content-type": f"multipart/form-data; boundary={b}"},
    )
    print(json.dumps({
        "status": resp.status_code,
        "elapsed": time.monotonic() - started,
        "content_type": resp.headers.get("content-type", ""),
        "body": resp.text[:300],
    }))

asyncio.run(main(int(sys.argv[1])))
"""
_BOUNDARY_LENGTHS = (65531, 65532, 65533)
#: Wall time for one subprocess: start-up plus a request that should take milliseconds.
_BOUNDARY_BUDGET_S = 15.0
#: How long the request itself may take: the event loop must never be held this long.
_BOUNDARY_REQUEST_S = 3.0


@pytest.fixture(scope="module")
def boundary_runs() -> Iterator[dict[int, tuple[subprocess.Popen[str], float]]]:
    """One subprocess per boundary length, all started at once (each may hang: it is killed)."""
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    runs = {
        length: (
            subprocess.Popen(  # noqa: S603 - our own script
                [sys.executable, "-c", _BOUNDARY_SCRIPT, str(length)],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            time.monotonic(),
        )
        for length in _BOUNDARY_LENGTHS
    }
    try:
        yield runs
    finally:
        for proc, _ in runs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.mark.parametrize("length", _BOUNDARY_LENGTHS)
def test_multipart_boundary_near_64k_answers_promptly(
    boundary_runs: dict[int, tuple[subprocess.Popen[str], float]], length: int
) -> None:
    """A 65,532-byte boundary once spun the gateway's event loop forever (65,531: seconds of
    blocking; 65,533: a 500). Run in a subprocess: a frozen loop cannot be timed out from
    inside."""
    proc, started = boundary_runs[length]
    remaining = max(0.1, started + _BOUNDARY_BUDGET_S - time.monotonic())
    try:
        out, err = proc.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        out = None
    if out is None:
        pytest.fail(
            f"boundary of {length} bytes: no answer within {_BOUNDARY_BUDGET_S:g} s "
            "(the gateway's event loop froze)"
        )
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] < 500, result
    assert "json" in result["content_type"], result
    assert result["elapsed"] < _BOUNDARY_REQUEST_S, (
        f"boundary of {length} bytes held the event loop {result['elapsed']:.1f} s: {result}"
    )
