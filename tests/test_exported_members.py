"""The public API is exactly what ``__all__`` says, and every public name is documented."""

import azure_asgi
import azure_asgi.testing

PUBLIC = {
    "AzureGateway",
    "AzureGatewayMiddleware",
    "ConfigError",
    "GatewayConfig",
    "GatewayError",
    "Principal",
    "UsageRecord",
    "__version__",
}


def test_exported_members() -> None:
    assert set(azure_asgi.__all__) == PUBLIC
    for name in azure_asgi.__all__:
        member = getattr(azure_asgi, name)
        if name != "__version__":
            assert member.__module__.startswith("azure_asgi._"), name
            assert member.__doc__, f"{name} has no docstring"


def test_private_modules_declare_all() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(azure_asgi.__path__):
        if info.name.startswith("_") and info.name != "__main__":
            module = importlib.import_module(f"azure_asgi.{info.name}")
            assert isinstance(getattr(module, "__all__", None), list), info.name


def test_testing_exports() -> None:
    assert {"AzureEmulator", "Fault", "RecordedRequest"} <= set(azure_asgi.testing.__all__)
