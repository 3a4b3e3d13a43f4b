"""Plain ASGI: put the gateway in front of an existing ("legacy") ASGI app.

Run from the repository root: ``uvicorn examples.plain_asgi_app:app --port 8000``

The legacy app keeps its HTTP route, its websocket and its lifespan; only /llm is claimed.
"""

import json
import os
from pathlib import Path
from typing import Any

from azure_asgi import AzureGatewayMiddleware

CONFIG = os.environ.get("AZURE_ASGI_CONFIG", str(Path(__file__).with_name("gateway.yaml")))

# What the legacy app's lifespan did, shown by its HTTP route.
state = {"started": False, "stopped": False}


async def legacy_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["started"] = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                state["stopped"] = True
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "websocket" and scope["path"] == "/ws":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    elif scope["path"] == "/":
        body = json.dumps({"hello": "from a plain ASGI app", **state}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"Not Found"})


app = AzureGatewayMiddleware(legacy_app, config=CONFIG, prefix="/llm")
