"""The in-memory backend: LRU bounded by bytes, TTL, namespace versions; and the key scheme."""

from __future__ import annotations

from switchyard.cache.backend import KeyScheme, MemoryBackend
from switchyard.cache.policy import Namespace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SCHEME = KeyScheme()


def address(name: str, entry: bytes = b"\x01" * 16) -> tuple[str, ...]:
    a = SCHEME.address(Namespace.parse(name), entry)
    return (a.entry, *a.versions)


def test_a_tenants_keys_share_one_cluster_slot_and_tenants_differ() -> None:
    entry, base_version, sub_version = address("key:k1/user-1")
    tag = entry[entry.index("{") : entry.index("}") + 1]
    assert entry.startswith("switchyard:{sy:")
    assert tag in base_version
    assert tag in sub_version
    assert tag not in address("key:k2")[0]


async def test_lru_keeps_within_the_byte_bound() -> None:
    backend = MemoryBackend(max_bytes=3000)
    for i in range(10):
        await backend.put_many([(f"k{i}", b"x" * 500, 60)])
        assert backend.stats()["bytes"] <= 3000
    stats = backend.stats()
    assert stats["entries"] < 10
    assert stats["evicted"] == 10 - stats["entries"]
    kept = [i for i in range(10) if f"k{i}" in backend._entries]
    assert kept == list(range(10 - len(kept), 10))  # the oldest went first


async def test_reads_refresh_recency() -> None:
    backend = MemoryBackend(max_bytes=2100)
    scheme = KeyScheme()
    first = scheme.address(Namespace("open"), b"\x01" * 16)
    await backend.put_many([(first.entry, b"x" * 500, 60)])
    await backend.put_many([("b", b"x" * 500, 60)])
    await backend.fetch(first)  # first is now the most recently used
    await backend.put_many([("c", b"x" * 500, 60)])
    await backend.put_many([("d", b"x" * 500, 60)])
    assert first.entry in backend._entries
    assert "b" not in backend._entries


async def test_an_entry_larger_than_the_bound_is_not_stored() -> None:
    backend = MemoryBackend(max_bytes=1000)
    await backend.put_many([("small", b"x" * 100, 60)])
    await backend.put_many([("huge", b"x" * 5000, 60)])
    assert list(backend._entries) == ["small"]


async def test_ttl_expiry() -> None:
    clock = Clock()
    backend = MemoryBackend(max_bytes=10_000, clock=clock)
    where = SCHEME.address(Namespace("open"), b"\x02" * 16)
    await backend.put_many([(where.entry, b"answer", 60)])
    clock.now += 59
    assert (await backend.fetch(where))[0] == b"answer"
    clock.now += 2
    assert (await backend.fetch(where))[0] is None
    assert backend.stats()["bytes"] == 0


async def test_versions_and_delete() -> None:
    backend = MemoryBackend(max_bytes=10_000)
    where = SCHEME.address(Namespace("key:k1", "u1"), b"\x03" * 16)
    await backend.put_many([(where.entry, b"answer", 60)])
    assert await backend.fetch(where) == (b"answer", (0, 0))
    assert await backend.bump(where.versions[1]) == 1
    assert await backend.bump(where.versions[0]) == 1
    assert await backend.bump(where.versions[0]) == 2
    assert await backend.fetch(where) == (b"answer", (2, 1))
    assert await backend.delete(where.entry)
    assert not await backend.delete(where.entry)
    assert await backend.fetch(where) == (None, (2, 1))
