"""``iter_sse``: the one SSE reader every adapter shares, fed byte chunks the way a socket delivers them."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Iterable

import pytest

from switchyard.providers.sse import SSEEvent, iter_sse


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def parse(*parts: bytes) -> list[SSEEvent]:
    return [event async for event in iter_sse(_chunks(parts))]


# An OpenAI-like stream with everything the reader must handle: comments, named events, multi-line data,
# CRLF and LF line ends, a field without a space, multi-byte UTF-8 and a [DONE] terminator.
STREAM = (
    b": keep-alive comment\n"
    b"\n"
    b'data: {"id":"1","text":"h\xc3\xa9llo \xe2\x82\xac"}\r\n'
    b"\r\n"
    b"event: content_block_delta\n"
    b"data: line one\n"
    b"data:line two\n"
    b"\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"data: last\r\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EXPECTED = [
    SSEEvent("", '{"id":"1","text":"héllo €"}'),
    SSEEvent("content_block_delta", "line one\nline two"),
    SSEEvent("", "last"),
    SSEEvent("", "[DONE]"),
]


async def test_whole_stream_in_one_chunk() -> None:
    assert await parse(STREAM) == EXPECTED


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
async def test_line_endings(newline: bytes) -> None:
    stream = newline.join([b"event: a", b"data: 1", b"", b"data: 2", b"data: 3", b"", b""])
    assert await parse(stream) == [SSEEvent("a", "1"), SSEEvent("", "2\n3")]


async def test_comments_and_unknown_fields_are_ignored() -> None:
    stream = b":comment\n: another\nid: 1\nretry: 5\nfoo: bar\ndata: x\n\n"
    assert await parse(stream) == [SSEEvent("", "x")]


async def test_event_name_applies_to_one_event_only() -> None:
    assert await parse(b"event: ping\ndata: a\n\ndata: b\n\n") == [SSEEvent("ping", "a"), SSEEvent("", "b")]


async def test_event_without_data_is_not_dispatched_and_its_name_is_forgotten() -> None:
    assert await parse(b"event: ping\n\ndata: b\n\n") == [SSEEvent("", "b")]


async def test_value_loses_exactly_one_leading_space() -> None:
    assert await parse(b"data:x\n\ndata:  y\n\n") == [SSEEvent("", "x"), SSEEvent("", " y")]


async def test_bare_data_field_dispatches_empty_data() -> None:
    # Per the WHATWG rules a "data" line without a colon appends an empty line; the event is still dispatched.
    assert await parse(b"data\n\n") == [SSEEvent("", "")]


async def test_split_at_every_offset() -> None:
    for offset in range(len(STREAM) + 1):
        assert await parse(STREAM[:offset], STREAM[offset:]) == EXPECTED, f"split at {offset}"


async def test_one_byte_chunks() -> None:
    assert await parse(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EXPECTED


async def test_random_splits_into_many_chunks() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        bounds = [0, *cuts, len(STREAM)]
        parts = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]
        assert await parse(*parts) == EXPECTED, f"cuts {cuts}"


async def test_empty_chunks_are_harmless() -> None:
    assert await parse(b"", b"data: a", b"", b"\n", b"", b"\n", b"") == [SSEEvent("", "a")]


@pytest.mark.parametrize(
    "stream",
    [b"data: a\n\ndata: b\n", b"data: a\n\ndata: b", b"data: a\n\nevent: x\ndata: b\r\n"],
    ids=["no-blank-line", "no-newline", "crlf-no-blank-line"],
)
async def test_trailing_event_without_blank_line_is_dropped(stream: bytes) -> None:
    # A cut upstream stream must not look complete.
    assert await parse(stream) == [SSEEvent("", "a")]


async def test_no_events() -> None:
    assert await parse() == []
    assert await parse(b"\n\n\n: only comments\n\n") == []


async def test_invalid_utf8_is_replaced_not_raised() -> None:
    events = await parse(b"event: \xff\xfe\ndata: ok \xc3\x28 \xff\n\n", b"data: fine\n\n")
    assert events == [SSEEvent("\ufffd\ufffd", "ok \ufffd( \ufffd"), SSEEvent("", "fine")]


async def test_multibyte_character_split_across_chunks() -> None:
    euro = "€".encode()
    assert await parse(b"data: " + euro[:1], euro[1:2], euro[2:] + b"\n\n") == [SSEEvent("", "€")]
