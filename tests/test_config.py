"""GatewayConfig: loading, ${VAR} expansion, validation, one-line errors and secret hygiene."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from azure_asgi._config import (
    AuthConfig,
    ClientsConfig,
    ConfigError,
    DeploymentConfig,
    DirectKeysConfig,
    GatewayConfig,
    ManagedIdentityConfig,
    ResourceConfig,
)

SAMPLE_YAML = """\
api_version: "2024-10-21"
timeout_s: 600
retries: {max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 5000}
limits: {max_body_bytes: 33554432, max_upload_bytes: 536870912}
# default_resource: eastus
resources:
  - name: eastus
    endpoint: https://eastus-res.openai.azure.com
    weight: 1
    auth:
      api_key: ${AZURE_OPENAI_API_KEY}
    deployments:
      gpt-4o: my-gpt4o-deployment
      text-embedding-3-small: my-embedding-deployment
      claude-sonnet:
        deployment: my-claude-deployment
        family: anthropic
clients:
  api_keys: ["${GATEWAY_KEY}"]
direct_keys:
  enabled: false
  allowed_endpoints: ["https://*.openai.azure.com", "https://*.services.ai.azure.com",
                      "https://*.cognitiveservices.azure.com"]
"""

SECRET = "sk-SECRET-123"
ENV = {"AZURE_OPENAI_API_KEY": SECRET, "GATEWAY_KEY": "gw-key-1"}


def resource(**overrides: Any) -> dict[str, Any]:
    return {"name": "eastus", "endpoint": "https://eastus.openai.azure.com", **overrides}


def config(*resources: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"resources": list(resources) or [resource()], **top}


def error_of(data: dict[str, Any], environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        GatewayConfig.coerce(data, environ=environ or {})
    assert "\n" not in str(info.value)
    return info.value


# --- loading -------------------------------------------------------------------------------------


def test_contract_sample_yaml_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(SAMPLE_YAML)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    cfg = GatewayConfig.load(path)

    assert cfg.api_version == "2024-10-21"
    assert cfg.timeout_s == 600
    assert cfg.retries.max_attempts == 3
    assert cfg.limits.max_upload_bytes == 536870912
    (res,) = cfg.resources
    assert res.name == "eastus"
    assert res.endpoint == "https://eastus-res.openai.azure.com"
    assert res.kind == "azure"
    assert res.api_style == "deployments"
    assert res.auth.api_key is not None
    assert res.auth.api_key.get_secret_value() == SECRET
    assert res.auth.method == "api_key"
    assert res.deployments["gpt-4o"] == DeploymentConfig(
        deployment="my-gpt4o-deployment", family="openai"
    )
    assert res.deployments["claude-sonnet"].family == "anthropic"
    assert [k.get_secret_value() for k in cfg.clients.api_keys] == ["gw-key-1"]
    assert cfg.direct_keys == DirectKeysConfig()
    assert cfg.default_resource_name == "eastus"


def test_load_with_environ_mapping(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yml"
    path.write_text(SAMPLE_YAML)
    cfg = GatewayConfig.load(path, environ=ENV)
    assert cfg.clients.api_keys[0].get_secret_value() == "gw-key-1"


def test_load_json_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(config(resource(deployments={"gpt-4o": "dep"}), timeout_s=30)))
    cfg = GatewayConfig.load(str(path), environ={})
    assert cfg.timeout_s == 30
    assert cfg.resources[0].deployments["gpt-4o"].deployment == "dep"


@pytest.mark.parametrize(
    "text", [json.dumps(config()), "resources:\n  - {name: a, endpoint: http://h}"]
)
def test_load_other_suffix_tries_json_then_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "gateway.conf"
    path.write_text(text)
    assert len(GatewayConfig.load(path, environ={}).resources) == 1


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        GatewayConfig.load(tmp_path / "nope.yaml")
    assert info.value.field == str(tmp_path / "nope.yaml")


def test_load_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        GatewayConfig.load(tmp_path)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("list.yaml", "- a\n- b\n", "must be a mapping"),
        ("empty.yaml", "", "must be a mapping"),
        ("scalar.json", "42", "must be a mapping"),
        ("bad.json", '{"resources": [', "invalid JSON at line 1"),
        ("bad.yaml", f"resources: [\n  {{api_key: {SECRET}", "invalid YAML"),
    ],
)
def test_load_rejects_non_mappings_and_syntax_errors(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        GatewayConfig.load(path, environ={})
    assert SECRET not in str(info.value)
    assert info.value.__context__ is None  # the parser's exception holds the document


# --- ${VAR} expansion ----------------------------------------------------------------------------


def test_env_default_used_when_unset_or_empty() -> None:
    data = config(resource(endpoint="${EP:-http://localhost:9000}/", weight="${W:-2.5}"))
    assert GatewayConfig.coerce(data, environ={}).resources[0].endpoint == "http://localhost:9000"
    assert GatewayConfig.coerce(data, environ={"EP": ""}).resources[0].weight == 2.5
    cfg = GatewayConfig.coerce(data, environ={"EP": "https://x.openai.azure.com", "W": "3"})
    assert cfg.resources[0].endpoint == "https://x.openai.azure.com"
    assert cfg.resources[0].weight == 3


def test_env_expansion_in_lists_and_mid_string_keys_untouched() -> None:
    data = config(
        resource(endpoint="https://${HOST}.openai.azure.com", deployments={"${A}": "dep-${A}"}),
        clients={"api_keys": ["${K1}", "fixed"]},
    )
    cfg = GatewayConfig.coerce(data, environ={"HOST": "west", "A": "x", "K1": "one"})
    assert cfg.resources[0].endpoint == "https://west.openai.azure.com"
    assert cfg.resources[0].deployments == {
        "${A}": DeploymentConfig(deployment="dep-x", family="openai")
    }
    assert [k.get_secret_value() for k in cfg.clients.api_keys] == ["one", "fixed"]


def test_env_value_is_not_expanded_again() -> None:
    cfg = GatewayConfig.coerce(
        config(resource(auth={"api_key": "${K}"})), environ={"K": "${OTHER}"}
    )
    assert cfg.resources[0].auth.api_key is not None
    assert cfg.resources[0].auth.api_key.get_secret_value() == "${OTHER}"


def test_unset_variable_names_variable_and_path() -> None:
    exc = error_of(config(resource(auth={"api_key": "${AZURE_OPENAI_API_KEY}"})))
    assert str(exc) == (
        "resources.0.auth.api_key: environment variable AZURE_OPENAI_API_KEY is not set "
        "(use ${AZURE_OPENAI_API_KEY:-default} for a default)"
    )
    assert exc.field == "resources.0.auth.api_key"


def test_coerce_dict_expands_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CFG_EP", "http://emulator:9000")
    monkeypatch.delenv("TEST_CFG_UNSET", raising=False)
    cfg = GatewayConfig.coerce(config(resource(endpoint="${TEST_CFG_EP}")))
    assert cfg.resources[0].endpoint == "http://emulator:9000"
    with pytest.raises(ConfigError, match="TEST_CFG_UNSET is not set"):
        GatewayConfig.coerce(config(resource(endpoint="${TEST_CFG_UNSET}")))


# --- validation errors ---------------------------------------------------------------------------


def test_unknown_top_level_key_is_shown_by_position_with_allowed_fields() -> None:
    exc = error_of(config(timeout=5))
    assert str(exc) == (
        "config: an unknown key (the 2nd key of config; allowed: api_version, api_versions, "
        "timeout_s, retries, limits, default_resource, resources, clients, direct_keys, "
        "telemetry)"
    )
    assert exc.field == "config"


def test_unknown_nested_keys_name_their_parent_and_allowed_ones() -> None:
    exc = error_of(config({**resource(), "endpiont": "x"}))
    assert str(exc) == (
        "resources.0: an unknown key (the 3rd key of resources.0; allowed: name, endpoint, "
        "weight, kind, api_style, auth, deployments)"
    )
    exc = error_of(config(resource(deployments={"gpt": {"deployment": "d", "famly": "x"}})))
    assert str(exc) == (
        "resources.0.deployments.gpt: an unknown key (the 2nd key of resources.0.deployments.gpt; "
        "allowed: deployment, family, fallbacks, max_tokens)"
    )
    exc = error_of(config(resource(auth={"managed_identity": {"clientid": "x"}})))
    assert str(exc) == (
        "resources.0.auth.managed_identity: an unknown key (the 1st key of "
        "resources.0.auth.managed_identity; allowed: client_id)"
    )
    for text in ("endpiont", "famly", "clientid"):
        assert text not in str(exc)


PASTED = "sk-abc123pastedAsAKey"


@pytest.mark.parametrize(
    ("data", "field", "position"),
    [
        (
            config(resource(auth={"api_key": "k", "scope": "s", PASTED: "x"})),
            "resources.0.auth",
            "the 3rd key of resources.0.auth",
        ),
        ({**config(), PASTED: 1}, "config", "the 2nd key of config"),
        (config(clients={PASTED: True}), "clients", "the 1st key of clients"),
        (
            config(*[resource(name=f"r{i}") for i in range(10)], resource(name="x", **{PASTED: 1})),
            "resources.10",
            "the 3rd key of resources.10",
        ),
    ],
)
def test_a_secret_pasted_as_a_key_is_never_echoed(
    data: dict[str, Any], field: str, position: str
) -> None:
    exc = error_of(data)
    assert exc.field == field
    assert f"an unknown key ({position}; allowed: " in str(exc)
    for text in (str(exc), repr(exc), repr(exc.errors), exc.field):
        assert PASTED not in text and "abc123" not in text


def test_key_that_is_not_a_string_is_shown_by_position() -> None:
    exc = error_of(config(resource(auth={"api_key": "k", 123456: "x"})))
    assert str(exc).startswith(
        "resources.0.auth: a key that is not a string (the 2nd key of resources.0.auth; allowed: "
    )
    assert "123456" not in str(exc)


def test_unset_variable_under_an_unknown_key_does_not_echo_the_key() -> None:
    exc = error_of(config(resource(auth={"api_key": "k", PASTED: {"x": "${NOT_SET_HERE}"}})))
    assert exc.field == "resources.0.auth.<2nd key>"
    assert "NOT_SET_HERE is not set" in str(exc)
    assert PASTED not in str(exc)


def test_unknown_api_versions_key_is_shown_by_position() -> None:
    exc = error_of(config(api_versions={"image_edit": "v", PASTED: "x"}))
    assert exc.field == "api_versions"
    assert "an unknown key (the 2nd key of api_versions; allowed: " in str(exc)
    assert "image_edit" in str(exc)  # among the allowed ones
    assert PASTED not in str(exc)


YAML_AUTH = "resources:\n  - {{name: a, endpoint: https://a.openai.azure.com, auth: {auth}}}\n"


@pytest.mark.parametrize(
    "text",
    [
        YAML_AUTH.format(auth=f"{{api_key: *{SECRET}}}"),  # read as an alias
        YAML_AUTH.format(auth=f"{{api_key: !{SECRET} x}}"),  # read as a tag
    ],
)
def test_yaml_errors_do_not_quote_a_secret(tmp_path: Path, text: str) -> None:
    # An api_key starting with * or ! reads as a YAML alias or tag, which PyYAML quotes.
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="invalid YAML at line 2") as info:
        GatewayConfig.load(path, environ={})
    assert SECRET not in str(info.value)
    assert SECRET.removeprefix("sk-") not in str(info.value)


def test_yaml_errors_keep_the_short_quotes_that_explain_them(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("resources:\n\t- x\n")
    with pytest.raises(ConfigError, match=r"found character '\\t' that cannot start any token"):
        GatewayConfig.load(path, environ={})


def test_validator_messages_that_quote_their_input_are_scrubbed() -> None:
    # Defence in depth: a future validator echoing its input must not leak it through a
    # ConfigError (pydantic's own messages never quote the input).
    from pydantic import BaseModel, ValidationError, field_validator

    from azure_asgi._config_loading import config_error

    class Echoing(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _echo(cls, value: str) -> str:
            raise ValueError(f"{value!r} is not a good name")

    with pytest.raises(ValidationError) as info:
        Echoing.model_validate({"name": SECRET})
    message = str(config_error(info.value, Echoing, {"name": SECRET}))
    assert SECRET not in message
    assert message == "name: '<value not shown>' is not a good name"


def test_several_errors_join_on_one_line_first_first() -> None:
    exc = error_of(config({"name": "a", "bogus": 1}, retries={"max_attempts": 0}))
    message = str(exc)
    assert message.startswith("retries.max_attempts: ")
    assert "resources.0.endpoint: required field is missing" in message
    assert "resources.0: an unknown key (the 2nd key of resources.0; allowed: " in message
    assert message.count("; ") == 3  # three errors, one of them listing what is allowed
    assert exc.field == "retries.max_attempts"
    assert [field for field, _ in exc.errors] == [
        "retries.max_attempts",
        "resources.0.endpoint",
        "resources.0",
    ]


@pytest.mark.parametrize(
    "endpoint",
    [
        "eastus.openai.azure.com",
        "ftp://host",
        "https://",
        "/openai",
        "https://h:port",
        "https://h?x=1",
    ],
)
def test_bad_endpoint(endpoint: str) -> None:
    exc = error_of(config(resource(endpoint=endpoint)))
    assert exc.field == "resources.0.endpoint"
    assert (
        "endpoint must be an absolute http(s) URL such as https://my-resource.openai.azure.com"
        in str(exc)
    )


def test_endpoint_trailing_slash_stripped_and_path_kept() -> None:
    cfg = GatewayConfig.coerce(
        config(
            resource(endpoint="https://a.openai.azure.com/"),
            resource(name="oai", endpoint="http://127.0.0.1:9000/v1/", kind="openai"),
        ),
        environ={},
    )
    assert [r.endpoint for r in cfg.resources] == [
        "https://a.openai.azure.com",
        "http://127.0.0.1:9000/v1",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "resources.0.name"),
        ({"name": "east us"}, "resources.0.name"),
        ({"weight": 0}, "resources.0.weight"),
        ({"kind": "aws"}, "resources.0.kind"),
        ({"api_style": "v2"}, "resources.0.api_style"),
        ({"deployments": {"gpt": ""}}, "resources.0.deployments.gpt.deployment"),
        ({"deployments": {"gpt": 3}}, "resources.0.deployments.gpt"),
    ],
)
def test_resource_field_checks(overrides: dict[str, Any], field: str) -> None:
    assert error_of(config(resource(**overrides))).field == field


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"timeout_s": 0}, "timeout_s"),
        ({"retries": {"initial_backoff_ms": -1}}, "retries.initial_backoff_ms"),
        ({"limits": {"max_body_bytes": 0}}, "limits.max_body_bytes"),
        ({"resources": []}, "resources"),
    ],
)
def test_top_level_field_checks(top: dict[str, Any], field: str) -> None:
    assert error_of({**config(), **top}).field == field


def test_missing_resources() -> None:
    assert str(error_of({})) == "resources: required field is missing"


def test_duplicate_resource_names() -> None:
    exc = error_of(config(resource(), resource(endpoint="https://other.openai.azure.com")))
    assert str(exc) == "resources.1.name: duplicate resource name 'eastus'"


def test_default_resource_must_name_a_resource() -> None:
    exc = error_of(config(resource(), default_resource="westus"))
    assert str(exc) == "default_resource: no resource named 'westus' (names: eastus)"
    cfg = GatewayConfig.coerce(
        config(resource(), resource(name="westus"), default_resource="westus"), environ={}
    )
    assert cfg.default_resource_name == "westus"


def test_fallbacks_must_name_served_aliases() -> None:
    deployments = {"gpt-4o": {"deployment": "d", "fallbacks": ["gpt-4o-mini", "nope"]}}
    other = resource(name="westus", deployments={"gpt-4o-mini": "mini"})
    exc = error_of(config(resource(deployments=deployments), other))
    assert str(exc) == (
        "resources.0.deployments.gpt-4o.fallbacks.1: "
        "no resource serves 'nope' (aliases: gpt-4o, gpt-4o-mini)"
    )
    good = {"gpt-4o": {"deployment": "d", "fallbacks": ["gpt-4o-mini"]}}
    cfg = GatewayConfig.coerce(config(resource(deployments=good), other), environ={})
    assert cfg.resources[0].deployments["gpt-4o"].fallbacks == ("gpt-4o-mini",)


# --- deployments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "deployment", "family"),
    [
        ("gpt-4o", "my-gpt4o", "openai"),
        ("Claude-Sonnet", "my-dep", "anthropic"),
        ("sonnet", "prod-CLAUDE-4", "anthropic"),
        ("text-embedding-3-small", "emb", "openai"),
    ],
)
def test_family_detected_from_alias_or_deployment(alias: str, deployment: str, family: str) -> None:
    res = ResourceConfig.model_validate(resource(deployments={alias: deployment}))
    assert res.deployments[alias].family == family


def test_explicit_family_wins_over_detection() -> None:
    res = ResourceConfig.model_validate(
        resource(deployments={"claude-proxy": {"deployment": "x", "family": "openai"}})
    )
    assert res.deployments["claude-proxy"].family == "openai"


def test_string_and_object_deployments_are_equivalent() -> None:
    res = ResourceConfig.model_validate(
        resource(deployments={"a": "dep", "b": {"deployment": "dep", "fallbacks": ["a"]}})
    )
    assert res.deployments["a"] == DeploymentConfig(deployment="dep", family="openai")
    assert res.deployments["b"] == DeploymentConfig(
        deployment="dep", family="openai", fallbacks=("a",)
    )


# --- auth ----------------------------------------------------------------------------------------

SP = {"tenant_id": "t", "client_id": "c", "client_secret": "s"}


@pytest.mark.parametrize(
    ("auth", "method"),
    [
        (
            {**SP, "api_key": "k", "azure_ad_token": "tok", "managed_identity": True},
            "service_principal",
        ),
        ({"api_key": "k", "azure_ad_token": "tok", "managed_identity": True}, "api_key"),
        ({"azure_ad_token": "tok", "managed_identity": True, "workload_identity": True}, "token"),
        ({"managed_identity": True, "workload_identity": True}, "managed_identity"),
        ({"managed_identity": {"client_id": "uami"}}, "managed_identity"),
        ({"workload_identity": True}, "workload_identity"),
        ({"workload_identity": True, "client_id": "app"}, "workload_identity"),
        ({"managed_identity": False}, "default"),
        ({}, "default"),
        ({"api_key": ""}, "default"),
    ],
)
def test_auth_method_precedence(auth: dict[str, Any], method: str) -> None:
    assert AuthConfig.model_validate(auth).method == method


def test_managed_identity_object() -> None:
    auth = AuthConfig.model_validate({"managed_identity": {"client_id": "uami"}})
    assert auth.managed_identity == ManagedIdentityConfig(client_id="uami")


@pytest.mark.parametrize(
    ("auth", "missing"),
    [
        ({"tenant_id": "t"}, "client_id, client_secret"),
        ({"client_id": "c"}, "tenant_id, client_secret"),
        ({"tenant_id": "t", "client_id": "c"}, "client_secret"),
        ({"client_secret": SECRET, "client_id": "c"}, "tenant_id"),
        ({"tenant_id": "t", "client_id": "c", "workload_identity": True}, "client_secret"),
    ],
)
def test_partial_service_principal_names_missing(auth: dict[str, Any], missing: str) -> None:
    exc = error_of(config(resource(auth=auth)))
    assert exc.field == "resources.0.auth"
    assert f"missing: {missing} " in str(exc)
    assert SECRET not in str(exc)


# --- clients -------------------------------------------------------------------------------------


def test_empty_client_keys_dropped() -> None:
    data = config(clients={"api_keys": ["${GATEWAY_KEY:-}", "", "  ", "real"]})
    cfg = GatewayConfig.coerce(data, environ={})
    assert [k.get_secret_value() for k in cfg.clients.api_keys] == ["real"]
    assert ClientsConfig.model_validate({"api_keys": [""]}).api_keys == ()


# --- from_env ------------------------------------------------------------------------------------


def test_from_env_all_variables() -> None:
    cfg = GatewayConfig.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/",
            "AZURE_OPENAI_API_KEY": SECRET,
            "OPENAI_API_VERSION": "2025-01-01-preview",
            "AZURE_ASGI_DEPLOYMENTS": " gpt-4o = my-gpt4o , claude-sonnet=cs,, gpt-4o-mini ",
            "AZURE_ASGI_CLIENT_KEYS": "k1, k2,",
        }
    )
    (res,) = cfg.resources
    assert res.name == "default"
    assert res.endpoint == "https://r.openai.azure.com"
    assert res.auth.method == "api_key"
    assert cfg.api_version == "2025-01-01-preview"
    assert {a: (d.deployment, d.family) for a, d in res.deployments.items()} == {
        "gpt-4o": ("my-gpt4o", "openai"),
        "claude-sonnet": ("cs", "anthropic"),
        "gpt-4o-mini": ("gpt-4o-mini", "openai"),
    }
    assert [k.get_secret_value() for k in cfg.clients.api_keys] == ["k1", "k2"]
    assert SECRET not in repr(cfg)


def test_from_env_minimal_uses_default_credential() -> None:
    cfg = GatewayConfig.from_env({"AZURE_OPENAI_ENDPOINT": "http://localhost:9000"})
    assert cfg.resources[0].auth.method == "default"
    assert cfg.api_version == "2024-10-21"
    assert cfg.resources[0].deployments == {}
    assert cfg.clients.api_keys == ()


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://from-os.openai.azure.com")
    assert GatewayConfig.from_env().resources[0].endpoint == "https://from-os.openai.azure.com"


@pytest.mark.parametrize("env", [{}, {"AZURE_OPENAI_ENDPOINT": "  "}])
def test_from_env_missing_endpoint(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT is not set"):
        GatewayConfig.from_env(env)


@pytest.mark.parametrize("deployments", ["=dep", "alias="])
def test_from_env_bad_deployment_entry(deployments: str) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "http://h", "AZURE_ASGI_DEPLOYMENTS": deployments}
    with pytest.raises(ConfigError, match="alias=deployment") as info:
        GatewayConfig.from_env(env)
    assert info.value.field == "AZURE_ASGI_DEPLOYMENTS"


def test_from_env_bad_endpoint() -> None:
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_env({"AZURE_OPENAI_ENDPOINT": "r.openai.azure.com"})
    assert info.value.field == "resources.0.endpoint"


# --- coerce --------------------------------------------------------------------------------------


def test_coerce_each_input_kind(tmp_path: Path) -> None:
    cfg = GatewayConfig.coerce(config(), environ={})
    assert GatewayConfig.coerce(cfg) is cfg
    path = tmp_path / "gateway.yaml"
    path.write_text("resources:\n  - {name: yaml-res, endpoint: 'http://h'}\n")
    assert GatewayConfig.coerce(path).resources[0].name == "yaml-res"
    assert GatewayConfig.coerce(str(path)).resources[0].name == "yaml-res"
    with pytest.raises(TypeError, match="GatewayConfig, a mapping or a path"):
        GatewayConfig.coerce(42)  # type: ignore[arg-type]


# --- secrets -------------------------------------------------------------------------------------


def secret_config() -> dict[str, Any]:
    auth = {"api_key": SECRET, "client_secret": SECRET, "azure_ad_token": SECRET}
    return config(
        resource(auth={**auth, "tenant_id": "t", "client_id": "c"}),
        clients={"api_keys": [SECRET]},
    )


def test_secrets_not_in_repr_or_str() -> None:
    cfg = GatewayConfig.coerce(secret_config(), environ={})
    for text in (repr(cfg), str(cfg), repr(cfg.resources[0].auth), cfg.model_dump_json()):
        assert SECRET not in text
    assert cfg.resources[0].auth.method == "service_principal"


@pytest.mark.parametrize(
    "breakage",
    [
        {"timeout_s": -1},
        {"resources": [resource(endpoint="nope", auth={"api_key": SECRET, "tenant_id": "t"})]},
        {"clients": {"api_keys": [SECRET, 5]}},
        {"resources": [resource(auth={"api_key": [SECRET]})]},
        {"resources": [resource(auth={"azure_ad_token": {"x": SECRET}})]},
        {"resources": [resource(endpoint=f"https://user:{SECRET}@h")]},
        {"resources": [resource(auth={"api_key": {SECRET: SECRET}})]},
        {"resources": [resource(auth={"client_secret": 12, SECRET: SECRET})]},
        {"resources": [resource(auth={"managed_identity": {SECRET: SECRET}})]},
        {"resources": [resource(auth={"managed_identity": SECRET})]},
        {"resources": [resource(kind=SECRET, weight=SECRET, api_style=SECRET)]},
        {"clients": {"api_keys": SECRET}},
        {"clients": {"api_keys": [SECRET, [SECRET]], SECRET: 1}},
        {"direct_keys": {"allowed_endpoints": SECRET}},
        {"default_resource": 5, SECRET: {SECRET: "${UNSET_SECRET_VAR}"}},
    ],
)
def test_secrets_not_in_errors(breakage: dict[str, Any]) -> None:
    exc = error_of({**secret_config(), **breakage})
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert exc.__context__ is None  # the ValidationError (whose str shows inputs) is not kept
    assert exc.__cause__ is None


def test_secret_not_in_errors_from_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(SAMPLE_YAML.replace("weight: 1", "weight: -1"))
    with pytest.raises(ConfigError) as info:
        GatewayConfig.load(path, environ=ENV)
    assert str(info.value).startswith("resources.0.weight: ")
    assert SECRET not in str(info.value)


# --- the error type ------------------------------------------------------------------------------


def test_config_error_is_value_error_and_pickles() -> None:
    exc = error_of(config(timeout_s=0, limits={"max_body_bytes": 0}))
    assert isinstance(exc, ValueError)
    clone = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    assert str(clone) == str(exc)
    assert clone.field == exc.field == "timeout_s"


def test_models_are_frozen() -> None:
    cfg = GatewayConfig.coerce(config(), environ={})
    with pytest.raises(ValueError, match="frozen"):
        cfg.timeout_s = 1


@pytest.mark.parametrize("name", ["east us", "a~b", "-lead", "é", "a/b"])
def test_resource_names_are_plain(name: str) -> None:
    # Names travel inside object ids (file-1~eastus): nothing that needs escaping.
    exc = error_of(config(resource(name=name)))
    assert exc.field == "resources.0.name"
    assert "letters, digits" in str(exc)


def test_api_versions_overrides_are_checked() -> None:
    cfg = GatewayConfig.coerce(config(api_versions={"image_edit": "2025-04-01-preview"}))
    assert cfg.api_versions == {"image_edit": "2025-04-01-preview"}
    exc = error_of(config(api_versions={"image_edits": "x"}))
    assert exc.field == "api_versions"
    assert "the 1st key of api_versions" in str(exc) and "image_edits" not in str(exc)
    assert "image_edit" in str(exc)
