"""FastAPI: mount the gateway at /llm next to your own routes.

Run from the repository root: ``uvicorn examples.fastapi_app:app --port 8000``
"""

import os
from pathlib import Path

from fastapi import FastAPI

from azure_asgi import AzureGateway

CONFIG = os.environ.get("AZURE_ASGI_CONFIG", str(Path(__file__).with_name("gateway.yaml")))

gateway = AzureGateway(CONFIG)
# The gateway's lifespan closes its upstream connections when the server shuts down.
app = FastAPI(lifespan=gateway.lifespan)
app.mount("/llm", gateway)  # OpenAI(base_url="http://127.0.0.1:8000/llm/v1")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
