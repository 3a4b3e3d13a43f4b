"""The OpenAI family adapter's pure helpers: extra_fields splicing and upstream error objects."""

from __future__ import annotations

import json

import pytest

from azure_asgi.families.openai import encode_fields, splice_extra_fields, upstream_error_object

EXTRA = {"provider": "azure", "latency_ms": 3}


@pytest.mark.parametrize(
    "body",
    [b'{"a": 1}', b'{"a": {"b": [1, 2]}}\n', b'  {"x": "}"}  ', b"{}", b'{\n  "id": "x"\n}\n'],
)
def test_splice_keeps_upstream_bytes_and_adds_extra_fields(body: bytes) -> None:
    out = splice_extra_fields(body, EXTRA)
    assert out is not None
    data = json.loads(out)
    assert data.pop("extra_fields") == EXTRA
    assert data == json.loads(body)
    head = body.rstrip()[:-1].rstrip()
    assert out.startswith(head)  # the upstream's bytes are untouched up to the splice


@pytest.mark.parametrize("body", [b"[1, 2]", b"", b"plain text", b'"str"'])
def test_splice_refuses_non_objects(body: bytes) -> None:
    assert splice_extra_fields(body, EXTRA) is None


def test_upstream_error_object_shapes() -> None:
    azure = {
        "error": {"code": "content_filter", "innererror": {"code": "ResponsibleAIPolicyViolation"}}
    }
    assert upstream_error_object(400, json.dumps(azure).encode()) == azure["error"]
    anthropic = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert upstream_error_object(529, json.dumps(anthropic).encode()) == anthropic["error"]
    text = upstream_error_object(502, b"<html>Bad Gateway</html>")
    assert text["message"] == "<html>Bad Gateway</html>" and text["code"] == "502"
    assert upstream_error_object(500, b"")["message"] == "upstream answered HTTP 500"


def test_encode_fields_matches_json() -> None:
    fields = {
        "provider": "azure",
        "model_requested": 'quo"te\\é\n',
        "latency_ms": 12,
        "resources_failed": ["westus"],
        "flag": True,
    }
    assert json.loads(encode_fields(fields)) == fields


def test_encode_fields_keeps_string_fronts_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure_asgi.families.openai as openai_family

    monkeypatch.setattr(openai_family, "_FRONTS", {})
    monkeypatch.setattr(openai_family, "_FRONTS_MAX", 2)
    for model in ("a", "b", "c", "a"):
        fields = {"provider": "azure", "model_requested": model, "latency_ms": 7}
        assert json.loads(encode_fields(fields)) == fields
    # Two fronts kept, the first seen; the latency is never part of one.
    assert set(openai_family._FRONTS) == {
        (("provider", "azure"), ("model_requested", "a")),
        (("provider", "azure"), ("model_requested", "b")),
    }


def _usual(model: object, latency: object = 41) -> dict[str, object]:
    return {
        "provider": "azure",
        "request_type": "chat_completion",
        "model_requested": model,
        "model_deployment": "dep",
        "resource": "eastus",
        "latency_ms": latency,
    }


@pytest.mark.parametrize(
    "fields",
    [
        _usual("gpt-4o"),
        _usual('quo"te\\é\n\ud800'),  # escapes, a lone surrogate as its \\u escape
        _usual(["a", "list"]),  # cannot be a key
        _usual(None),
        _usual("gpt-4o", True),  # a bool latency is not the usual int
        _usual("gpt-4o", 2**70),
    ],
    ids=["plain", "escapes", "list", "null", "bool-latency", "huge-latency"],
)
def test_the_usual_fields_encode_as_any_other_shape(fields: dict[str, object]) -> None:
    # The usual answer's fields take a path of their own: the same bytes as the general one
    # (the same fields in another order go the general way), first and second time.
    general = dict(reversed(list(fields.items())))
    for _ in range(2):
        encoded = encode_fields(fields)
        assert json.loads(encoded.decode("utf-8", "surrogatepass")) == json.loads(
            encode_fields(general).decode("utf-8", "surrogatepass")
        )
        assert list(json.loads(encoded.decode("utf-8", "surrogatepass"))) == list(fields)


def test_the_usual_fronts_are_kept_within_the_same_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure_asgi.families.openai as openai_family

    monkeypatch.setattr(openai_family, "_USUAL_FRONTS", {})
    monkeypatch.setattr(openai_family, "_FRONTS_MAX", 2)
    for model in ("a", "b", "c", "a", None):
        assert json.loads(encode_fields(_usual(model))) == _usual(model)
    assert [key[2] for key in openai_family._USUAL_FRONTS] == ["a", "b"]


@pytest.mark.parametrize(
    "fields",
    [
        {"latency_ms": 3},
        {"flag": True, "latency_ms": 3},
        {"flag": 1, "latency_ms": 3},
        {"failed": ["westus"], "latency_ms": 3},
        {"provider": "azure", "latency_ms": True},
        {"provider": "azure"},
        {},
    ],
    ids=["latency-only", "bool", "int", "list", "bool-latency", "no-latency", "empty"],
)
def test_encode_fields_of_any_shape_matches_json(fields: dict[str, object]) -> None:
    # Twice: the second call may come from what the first one kept.
    for _ in range(2):
        assert json.loads(encode_fields(fields)) == fields
    assert type(json.loads(encode_fields({"flag": 1, "latency_ms": 3}))["flag"]) is int
    assert json.loads(encode_fields({"flag": True, "latency_ms": 3}))["flag"] is True
