"""The azure-asgi pytest plugin: an emulator, the emulator on loopback, a gateway in front of it.

Loaded by its entry point when azure-asgi is installed, or explicitly with
``pytest -p azure_asgi.testing.pytest_plugin`` (or ``pytest_plugins = [...]`` in a top-level
conftest). Fixtures, all function-scoped (docs/testing.md has a guide):

- ``azure_emulator``: a fresh :class:`AzureEmulator` accepting ``api-key: emulator-key``.
  ``@pytest.mark.azure_emulator(deployments={...}, chunk_delay_s=...)`` passes its keyword
  arguments to the constructor.
- ``azure_emulator_url``: ``azure_emulator`` served by uvicorn on a loopback port in the
  test's event loop (async tests; needs pytest-asyncio).
- ``azure_emulator_thread_url``: the same from a background thread (sync tests and clients).
- ``azure_gateway_config``: the config ``azure_gateway`` is built from (override it).
- ``azure_gateway``: an :class:`~azure_asgi.AzureGateway` whose upstream is
  ``azure_emulator`` in-process (httpx's ``ASGITransport``), open for the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._emulator import AzureEmulator

if TYPE_CHECKING:
    from .._app import AzureGateway


def _async_fixture() -> Callable[..., Any]:
    """pytest-asyncio's decorator (it works in both its modes, "auto" and "strict"); without
    it, pytest's own, for another async plugin (anyio) to run."""
    try:
        from pytest_asyncio import fixture
    except ImportError:  # pragma: no cover - pytest-asyncio is in the test extra
        return pytest.fixture
    return fixture


_async = _async_fixture()

__all__ = [
    "EMULATOR_KEY",
    "GATEWAY_CONFIG_ENDPOINT",
    "azure_emulator",
    "azure_emulator_thread_url",
    "azure_emulator_url",
    "azure_gateway",
    "azure_gateway_config",
    "gateway_config",
]

#: The api-key ``azure_emulator`` accepts and ``azure_gateway`` sends upstream.
EMULATOR_KEY = "emulator-key"
#: The endpoint ``azure_gateway``'s resource names: any host works in-process.
GATEWAY_CONFIG_ENDPOINT = "http://emulator"
_MARKER = "azure_emulator"


def gateway_config(endpoint: str = GATEWAY_CONFIG_ENDPOINT, **overrides: Any) -> dict[str, Any]:
    """A one-resource gateway config in front of an emulator at ``endpoint``.

    Aliases ``gpt-4o``, ``gpt-4o-mini``, ``text-embedding-3-small`` (deployments of the same
    names) and ``claude-sonnet`` (anthropic family); callers need no key (anonymous), and
    retries are quick. ``overrides`` replace top-level keys.
    """
    config: dict[str, Any] = {
        "retries": {"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 5},
        "resources": [
            {
                "name": "emulator",
                "endpoint": endpoint,
                "auth": {"api_key": EMULATOR_KEY},
                "deployments": {
                    "gpt-4o": "gpt-4o",
                    "gpt-4o-mini": "gpt-4o-mini",
                    "text-embedding-3-small": "text-embedding-3-small",
                    "claude-sonnet": {"deployment": "claude-sonnet", "family": "anthropic"},
                },
            }
        ],
        "clients": {"anonymous": True},
    }
    config.update(overrides)
    return config


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**kwargs): keyword arguments for the azure_emulator fixture's AzureEmulator",
    )


@pytest.fixture
def azure_emulator(request: pytest.FixtureRequest) -> AzureEmulator:
    """A fresh emulator (``api-key: emulator-key``), configured by the ``azure_emulator`` mark."""
    options: dict[str, Any] = {"api_keys": (EMULATOR_KEY,)}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    return AzureEmulator(**options)


@_async
async def azure_emulator_url(azure_emulator: AzureEmulator) -> AsyncIterator[str]:
    """``azure_emulator`` on a loopback port in the test's loop: ``http://127.0.0.1:<port>``."""
    async with azure_emulator.serve() as url:
        yield url


@pytest.fixture
def azure_emulator_thread_url(azure_emulator: AzureEmulator) -> Iterator[str]:
    """``azure_emulator`` on a loopback port, served from a background thread."""
    with azure_emulator.serve_in_thread() as url:
        yield url


@pytest.fixture
def azure_gateway_config() -> dict[str, Any]:
    """What ``azure_gateway`` is built from: :func:`gateway_config`; override to change it."""
    return gateway_config()


@_async
async def azure_gateway(
    azure_emulator: AzureEmulator, azure_gateway_config: dict[str, Any]
) -> AsyncIterator[AzureGateway]:
    """A gateway whose every upstream call reaches ``azure_emulator`` in-process."""
    import httpx

    from .._app import AzureGateway

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=azure_emulator))
    async with AzureGateway(azure_gateway_config, http_client=client) as gateway:
        yield gateway
    await client.aclose()
