"""The catalog on its own: model names resolved to targets, calls pinned to one resource, and a
resource's health after a cool-down."""

from __future__ import annotations

from typing import Any

import pytest

from azure_asgi import GatewayConfig, GatewayError
from azure_asgi._catalog import Catalog, Resource, Target
from azure_asgi._identity import ApiKeyAuth, build_auth
from azure_asgi._inbound import Inbound
from azure_asgi._routing import RouteTable


def catalog(**overrides: Any) -> Catalog:
    """Two resources: ``gpt-4o`` on both, ``gpt-4o-mini`` and a Claude deployment on ``a`` only,
    and on ``b`` an alias spelled like one of ``a``'s deployment names."""
    data: dict[str, Any] = {
        "resources": [
            {
                "name": "a",
                "endpoint": "https://a.example",
                "auth": {"api_key": "key-a"},
                "deployments": {
                    "gpt-4o": "dep-a",
                    "gpt-4o-mini": {"deployment": "mini-a", "fallbacks": ["gpt-4o"]},
                    "claude-sonnet": "claude-dep",
                    "shared-name": "dep-named-like-an-alias",
                },
            },
            {
                "name": "b",
                "endpoint": "https://b.example",
                "auth": {"api_key": "key-b"},
                "deployments": {"gpt-4o": "dep-b", "dep-named-like-an-alias": "dep-b2"},
            },
        ],
        **overrides,
    }
    config = GatewayConfig.coerce(data)
    return Catalog(config, {r.name: build_auth(r) for r in config.resources})


def where(targets: list[Target]) -> list[tuple[str, str]]:
    return [(t.resource.name, t.deployment) for t in targets]


def call(
    path: str = "v1/chat/completions",
    method: str = "POST",
    *,
    model: str | None = "gpt-4o",
    pinned: set[str] | None = None,
    header: str | None = None,
) -> Inbound:
    route = RouteTable().match(method, tuple(path.split("/")))
    return Inbound(route, model=model, pinned=pinned or set(), resource_header=header)


def refusal(excinfo: pytest.ExceptionInfo[GatewayError]) -> tuple[int, str | None, str | None]:
    return excinfo.value.status, excinfo.value.code, excinfo.value.param


# -- resolve ---------------------------------------------------------------------------------


def test_an_alias_resolves_to_every_resource_serving_it_in_config_order() -> None:
    targets = catalog().resolve("gpt-4o")
    assert where(targets) == [("a", "dep-a"), ("b", "dep-b")]
    assert {t.alias for t in targets} == {"gpt-4o"}


def test_a_deployment_name_resolves_to_its_own_target() -> None:
    (target,) = catalog().resolve("mini-a")
    assert (target.resource.name, target.alias, target.deployment) == ("a", "gpt-4o-mini", "mini-a")
    assert target.fallbacks == ("gpt-4o",)


def test_an_alias_wins_over_a_deployment_of_the_same_name() -> None:
    assert where(catalog().resolve("dep-named-like-an-alias")) == [("b", "dep-b2")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("azure/gpt-4o", [("a", "dep-a"), ("b", "dep-b")]), ("azure/dep-b", [("b", "dep-b")])],
)
def test_the_azure_prefix_is_dropped(name: str, expected: list[tuple[str, str]]) -> None:
    cat = catalog()
    assert where(cat.resolve(name)) == expected
    assert cat.lookup(name) == cat.resolve(name)


def test_the_family_is_read_from_the_names() -> None:
    cat = catalog()
    assert cat.resolve("claude-sonnet")[0].family == "anthropic"
    assert cat.resolve("gpt-4o")[0].family == "openai"


@pytest.mark.parametrize("name", ["openai/gpt-4o", "anthropic/claude-3", "bedrock/x"])
def test_another_providers_prefix_is_400_naming_it(name: str) -> None:
    with pytest.raises(GatewayError) as caught:
        catalog().resolve(name)
    assert refusal(caught) == (400, "unsupported_provider", "model")
    provider = name.split("/")[0]
    assert f"Provider '{provider}' is not served" in caught.value.message
    assert "'azure/claude-sonnet'" in caught.value.message  # the first alias, as an example


@pytest.mark.parametrize("name", ["gpt-5", "azure/gpt-5", "GPT-4O"])
def test_an_unknown_model_is_404_listing_what_is_served(name: str) -> None:
    cat = catalog()
    assert cat.lookup(name) is None
    with pytest.raises(GatewayError) as caught:
        cat.resolve(name)
    assert refusal(caught) == (404, "model_not_found", "model")
    served = "claude-sonnet, dep-named-like-an-alias, gpt-4o, gpt-4o-mini, shared-name"
    assert f"The model '{name}' is not served by this gateway (served: {served})" in str(
        caught.value
    )
    assert cat.aliases == served.split(", ")


# -- targets_for -----------------------------------------------------------------------------


def test_a_model_call_goes_to_every_target_of_its_model() -> None:
    assert where(catalog().targets_for(call())) == [("a", "dep-a"), ("b", "dep-b")]


def test_a_tagged_id_keeps_a_model_call_on_its_resource() -> None:
    assert where(catalog().targets_for(call(pinned={"b"}))) == [("b", "dep-b")]


def test_the_resource_header_keeps_a_model_call_on_that_resource() -> None:
    assert where(catalog().targets_for(call(header="b"))) == [("b", "dep-b")]


def test_an_ids_tag_wins_over_the_resource_header() -> None:
    assert where(catalog().targets_for(call(pinned={"a"}, header="b"))) == [("a", "dep-a")]


def test_an_unknown_resource_header_is_400_listing_the_configured_ones() -> None:
    with pytest.raises(GatewayError) as caught:
        catalog().targets_for(call(header="c"))
    assert refusal(caught) == (400, "unknown_resource", None)
    assert "'c'" in caught.value.message and "(configured: a, b)" in caught.value.message


def test_ids_from_two_resources_are_a_resource_conflict() -> None:
    with pytest.raises(GatewayError) as caught:
        catalog().targets_for(call(pinned={"b", "a"}))
    assert refusal(caught) == (400, "resource_conflict", None)
    assert "(a, b)" in caught.value.message


def test_a_model_missing_from_the_pinned_resource_is_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        catalog().targets_for(call(model="gpt-4o-mini", pinned={"b"}))
    assert refusal(caught) == (400, "model_not_on_resource", "model")
    assert "'gpt-4o-mini'" in caught.value.message and "'b'" in caught.value.message


@pytest.mark.parametrize(
    ("path", "method"),
    [("v1/embeddings", "POST"), ("v1/completions", "POST"), ("v1/images/generations", "POST")],
)
def test_a_family_the_operation_does_not_serve_is_refused(path: str, method: str) -> None:
    with pytest.raises(GatewayError) as caught:
        catalog().targets_for(call(path, method, model="claude-sonnet"))
    assert refusal(caught) == (400, "unsupported_operation", "model")
    assert "anthropic-family" in caught.value.message and "nothing was sent" in caught.value.message


@pytest.mark.parametrize("path", ["v1/chat/completions", "v1/responses"])
def test_claude_serves_chat_and_responses_translated(path: str) -> None:
    targets = catalog().targets_for(call(path, "POST", model="claude-sonnet"))
    assert [t.family for t in targets] == ["anthropic"]


@pytest.mark.parametrize(
    ("overrides", "pinned", "header", "expected"),
    [
        ({}, None, None, "a"),  # nothing says: the first resource
        ({"default_resource": "b"}, None, None, "b"),
        ({"default_resource": "b"}, None, "a", "a"),
        ({"default_resource": "b"}, {"a"}, None, "a"),
        ({}, {"b"}, "a", "b"),
    ],
)
def test_a_resource_routed_call_goes_to_the_one_resource_named(
    overrides: dict[str, Any], pinned: set[str] | None, header: str | None, expected: str
) -> None:
    listing = call("v1/files", "GET", model=None, pinned=pinned, header=header)
    (target,) = catalog(**overrides).targets_for(listing)
    assert target.resource.name == expected
    assert (target.alias, target.deployment, target.family) == ("", "", "openai")


def test_an_object_routed_call_goes_to_its_ids_resource() -> None:
    retrieve = call("v1/files/file-1", "GET", model=None, pinned={"b"})
    assert [t.resource.name for t in catalog().targets_for(retrieve)] == ["b"]


# -- Resource --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_resource_is_avoided_for_its_cool_down_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure_asgi._catalog as catalog_module

    clock = Clock()
    monkeypatch.setattr(catalog_module, "time", clock)
    resource = Resource("a", "https://a.example/", ApiKeyAuth("k"))
    assert resource.healthy
    resource.cool_down(30)
    assert resource.cooldown_until == 1030.0
    assert not resource.healthy
    clock.now = 1029.9
    assert not resource.healthy
    clock.now = 1030.0
    assert resource.healthy
    resource.cool_down(0)
    assert resource.healthy


def test_a_resource_keeps_its_base_without_a_trailing_slash_and_its_key_out_of_repr() -> None:
    resource = Resource("a", "https://a.example/", ApiKeyAuth("secret-key"))
    assert resource.base == "https://a.example"
    assert repr(resource) == "Resource('a', 'https://a.example')"
