"""Django: the gateway claims /llm; every other path is Django's as usual.

Run from the repository root: ``uvicorn examples.django_app.asgi:application --port 8000``

Who may call is decided by a plain (sync) Django function that queries the database. The
gateway runs sync hooks through ``asgiref.sync.sync_to_async(thread_sensitive=True)``, in
Django's one sync thread, so the ORM works in them as in a view; called on the event loop it
would raise ``SynchronousOnlyOperation``.
"""

import hmac
import os
from pathlib import Path
from typing import Any

from django.core.asgi import get_asgi_application

from azure_asgi import AzureGateway, AzureGatewayMiddleware, Principal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
CONFIG = os.environ.get(
    "AZURE_ASGI_CONFIG", str(Path(__file__).resolve().parent.parent / "gateway.yaml")
)
django_app = get_asgi_application()


def authorize(scope: dict[str, Any]) -> Principal | None:
    """Allow callers whose key (``api-key`` or ``Authorization: Bearer``, as the openai SDKs
    send it) is a known client key, looked up in the database."""
    from django.db import connection

    headers = dict(scope["headers"])
    bearer = headers.get(b"authorization", b"").removeprefix(b"Bearer ")
    presented = (headers.get(b"api-key") or bearer).decode("latin-1")
    with connection.cursor() as cursor:
        # A real app would ask its own model, e.g. ApiClient.objects.filter(key=...).first().
        cursor.execute("SELECT %s", [os.environ.get("GATEWAY_KEY", "dev-gateway-key")])
        (known,) = cursor.fetchone()
    if presented and hmac.compare_digest(presented, known):
        return Principal(subject="django-client")
    return None


# Django's handler rejects lifespan; the middleware answers it itself, so the gateway still
# closes its upstream connections when the server shuts down.
application = AzureGatewayMiddleware(
    django_app, gateway=AzureGateway(CONFIG, authorize=authorize), prefix="/llm"
)
