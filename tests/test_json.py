"""The gateway's one JSON reader and writer: hostile input fails as ValueError only, NaN and
Infinity are refused, lone surrogates are written back as the escape they came in, values read
are ``json.loads``' own, and text written is compact ``json.dumps`` output (byte for byte but
for the spelling of some floats)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azure_asgi import _json


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def reference(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse(token: str) -> Any:
    raise ValueError(token)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def reference_loads(raw: bytes | str) -> Any:
    """``json.loads`` without the tokens and numbers JSON does not have."""
    return json.loads(raw, parse_constant=_refuse, parse_float=_finite)


# -- loads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"a":[1,2.5,"\xc3\xa9",null,true]}', '{"a":[1,2.5,"é",null,true]}']
)
def test_loads_reads_bytes_and_text(raw: bytes | str) -> None:
    assert _json.loads(raw) == {"a": [1, 2.5, "é", None, True]}


@pytest.mark.parametrize(
    "raw",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000],
    ids=["arrays", "objects"],
)
def test_nesting_too_deep_to_parse_is_a_plain_value_error(raw: str) -> None:
    with pytest.raises(RecursionError):
        json.loads(raw)  # what the standard library does, and what must not escape
    with pytest.raises(ValueError, match="JSON nested too deeply") as caught:
        _json.loads(raw.encode())
    assert type(caught.value) is ValueError


@pytest.mark.parametrize("raw", [b'{"a":"\xff"}', b'"\xc3"', b'["\xc0\xaf"]'])
def test_bytes_that_are_not_utf8_are_a_plain_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not UTF-8") as caught:
        _json.loads(raw)
    assert type(caught.value) is ValueError  # not a UnicodeDecodeError with the bytes in it


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,]", b"{'a': 1}", b"nul"])
def test_bad_json_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        _json.loads(raw)
    assert isinstance(caught.value, ValueError)


def test_an_escaped_lone_surrogate_is_read_as_such() -> None:
    assert _json.loads(b'{"a":"\\ud800"}') == {"a": "\ud800"}


def test_an_encoded_surrogate_is_read_as_a_lone_surrogate_and_written_back_escaped() -> None:
    # ED A0 80 is U+D800 encoded as if it were a character: not UTF-8 (RFC 3629), yet the
    # standard library reads bytes with "surrogatepass". What goes on is valid UTF-8 all the same.
    value = _json.loads(b'["\xed\xa0\x80"]')
    assert value == ["\ud800"]
    assert _json.dumps(value) == b'["\\ud800"]'


# -- dumps -----------------------------------------------------------------------------------


def test_dumps_is_compact_utf8() -> None:
    value = {"a": [1, "é ☃ 𝄞", None], "b": {"c": True}}
    assert _json.dumps(value) == '{"a":[1,"é ☃ 𝄞",null],"b":{"c":true}}'.encode()


def test_a_lone_surrogate_is_written_as_its_escape() -> None:
    assert _json.dumps({"a": "\ud800"}) == b'{"a":"\\ud800"}'
    assert _json.dumps(["x\udfffy"]) == b'["x\\udfffy"]'


def test_with_a_lone_surrogate_the_whole_document_is_ascii_and_still_reads_back() -> None:
    value = {"é": "\ud800", "b": "☃"}
    out = _json.dumps(value)
    assert out == b'{"\\u00e9":"\\ud800","b":"\\u2603"}'
    out.decode("ascii")
    assert _json.loads(out) == value


def test_nesting_too_deep_to_write_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match="JSON nested too deeply") as caught:
        _json.dumps(nested(100_000))
    assert type(caught.value) is ValueError


def test_what_is_not_json_is_still_a_type_error() -> None:
    with pytest.raises(TypeError):
        _json.dumps({"a": object()})


# -- properties ------------------------------------------------------------------------------

# Text of any code point, lone surrogates included (hypothesis leaves them out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(ANY_TEXT, children, max_size=5)
    ),
    max_leaves=30,
)

plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_round_trips(value: Any) -> None:
    out = _json.dumps(value)
    out.decode("utf-8")  # always valid UTF-8, surrogates or not
    assert _json.loads(out) == value


@settings(max_examples=300, deadline=None)
@given(plain_values)
def test_text_without_lone_surrogates_is_written_as_compact_json_dumps_writes_it(
    value: Any,
) -> None:
    assert _json.dumps(value) == reference(value)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_is_written_as_the_same_number(value: float) -> None:
    out = _json.dumps([value])
    assert json.loads(out) == [value]
    assert str(json.loads(out)[0]) == str(value)  # -0.0 stays negative


@pytest.mark.parametrize("value", [10**400, -(10**30), 2**64])
def test_integers_of_any_size_are_read_and_written_exactly(value: int) -> None:
    text = str(value).encode()
    assert _json.loads(text) == value and type(_json.loads(text)) is int
    assert _json.dumps([value]) == b"[" + text + b"]"


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b'{"a":-Infinity}', b"1e400", b"[-1E999]"])
def test_nan_infinity_and_numbers_beyond_a_double_are_refused(raw: bytes) -> None:
    refused = "is not a JSON value|too large for a double"
    with pytest.raises(ValueError, match=refused) as caught:
        _json.loads(raw)
    assert type(caught.value) is ValueError
    with pytest.raises(ValueError, match=refused):
        _json.loads(b"\xef\xbb\xbf" + raw)  # by the detecting path as well


def test_nan_and_infinity_built_in_python_are_written_as_null() -> None:
    assert _json.dumps([float("nan"), float("inf"), -float("inf")]) == b"[null,null,null]"


def test_keys_json_dumps_converts_are_converted_as_it_converts_them() -> None:
    assert _json.dumps({2: "a", True: "b", None: "c"}) == b'{"2":"a","true":"b","null":"c"}'


def _outcome(read: Any, raw: bytes | str) -> tuple[str, Any]:
    try:
        return "value", read(raw)
    except RecursionError:
        return "too deep", None
    except json.JSONDecodeError as exc:
        return "bad json", str(exc)
    except ValueError:  # json's UnicodeDecodeError, or _json's plain "not UTF-8"
        return "not text", None


json_texts = st.one_of(
    plain_values.map(json.dumps),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.text(alphabet=' \t\n\r{}[]":,.-+0123456789eEtruefalsn\\u', max_size=30),
)
json_bytes = st.one_of(
    json_texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.tuples(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"]), json_texts).map(
        lambda p: p[1].encode(p[0], "surrogatepass")
    ),
    st.binary(max_size=24),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_bytes, json_texts))
def test_loads_reads_what_json_loads_reads_and_refuses_what_it_refuses(raw: bytes | str) -> None:
    # The same value, or the same JSON error message; encodings json detects stay detected.
    assert _outcome(_json.loads, raw) == _outcome(reference_loads, raw)
