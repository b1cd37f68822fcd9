"""Stored entries: the versions header, compression, and unreadable bytes as misses."""

from __future__ import annotations

from switchyard.cache.entry import CachedAnswer, decode, encode, versions_of
from switchyard.types import ChatChunk, ChatResponse, Choice, Message, Usage


def answer(text: str) -> CachedAnswer:
    response = ChatResponse(
        id="chatcmpl-1", model="gpt-4o-mini", usage=Usage(input_tokens=5, output_tokens=7),
        choices=[Choice(index=0, message=Message.assistant(text), finish_reason="stop")],
    )
    return CachedAnswer(deployment="gpt", provider="openai", stored_at=1.0, cost_usd=0.001, response=response)


def test_round_trip_with_versions() -> None:
    blob = encode(answer("short"), (3, 9), compress=True)
    assert versions_of(blob) == (3, 9)
    assert decode(blob) == answer("short")


def test_large_answers_are_compressed_when_the_backend_wants_it() -> None:
    long = answer("the same sentence again. " * 200)
    packed, raw = encode(long, (0, 0), compress=True), encode(long, (0, 0), compress=False)
    assert len(packed) < len(raw) / 5
    assert decode(packed) == decode(raw) == long


def test_usage_of_a_stream_is_its_last_usage_chunk() -> None:
    chunks = [ChatChunk(id="c", model="m", role="assistant", text="hi"), ChatChunk(id="c", model="m", usage=Usage(
        input_tokens=1, output_tokens=2))]
    assert CachedAnswer(deployment="d", provider="p", stored_at=0, chunks=chunks).usage == Usage(
        input_tokens=1, output_tokens=2)


def test_unreadable_bytes_are_not_an_entry() -> None:
    assert versions_of(b"xy") is None
    assert decode(b"") is None
    assert decode(b"\x07" + bytes(16) + b"junk") is None  # unknown format
    assert decode(b"\x01" + bytes(16) + b"not zlib") is None
    assert decode(b"\x00" + bytes(16) + b"\xc1") is None  # not msgpack
