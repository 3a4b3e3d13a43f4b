"""A built-in Azure OpenAI emulator and the kit to test against it (docs/testing.md).

::

    from azure_asgi.testing import AzureEmulator, Fault, Match

    emulator = AzureEmulator(api_keys=("emulator-key",))
    transport = httpx.ASGITransport(app=emulator)  # or: async with emulator.serve() as url
    emulator.inject(Fault.status(429, retry_after_ms=100), match=Match(path="/chat/"))
    ...
    assert emulator.last_request.deployment == "gpt-4o"

Besides chat it serves completions, embeddings, images, audio, files, batches, models,
responses, videos and fine-tuning jobs; multipart uploads are recorded as sent
(``RecordedRequest.form`` / ``.files``). ``emulator.script(...)`` queues exact replies;
:func:`serve` / :func:`serve_in_thread` put any ASGI app on a loopback port; :func:`sse_events`
and :func:`sse_json` read a streamed body. The pytest plugin
(``azure_asgi.testing.pytest_plugin``) provides them as fixtures.

The emulator is independent of the gateway: it imports nothing else from ``azure_asgi``
(the SSE reader uses the gateway's codec, and the plugin builds a gateway).
"""

from ._emulator import AzureEmulator, RecordedRequest
from ._fault_queue import Match
from ._faults import (
    CutStreamFault,
    DropConnectionFault,
    Fault,
    HoldStreamFault,
    MalformedJsonFault,
    SlowFault,
    SlowStreamFault,
    StatusFault,
    StreamErrorFault,
    TruncatedJsonFault,
)
from ._gateway import EMULATOR_KEY, emulator_gateway, gateway_config
from ._script import Reply, ToolCall
from ._serve import serve, serve_in_thread
from ._sse_reader import SSEEvent, sse_data, sse_events, sse_json

__all__ = [
    "EMULATOR_KEY",
    "AzureEmulator",
    "CutStreamFault",
    "DropConnectionFault",
    "Fault",
    "HoldStreamFault",
    "MalformedJsonFault",
    "Match",
    "RecordedRequest",
    "Reply",
    "SSEEvent",
    "SlowFault",
    "SlowStreamFault",
    "StatusFault",
    "StreamErrorFault",
    "ToolCall",
    "TruncatedJsonFault",
    "emulator_gateway",
    "gateway_config",
    "serve",
    "serve_in_thread",
    "sse_data",
    "sse_events",
    "sse_json",
]
