"""The SSE codec: WHATWG parsing, byte-exact ``raw``, chunking at any byte, encode, boundaries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azure_asgi._sse import SSEDecoder, SSEEvent, encode_event, event_boundary

BOM = b"\xef\xbb\xbf"


def decode(stream: bytes, chunks: list[bytes] | None = None) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks if chunks is not None else [stream]:
        events += decoder.feed(chunk)
    return events + decoder.end()


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


def fields(events: list[SSEEvent]) -> list[tuple[Any, ...]]:
    return [(e.data, e.event, e.id, e.retry, e.has_data) for e in events]


def reference(stream: bytes) -> list[tuple[Any, ...]]:
    """The spec's algorithm, literally, on decoded text; plus this codec's two deviations (every
    block is returned, a final block without its blank line is completed at end of stream)."""
    text = stream.decode("utf-8", "replace")
    blocks: list[tuple[Any, ...]] = []
    data: list[str] = []
    event: str | None = None
    id_: str | None = None
    retry: int | None = None
    pending = text.startswith("\ufeff")  # the BOM's bytes belong to the first block's raw
    text = text.removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    last = lines.pop()  # after the final line terminator: "" unless the last line is partial
    for line in [*lines, last] if last else lines:
        if not line:
            blocks.append(("\n".join(data), event, id_, retry, bool(data)))
            data, event, id_, retry, pending = [], None, None, None, False
            continue
        pending = True
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\x00" not in value:
            id_ = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    if pending:
        blocks.append(("\n".join(data), event, id_, retry, bool(data)))
    return blocks


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str) -> None:
    stream = f"data: a{eol}{eol}event: e{eol}data: b{eol}{eol}".encode()
    for chunks in ([stream], bytewise(stream)):
        events = decode(stream, chunks)
        assert fields(events) == [("a", None, None, None, True), ("b", "e", None, None, True)]
        assert [e.raw for e in events] == [
            f"data: a{eol}{eol}".encode(),
            stream[len(eol) * 2 + 7 :],
        ]


def test_mixed_line_endings() -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\rdata: e\n\n"
    events = decode(stream)
    assert [e.data for e in events] == ["a\nb\nc", "d", "e"]
    assert [e.raw for e in events] == [
        b"data: a\r\ndata: b\rdata: c\n\r\n",
        b"data: d\r\r",
        b"data: e\n\n",
    ]


def test_multi_line_data_and_empty_data_lines() -> None:
    assert decode(b"data: a\ndata:\ndata: b\ndata\n\n")[0].data == "a\n\nb\n"


def test_comments_are_skipped_and_comment_only_blocks_still_returned() -> None:
    events = decode(b": ping\n\ndata: a\n: inside\ndata: b\n\n:\n\n")
    assert fields(events) == [
        ("", None, None, None, False),
        ("a\nb", None, None, None, True),
        ("", None, None, None, False),
    ]
    assert events[0].raw == b": ping\n\n"


def test_event_id_retry_fields() -> None:
    events = decode(b"event: delta\nid: 7\nretry: 1500\ndata: {}\n\n")
    assert fields(events) == [("{}", "delta", "7", 1500, True)]


def test_blocks_without_data_are_returned_but_marked() -> None:
    events = decode(b"event: x\n\nid: 3\n\nretry: 10\n\n\n")
    assert fields(events) == [
        ("", "x", None, None, False),
        ("", None, "3", None, False),
        ("", None, None, 10, False),
        ("", None, None, None, False),  # a stray blank line is a block too: its byte is kept
    ]
    assert b"".join(e.raw for e in events) == b"event: x\n\nid: 3\n\nretry: 10\n\n\n"


def test_empty_data_value_has_data() -> None:
    assert fields(decode(b"data:\n\n")) == [("", None, None, None, True)]


def test_field_without_colon_has_empty_value() -> None:
    assert fields(decode(b"data\nevent\nid\n\n")) == [("", "", "", None, True)]


def test_value_without_space_and_only_one_space_stripped() -> None:
    assert [e.data for e in decode(b"data:x\n\ndata:  x\n\ndata:x:y\n\n")] == ["x", " x", "x:y"]


def test_unknown_fields_are_ignored() -> None:
    assert fields(decode(b"Data: no\nfoo: bar\ndata : no\ndata: yes\n\n")) == [
        ("yes", None, None, None, True)
    ]


def test_id_with_nul_is_ignored() -> None:
    assert decode(b"id: a\x00b\ndata: x\n\n")[0].id is None
    assert decode(b"id: 1\nid: a\x00b\ndata: x\n\n")[0].id == "1"
    assert decode(b"id\ndata: x\n\n")[0].id == ""  # an empty id resets the last event ID


@pytest.mark.parametrize("value", [b"1a", b"", b"  5", b"-1", b"1.5", "\u0661".encode()])
def test_retry_must_be_ascii_digits(value: bytes) -> None:
    assert decode(b"retry:" + value + b"\ndata: x\n\n")[0].retry is None


def test_retry_with_too_many_digits_does_not_raise() -> None:
    assert decode(b"retry: " + b"9" * 10_000 + b"\ndata: x\n\n")[0].data == "x"


def test_bom_is_skipped_but_kept_in_raw() -> None:
    stream = BOM + b"data: a\n\n"
    for chunks in ([stream], bytewise(stream), [BOM, b"data: a\n\n"]):
        events = decode(stream, chunks)
        assert fields(events) == [("a", None, None, None, True)]
        assert events[0].raw == stream


def test_bom_only_counts_at_the_very_start() -> None:
    # A second BOM, or one after the first line, is part of a field name: an unknown field.
    assert fields(decode(BOM + BOM + b"data: a\n\n")) == [("", None, None, None, False)]
    assert decode(b"data: a\n" + BOM + b"data: b\n\n")[0].data == "a"
    assert fields(decode(b"\xef\xbb")) == [("", None, None, None, False)]  # half a BOM
    assert decode(BOM)[0].raw == BOM


def test_end_completes_a_final_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\ndata: c") == [SSEEvent("a", raw=b"data: a\n\n")]
    assert decoder.pending == b"data: b\ndata: c"
    assert decoder.end() == [SSEEvent("b\nc", raw=b"data: b\ndata: c")]
    assert decoder.pending == b""
    assert decoder.end() == []


def test_end_treats_a_trailing_cr_as_a_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == []  # the second CR may still be half of a CRLF
    assert decoder.end() == [SSEEvent("a", raw=b"data: a\r\r")]


def test_decoder_is_reusable_after_end() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a")
    decoder.end()
    assert decoder.feed(BOM + b"data: b\n\n") == [SSEEvent("b", raw=BOM + b"data: b\n\n")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # a blank line here would be wrong: the LF ends "data: a"
    assert decoder.feed(b"\r") == []
    assert decoder.pending == b"data: a\r\n\r"
    assert decoder.feed(b"\ndata: b\r") == [SSEEvent("a", raw=b"data: a\r\n\r\n")]
    assert decoder.feed(b"\r") == []
    assert decoder.feed(b"x") == [SSEEvent("b", raw=b"data: b\r\r")]
    assert decoder.pending == b"x"


def test_long_line_in_tiny_chunks() -> None:
    line = b"data: " + b"x" * 100_000
    decoder = SSEDecoder()
    for i in range(0, len(line), 7):
        assert decoder.feed(line[i : i + 7]) == []
    assert decoder.pending == line
    [event] = decoder.feed(b"\n\n")
    assert event.data == "x" * 100_000
    assert event.raw == line + b"\n\n"


def test_bad_utf8_is_replaced() -> None:
    events = decode(b"event: \xff\ndata: caf\xc3\ndata: \xe2\x82\xac ok\nid: \xfe\n\n")
    assert fields(events) == [("caf\ufffd\n\u20ac ok", "\ufffd", "\ufffd", None, True)]


def test_utf8_split_across_chunks() -> None:
    assert decode(b"", [b"data: \xe2", b"\x82", b"\xac\n\n"])[0].data == "\u20ac"


# -- encoding --------------------------------------------------------------------------------


def test_encode_event() -> None:
    assert encode_event("hi") == b"data: hi\n\n"
    assert (
        encode_event("a\nb", event="delta", id="3") == b"event: delta\nid: 3\ndata: a\ndata: b\n\n"
    )
    assert encode_event(b"x\r\ny\rz\n") == b"data: x\ndata: y\ndata: z\ndata: \n\n"
    assert encode_event("") == b"data: \n\n"


@pytest.mark.parametrize(("name", "value"), [("event", "a\nb"), ("event", "a\r"), ("id", "1\x002")])
def test_encode_refuses_fields_the_format_cannot_carry(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        encode_event("x", **{name: value})


no_eol = st.characters(exclude_characters="\r\n", codec="utf-8")


@settings(max_examples=200, deadline=None)
@given(
    data=st.text(st.characters(codec="utf-8") | st.sampled_from("\r\n")),  # many line ends
    event=st.none() | st.text(no_eol),
    id_=st.none() | st.text(st.characters(exclude_characters="\r\n\x00", codec="utf-8")),
    as_bytes=st.booleans(),
)
def test_encode_round_trip(data: str, event: str | None, id_: str | None, as_bytes: bool) -> None:
    encoded = encode_event(data.encode() if as_bytes else data, event=event, id=id_)
    decoder = SSEDecoder()
    [decoded] = decoder.feed(encoded)
    expected = data.replace("\r\n", "\n").replace("\r", "\n")  # SSE data cannot carry a CR
    assert (decoded.data, decoded.event, decoded.id) == (expected, event, id_)
    assert decoded.raw == encoded
    assert decoder.pending == b""
    assert event_boundary(encoded) == len(encoded)


# -- event_boundary --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buf", "end"),
    [
        (b"", 0),
        (b"data: a", 0),
        (b"data: a\n", 0),
        (b"data: a\n\n", 9),
        (b"data: a\n\ndata: b", 9),
        (b"data: a\r\n\r\n", 11),
        (b"data: a\r\n\r\ndata: b\r\n", 11),
        (b"data: a\r\r", 0),  # the second CR may become a CRLF: not settled
        (b"data: a\r\rx", 9),
        (b"data: a\n\r", 0),
        (b"data: a\n\r\n", 10),
        (b"data: a\n\rx", 9),
        (b"data: a\r\n\n", 10),
        (b"data: a\r\r\n", 10),
        (b"\n", 1),
        (b"\r", 0),
        (b"\r\n", 2),
        (b"\rx", 1),
        (b"\n\n\n", 3),
        (BOM + b"\n", 4),  # a leading BOM is skipped, as at the start of a stream
        (BOM + b"\r\n", 5),
        (BOM + b"\rx", 4),
        (BOM + b"\r", 0),
        (b"data: a\n\n\r", 9),
        (b"data: a\r\n\r", 0),
    ],
)
def test_event_boundary(buf: bytes, end: int) -> None:
    assert event_boundary(buf) == end
    assert sum(len(e.raw) for e in SSEDecoder().feed(buf)) == end


# -- properties ------------------------------------------------------------------------------

item = st.tuples(
    st.sampled_from(["data", "data", "event", "comment"]), st.text(no_eol, max_size=12)
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[Any, ...]], list[bytes]]:
    """An encoded stream with the fields and raw bytes of each of its blocks."""
    blocks = draw(st.lists(st.lists(item, max_size=5), max_size=8))
    style = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    unterminated = bool(blocks) and draw(st.booleans())  # last block ends without a blank line
    bom = draw(st.booleans())
    prev_eol = ""

    def eol(blank: bool) -> str:
        nonlocal prev_eol
        choice = draw(st.sampled_from(["\n", "\r\n", "\r"])) if style == "mixed" else style
        if blank and prev_eol == "\r" and choice.startswith("\n"):
            choice = "\r\n"  # "\r" + "\n" would be one line end, losing the blank line
        prev_eol = choice
        return choice

    expected: list[tuple[Any, ...]] = []
    raws: list[bytes] = []
    for n, block in enumerate(blocks):
        text = ""
        data: list[str] = []
        event: str | None = None
        for kind, value in block:
            if kind == "comment":
                text += ":" + value
            else:
                # One space after the colon is optional unless the value starts with a space.
                sep = ": " if value.startswith(" ") or draw(st.booleans()) else ":"
                text += kind + sep + value
                if kind == "data":
                    data.append(value)
                else:
                    event = value
            text += eol(False)
        if not (unterminated and n == len(blocks) - 1):
            text += eol(True)
        elif not text:
            continue  # an empty unterminated block is no bytes and no event
        raws.append(text.encode())
        expected.append(("\n".join(data), event, None, None, bool(data)))
    if bom:
        if raws:
            raws[0] = BOM + raws[0]
        else:
            raws.append(BOM)
            expected.append(("", None, None, None, False))
    return b"".join(raws), expected, raws


def split(draw: st.DataObject, stream: bytes) -> list[bytes]:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(case=streams(), draw=st.data())
def test_generated_streams_decode_at_any_chunking(
    case: tuple[bytes, list[tuple[Any, ...]], list[bytes]], draw: st.DataObject
) -> None:
    stream, expected, raws = case
    chunks = split(draw, stream)
    decoder = SSEDecoder()
    fed: list[SSEEvent] = []
    for chunk in chunks:
        fed += decoder.feed(chunk)
    assert sum(len(e.raw) for e in fed) == event_boundary(stream)
    assert decoder.pending == stream[event_boundary(stream) :]
    events = fed + decoder.end()
    assert fields(events) == expected
    assert [e.raw for e in events] == raws
    assert b"".join(e.raw for e in events) == stream


wire = st.lists(
    st.sampled_from(
        [
            *(b"\r", b"\n", b"\r\n", b":", b" ", b"data", b"event", b"id", b"retry", b"7", b"x"),
            # NUL, bad and split UTF-8, a BOM anywhere, a non-ASCII digit
            *(b"\x00", b"\xff", b"\xe2\x82", b"\xac", BOM, "\u0661".encode()),
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(stream=wire | st.binary(max_size=64), draw=st.data())
def test_any_bytes_match_the_spec_reference_at_any_chunking(
    stream: bytes, draw: st.DataObject
) -> None:
    decoder = SSEDecoder()
    fed: list[SSEEvent] = []
    for chunk in split(draw, stream):
        fed += decoder.feed(chunk)
    boundary = event_boundary(stream)
    assert sum(len(e.raw) for e in fed) == boundary
    assert decoder.pending == stream[boundary:]
    events = fed + decoder.end()
    assert fields(events) == reference(stream)
    assert b"".join(e.raw for e in events) == stream
    assert fields(events) == fields(decode(stream))  # chunking never changes the answer
