"""The requests every benchmark sends and the canned Azure answers its upstreams give back.

The answers come from the project's own emulator (called in-process, no sockets), so the canned
chat completion and the 30-event stream have exactly Azure's shape: content-filter annotations,
the prompt-filter first chunk, a role chunk, one chunk per word, a finish chunk and
``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import functools
import json

import httpx

from azure_asgi.testing import AzureEmulator

API_VERSION = "2024-10-21"
#: Deployments the upstreams serve: one answers JSON, the other a 30-event SSE stream (nginx
#: tells them apart by path; the emulator by the body's ``stream``). ``slow`` is the paced one.
JSON_DEPLOYMENT = "bench"
STREAM_DEPLOYMENT = "bench-stream"
SLOW_DEPLOYMENT = "bench-slow"
STREAM_EVENTS = 30
#: The route most users call: ``OpenAI(base_url=MOUNT + "/v1")`` with an alias and a Bearer key.
UNIFIED_PATH = "/v1/chat/completions"
JSON_ALIAS = "gpt-4o"
STREAM_ALIAS = "gpt-4o-stream"
#: A Claude deployment: the same 26 words as a Messages stream, translated to chat chunks.
CLAUDE_DEPLOYMENT = "bench-claude"
CLAUDE_ALIAS = "claude-stream"
MESSAGES_PATH = "/anthropic/v1/messages"
CLIENT_KEY = "bench-client-key"
UPSTREAM_KEY = "bench-upstream-key"

# 26 words: with the prompt-filter chunk, the role chunk, the finish chunk and [DONE] the
# stream has exactly 30 events.
_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "the",
    "gateway",
    "relays",
    "every",
    "word",
    "of",
    "this",
    "answer",
    "to",
    "the",
    "caller",
    "as",
    "soon",
    "as",
    "Azure",
    "writes",
]
assert len(_WORDS) == STREAM_EVENTS - 4
PROMPT = " ".join(_WORDS)
SYSTEM = "You are a helpful assistant. Answer in one short sentence."


def path(deployment: str) -> str:
    """The Azure-style request path (query included) for ``deployment``."""
    return f"/openai/deployments/{deployment}/chat/completions?api-version={API_VERSION}"


def request_body(deployment: str, *, stream: bool) -> bytes:
    """What an ``AzureOpenAI`` client sends: ``model`` names the deployment, as the SDK does."""
    body: dict[str, object] = {
        "model": deployment,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "temperature": 0.2,
        "max_tokens": 256,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


@functools.cache
def canned() -> tuple[bytes, bytes]:
    """``(chat completion JSON, SSE stream body)`` as the emulator renders them."""

    async def fetch() -> tuple[bytes, bytes]:
        transport = httpx.ASGITransport(app=AzureEmulator(api_keys=None))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            plain = await client.post(
                path(JSON_DEPLOYMENT), content=request_body(JSON_DEPLOYMENT, stream=False)
            )
            streamed = await client.post(
                path(STREAM_DEPLOYMENT), content=request_body(STREAM_DEPLOYMENT, stream=True)
            )
        plain.raise_for_status()
        streamed.raise_for_status()
        return plain.content, streamed.content

    chat, sse = asyncio.run(fetch())
    events = [e for e in sse.split(b"\n\n") if e.strip()]
    assert len(events) == STREAM_EVENTS, len(events)
    return chat, sse


@functools.cache
def canned_claude() -> bytes:
    """The Messages API stream (``event:`` + ``data:``) a Claude deployment answers the same
    prompt with, as the emulator renders it: one ``text_delta`` per word."""

    async def fetch() -> bytes:
        transport = httpx.ASGITransport(app=AzureEmulator(api_keys=None))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            body = {
                "model": CLAUDE_DEPLOYMENT,
                "max_tokens": 256,
                "system": [{"type": "text", "text": SYSTEM}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
                "stream": True,
            }
            resp = await client.post(
                MESSAGES_PATH, json=body, headers={"anthropic-version": "2023-06-01"}
            )
        resp.raise_for_status()
        return resp.content

    return asyncio.run(fetch())


def claude_events() -> list[bytes]:
    """The canned Messages stream as separate events, each with its blank line."""
    return [e + b"\n\n" for e in canned_claude().split(b"\n\n") if e.strip()]


def sse_events() -> list[bytes]:
    """The canned stream as its 30 separate events, each with its blank line."""
    return [e + b"\n\n" for e in canned()[1].split(b"\n\n") if e.strip()]


#: Response headers Azure sends that the gateway passes through (and the floors ignore).
AZURE_HEADERS = {
    "apim-request-id": "5f2b3d3e-0000-4000-8000-000000000000",
    "x-request-id": "5f2b3d3e-0000-4000-8000-000000000001",
    "x-ratelimit-remaining-requests": "999",
    "x-ratelimit-remaining-tokens": "999000",
    "x-ms-region": "East US",
}
