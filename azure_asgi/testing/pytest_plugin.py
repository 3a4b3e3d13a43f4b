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
from ._gateway import EMULATOR_KEY, emulator_gateway, gateway_config

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
    "azure_emulator",
    "azure_emulator_thread_url",
    "azure_emulator_url",
    "azure_gateway",
    "azure_gateway_config",
    "pytest_configure",
]

_MARKER = "azure_emulator"


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
    """What ``azure_gateway`` is built from (``azure_asgi.testing.gateway_config()``: aliases
    gpt-4o, gpt-4o-mini, text-embedding-3-small and claude-sonnet, anonymous callers);
    override the fixture to change it."""
    return gateway_config()


@_async
async def azure_gateway(
    azure_emulator: AzureEmulator, azure_gateway_config: dict[str, Any]
) -> AsyncIterator[AzureGateway]:
    """A gateway whose every upstream call reaches ``azure_emulator`` in-process."""
    async with emulator_gateway(azure_emulator, azure_gateway_config) as gateway:
        yield gateway
