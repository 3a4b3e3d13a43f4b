"""Django: the gateway claims /llm; every other path is Django's as usual.

Run from the repository root: ``uvicorn examples.django_app.asgi:application --port 8000``
"""

import os
from pathlib import Path

from django.core.asgi import get_asgi_application

from azure_asgi import AzureGatewayMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
CONFIG = os.environ.get(
    "AZURE_ASGI_CONFIG", str(Path(__file__).resolve().parent.parent / "gateway.yaml")
)

# Django's handler rejects lifespan; the middleware answers it itself, so the gateway still
# closes its upstream connections when the server shuts down.
application = AzureGatewayMiddleware(get_asgi_application(), config=CONFIG, prefix="/llm")
