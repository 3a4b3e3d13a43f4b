"""Quart: wrap the app's ASGI callable so /llm goes to the gateway.

Run from the repository root: ``uvicorn examples.quart_app:app --port 8000``
"""

import os
from pathlib import Path

from quart import Quart

from azure_asgi import AzureGatewayMiddleware

CONFIG = os.environ.get("AZURE_ASGI_CONFIG", str(Path(__file__).with_name("gateway.yaml")))

app = Quart(__name__)
# Wrapping asgi_app (not app) keeps `app` a Quart object: routes, config and the CLI still work.
app.asgi_app = AzureGatewayMiddleware(app.asgi_app, config=CONFIG, prefix="/llm")


@app.get("/")
async def index() -> dict[str, str]:
    return {"hello": "from Quart"}
