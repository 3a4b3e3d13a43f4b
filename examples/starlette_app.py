"""Starlette: the gateway as a Mount among your routes.

Run from the repository root: ``uvicorn examples.starlette_app:app --port 8000``
"""

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from azure_asgi import AzureGateway

CONFIG = os.environ.get("AZURE_ASGI_CONFIG", str(Path(__file__).with_name("gateway.yaml")))

gateway = AzureGateway(CONFIG)


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello from Starlette; the gateway is at /llm")


app = Starlette(
    routes=[Route("/", homepage), Mount("/llm", app=gateway)],
    lifespan=gateway.lifespan,
)
