"""The ``azure-asgi`` command: check, serve, emulator and demo, run as a user would."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from azure_asgi._cli import main

SECRET = "sk-SECRET-do-not-print"
CLIENT_SECRET = "client-secret-do-not-print"

CONFIG = f"""
api_version: "2024-10-21"
resources:
  - name: eastus
    endpoint: https://eastus-res.openai.azure.com
    auth: {{api_key: "{SECRET}"}}
    deployments:
      gpt-4o: my-gpt4o
      claude-sonnet: {{deployment: my-claude, fallbacks: [gpt-4o]}}
  - name: westus
    endpoint: https://westus-res.openai.azure.com
    auth: {{tenant_id: t, client_id: c, client_secret: "{CLIENT_SECRET}"}}
    deployments: {{gpt-4o: wus-gpt4o}}
clients:
  api_keys: ["gateway-key-do-not-print"]
"""


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_prints_routing_table_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", write(tmp_path, CONFIG)]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()
    assert rows[0].split() == [
        "alias", "resource", "deployment", "family", "style", "auth", "endpoint", "fallbacks",
    ]  # fmt: skip
    assert rows[1].split() == [
        "gpt-4o", "eastus", "my-gpt4o", "openai", "deployments", "api_key",
        "https://eastus-res.openai.azure.com", "-",
    ]  # fmt: skip
    assert rows[2].split()[:4] == ["claude-sonnet", "eastus", "my-claude", "anthropic"]
    assert rows[2].split()[-1] == "gpt-4o"
    assert rows[3].split()[:6] == [
        "gpt-4o", "westus", "wus-gpt4o", "openai", "deployments", "service_principal",
    ]  # fmt: skip
    assert "1 client key(s)" in out
    for secret in (SECRET, CLIENT_SECRET, "gateway-key-do-not-print"):
        assert secret not in out


@pytest.mark.parametrize("command", ["check", "serve"])
def test_bad_config_exits_nonzero_with_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    bad = CONFIG.replace("endpoint: https://westus", "endpiont: https://westus")
    assert main([command, "--config", write(tmp_path, bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "resources.1: an unknown key (the 2nd key of resources.1; allowed: name, endpoint" in err
    assert "endpiont" not in err  # a key's name is never shown: it might be a pasted secret
    assert SECRET not in err


PASTED_KEY = "sk-PASTED-AS-A-KEY-do-not-print"


@pytest.mark.parametrize(
    "bad",
    [
        f"auth: {{tenant_id: t, client_id: c, {PASTED_KEY}: x, client_secret:",
        f"auth: {{{PASTED_KEY}: x, tenant_id: t, client_id: c, client_secret:",
    ],
)
def test_check_never_prints_a_secret_pasted_as_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    text = CONFIG.replace("auth: {tenant_id: t, client_id: c, client_secret:", bad)
    assert PASTED_KEY in text
    assert main(["check", "--config", write(tmp_path, text)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("azure-asgi: invalid config ")
    assert "resources.1.auth: an unknown key (the " in captured.err
    assert "allowed: api_key, tenant_id" in captured.err
    for secret in (PASTED_KEY, SECRET, CLIENT_SECRET):
        assert secret not in captured.err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "azure_asgi", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def wait_for(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {proc.stdout.read() if proc.stdout else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


def test_demo_serves_chat_json_and_stream_with_the_printed_key() -> None:
    port = _free_port()
    with run("demo", "--port", str(port), "--log-level", "warning") as proc:
        wait_for(port, proc)
        body = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Hello from azure-asgi"}],
        }
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        with httpx.Client(timeout=10) as client:
            unauthenticated = client.post(url, json=body)
            resp = client.post(url, json=body, headers={"api-key": "demo-key"})
            with client.stream(
                "POST", url, json={**body, "stream": True}, headers={"api-key": "demo-key"}
            ) as stream:
                lines = [line for line in stream.iter_lines() if line.startswith("data: ")]
            models = client.get(
                f"http://127.0.0.1:{port}/v1/models", headers={"api-key": "demo-key"}
            )
            embedding = client.post(
                f"http://127.0.0.1:{port}/v1/embeddings",
                json={"model": "text-embedding-3-small", "input": "hi", "dimensions": 8},
                headers={"api-key": "demo-key"},
            )
        proc.terminate()
        printed = proc.stdout.read() if proc.stdout else ""
    assert unauthenticated.status_code == 401
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == "Hello from azure-asgi"
    assert resp.json()["extra_fields"]["model_deployment"] == "gpt-4o-demo"
    assert lines[-1] == "data: [DONE]"
    ids = {m["id"] for m in models.json()["data"]}
    assert {"azure/gpt-4o", "azure/text-embedding-3-small", "azure/whisper", "azure/sora"} <= ids
    assert len(embedding.json()["data"][0]["embedding"]) == 8
    assert f"curl http://127.0.0.1:{port}/v1/chat/completions -H 'api-key: demo-key'" in printed


def test_serve_in_front_of_the_emulator_command(tmp_path: Path) -> None:
    eport, gport = _free_port(), _free_port()
    config = {
        "resources": [
            {
                "name": "local",
                "endpoint": f"http://127.0.0.1:{eport}",
                "auth": {"api_key": "${EMU_KEY}"},
                "deployments": {"gpt-4o": "gpt-4o-dep"},
            }
        ],
        "clients": {"api_keys": ["k1"]},
    }
    path = write(tmp_path, json.dumps(config), "gateway.json")
    with (
        run("emulator", "--port", str(eport), "--api-key", "emu-secret") as emu,
        run("serve", "--config", path, "--port", str(gport), env={"EMU_KEY": "emu-secret"}) as gw,
    ):
        wait_for(eport, emu)
        wait_for(gport, gw)
        resp = httpx.post(
            f"http://127.0.0.1:{gport}/openai/deployments/gpt-4o/chat/completions",
            params={"api-version": "2024-10-21"},
            json={"messages": [{"role": "user", "content": "standalone"}]},
            headers={"authorization": "Bearer k1"},
            timeout=10,
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "standalone"
    assert resp.json()["extra_fields"]["resource"] == "local"


def test_create_app_factory_reads_the_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure_asgi import AzureGateway
    from azure_asgi._cli import create_app

    monkeypatch.setenv("AZURE_ASGI_CONFIG", write(tmp_path, CONFIG))
    app = create_app()
    assert isinstance(app, AzureGateway)
    assert [r.name for r in app.config.resources] == ["eastus", "westus"]
