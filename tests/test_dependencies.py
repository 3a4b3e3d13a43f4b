"""Runtime dependencies are what the package imports: nothing more is paid for at import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from azure_asgi import _cli

_PROBE = """
import sys
import azure_asgi, azure_asgi.testing
from azure_asgi import AzureGateway
AzureGateway({"resources": [{"name": "a", "endpoint": "http://x", "auth": {"api_key": "k"}}],
              "clients": {"anonymous": True}})
print(",".join(m for m in ("httpx", "uvicorn", "starlette", "opentelemetry") if m in sys.modules))
"""


def test_importing_and_building_a_gateway_loads_no_optional_dependency() -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_declared_runtime_dependencies_are_the_imported_ones() -> None:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    names = {d.split(">")[0].split("[")[0].strip() for d in project["project"]["dependencies"]}
    assert names == {"aiohttp", "pydantic", "azure-identity", "asgiref", "pyyaml", "msgspec"}


def test_server_commands_name_the_extra_when_uvicorn_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_cli, "_installed", lambda module: module != "uvicorn")
    assert _cli.main(["emulator"]) == 2
    assert "pip install 'azure-asgi[serve]'" in capsys.readouterr().err
