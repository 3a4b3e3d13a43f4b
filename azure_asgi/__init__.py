"""azure-asgi: an Azure OpenAI / Claude-on-Foundry gateway as an ASGI library.

::

    from azure_asgi import AzureGateway

    gateway = AzureGateway("gateway.yaml")
    app = FastAPI(lifespan=gateway.lifespan)
    app.mount("/llm", gateway)
"""

from ._app import AzureGateway
from ._callers import Principal
from ._config import ConfigError, GatewayConfig
from ._errors import GatewayError
from ._middleware import AzureGatewayMiddleware
from ._usage import UsageRecord

__version__ = "0.1.0"

__all__ = [
    "AzureGateway",
    "AzureGatewayMiddleware",
    "ConfigError",
    "GatewayConfig",
    "GatewayError",
    "Principal",
    "UsageRecord",
    "__version__",
]
