"""What a semantic-cache lookup costs at 100k entries, and how fast replicas agree: ``python bench/semantic_cache.py``.

Entries are real questions (Quora pairs, ``../shared/data/cache``) with their real embeddings, read from the
embedding cache ``switchyard eval-cache`` fills (``.cache/switchyard/embeddings``; computed here if missing, which
takes tens of minutes on two cores). Queries are the other halves of pairs whose first half is cached, so most
lookups find near neighbours above the cosine floor and run the verifier: the expensive path.

- **Lookup without embedding** (the issue's figure): ``SemanticCache._match`` — index search of the
  ``max_candidates`` nearest, then hard checks and the learned score for those above the floor — timed per query,
  for 100k entries in one context (one HNSW graph: the worst case for one tenant) and spread over 1,000 contexts
  (exact search per group), plus exact search over one 100k group, to show why the graph is there.
- **Embedding**, timed separately: ``encode_one`` of each query, inline, and the hop to the cache's worker thread.
- **Building**: bulk-loading 100k entries (what a replica does at start), and one insert into a 100k graph.
- **Replicas over real Redis** (127.0.0.1:6379, keys under a fresh namespace, deleted afterwards): time from an
  insert on replica A until replica B serves it; time for a new replica to load ``--redis-entries`` entries.

Run: ``.venv/bin/python bench/semantic_cache.py [--entries 100000] [--queries 2000] [--redis-entries 20000]``.
Writes ``bench/results/semantic_cache.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from switchyard.cache.semantic import MemorySemanticStore, RedisSemanticStore, SemanticCache, SemanticEntry
from switchyard.cache.semantic.dataset import DEFAULT_CACHE_DIR, EmbeddingCache, load_qqp
from switchyard.cache.semantic.index import HNSW_AVAILABLE
from switchyard.embed import get_encoder

REDIS = "redis://127.0.0.1:6379/0"
DATA = Path("../shared/data")
RESULTS = Path(__file__).parent / "results"


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"n": len(ms), "mean": statistics.fmean(ms), "p50": q(0.50), "p99": q(0.99), "max": ordered[-1]}


def line(label: str, s: dict[str, float]) -> str:
    return f"  {label:<44} p50 {s['p50']:7.3f} ms   p99 {s['p99']:7.3f} ms   max {s['max']:7.3f} ms   (n={s['n']})"


def corpus(entries: int, queries: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[int]]:
    """``entries`` distinct cached questions and ``queries`` incoming ones, each the partner of a cached one
    (whose position in the cached list is returned too)."""
    pairs = [(a, b) for split in ("eval", "calib") for a, b in zip(*_halves(split), strict=True)]
    cached: dict[str, int] = {}
    incoming: list[str] = []
    partners: list[int] = []
    for a, b in pairs:
        if len(incoming) < queries and a not in cached and b != a and b not in cached:
            partners.append(len(cached))
            incoming.append(b)
        cached.setdefault(a, len(cached))
    for _, b in pairs:
        if len(cached) >= entries:
            break
        if b not in incoming:
            cached.setdefault(b, len(cached))
    texts = list(cached)[:entries]
    table = EmbeddingCache(get_encoder(), DEFAULT_CACHE_DIR).embed(
        [*texts, *incoming], progress=lambda d, n: print(f"\r  embeddings {d}/{n}", end="", flush=True)
    )
    print()
    return texts, np.stack([table[t] for t in texts]), incoming, np.stack([table[t] for t in incoming]), partners


def _halves(split: str) -> tuple[list[str], list[str]]:
    pairs = load_qqp(DATA, split)
    return pairs.a, pairs.b


def entries_for(texts: list[str], vectors: np.ndarray, contexts: int) -> list[SemanticEntry]:
    expires = time.time() + 3600
    return [
        SemanticEntry(f"e{i}", "tenant", f"ctx{i % contexts}", text, vectors[i], f"resp{i}", expires)
        for i, text in enumerate(texts)
    ]


def time_matches(
    sem: SemanticCache, queries: list[str], vectors: np.ndarray, partners: list[int], contexts: int
) -> dict[str, Any]:
    now = time.time()
    ms: list[float] = []
    hits = 0
    for text, vector, partner in zip(queries, vectors, partners, strict=True):
        # Each query arrives in the context its partner was cached in.
        began = time.perf_counter()
        hit = sem._match("tenant", f"ctx{partner % contexts}", text, vector, None, now)
        ms.append((time.perf_counter() - began) * 1000)
        hits += hit is not None
    return {**summary(ms), "hits": hits}


def time_search_only(sem: SemanticCache, vectors: np.ndarray) -> dict[str, float]:
    ms = []
    for vector in vectors:
        began = time.perf_counter()
        sem.index.search("tenant", "ctx0", vector, sem.max_candidates)
        ms.append((time.perf_counter() - began) * 1000)
    return summary(ms)


async def in_process(args: argparse.Namespace, texts: list[str], vectors: np.ndarray, queries: list[str],
                     qvectors: np.ndarray, partners: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"hnsw_available": HNSW_AVAILABLE}
    encoder = get_encoder()
    for label, contexts, hnsw_from in (
        ("one_context_hnsw", 1, 2048), ("1000_contexts", 1000, 2048), ("one_context_exact", 1, 0),
    ):
        if label.endswith("hnsw") and not HNSW_AVAILABLE:
            continue
        sem = SemanticCache(MemorySemanticStore(), encoder=encoder, hnsw_from=hnsw_from)
        began = time.perf_counter()
        sem.index.add_many(entries_for(texts, vectors, contexts))
        load_s = time.perf_counter() - began
        result = {"load_s": load_s, "match": time_matches(sem, queries, qvectors, partners, contexts)}
        if contexts == 1:
            result["search_only"] = time_search_only(sem, qvectors)
        if label == "one_context_hnsw":
            extra = np.random.default_rng(0).standard_normal((200, encoder.dim)).astype(np.float32)
            extra /= np.linalg.norm(extra, axis=1, keepdims=True)
            ms = []
            for i, v in enumerate(extra):
                e = SemanticEntry(f"x{i}", "tenant", "ctx0", f"extra {i}", v, "r", time.time() + 60)
                began = time.perf_counter()
                sem.index.add(e)
                ms.append((time.perf_counter() - began) * 1000)
            result["insert_into_graph"] = summary(ms)
        out[label] = result
        await sem.aclose()

    # Embedding, separately: inline, and through the cache's worker thread (what lookup() does).
    sample = queries[: args.embed_queries]
    inline = []
    for text in sample:
        began = time.perf_counter()
        encoder.encode_one(text)
        inline.append((time.perf_counter() - began) * 1000)
    sem = SemanticCache(MemorySemanticStore(), encoder=encoder)
    threaded = []
    for text in sample:
        began = time.perf_counter()
        await sem._embed(text)
        threaded.append((time.perf_counter() - began) * 1000)
    await sem.aclose()
    out["embed_inline"] = summary(inline)
    out["embed_worker_thread"] = summary(threaded)
    return out


async def replicas(args: argparse.Namespace, texts: list[str], vectors: np.ndarray) -> dict[str, Any]:
    namespace = f"sybench-{uuid.uuid4().hex[:10]}"
    encoder = get_encoder()
    a = SemanticCache(RedisSemanticStore(REDIS, namespace=namespace), encoder=encoder, poll_s=1.0)
    b = SemanticCache(RedisSemanticStore(REDIS, namespace=namespace), encoder=encoder, poll_s=1.0)
    out: dict[str, Any] = {}
    try:
        await a.start()
        await b.start()
        delays = []
        for i in range(args.sync_inserts):
            text = texts[i]
            a._recent[text] = vectors[i]  # the embedding is not what this measures
            began = time.perf_counter()
            entry_id = await a.insert("tenant", "ctx", text, f"resp{i}", ttl_s=600)
            assert entry_id is not None
            # Polling every loop turn is the measurement: B's follower runs on this same loop.
            while entry_id not in b.index:  # noqa: ASYNC110
                await asyncio.sleep(0)
            delays.append((time.perf_counter() - began) * 1000)
        out["insert_to_visible_on_other_replica"] = summary(delays)

        # Bulk-fill the store (pipelined, as a long-running deployment would have filled it) and time a new
        # replica's start: snapshot scan + MGET + index build.
        store = RedisSemanticStore(REDIS, namespace=namespace)
        client = aioredis.Redis.from_url(REDIS)
        entries = entries_for(texts[: args.redis_entries], vectors[: args.redis_entries], 1)
        prefix = f"{namespace}:{{sy}}:sem:e:"
        for start in range(0, len(entries), 1000):
            async with client.pipeline(transaction=False) as pipe:
                for e in entries[start : start + 1000]:
                    pipe.set(prefix + e.id, e.encode(), ex=600)
                await pipe.execute()
        await client.aclose()
        await store.aclose()
        late = SemanticCache(RedisSemanticStore(REDIS, namespace=namespace), encoder=encoder)
        lags: list[float] = []
        loading = True

        async def ticker() -> None:
            # How long the event loop goes without running this: what requests would wait meanwhile.
            while loading:
                began = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - began) * 1000 - 5)

        ticking = asyncio.create_task(ticker())
        began = time.perf_counter()
        await late.start()
        seconds = time.perf_counter() - began
        loading = False
        await ticking
        out["new_replica_load"] = {"entries": len(late.index), "seconds": seconds, "loop_lag_ms": summary(lags)}
        await late.aclose()
    finally:
        flusher = RedisSemanticStore(REDIS, namespace=namespace)
        await flusher.flush()
        await flusher.aclose()
        await a.aclose()
        await b.aclose()
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    print(f"corpus: {args.entries} cached questions, {args.queries} queries (load average {os.getloadavg()[0]:.2f})")
    texts, vectors, queries, qvectors, partners = corpus(args.entries, args.queries)
    figures: dict[str, Any] = {"entries": len(texts), "queries": len(queries), "load_average": os.getloadavg()}
    figures.update(await in_process(args, texts, vectors, queries, qvectors, partners))
    if not args.no_redis:
        figures["redis"] = await replicas(args, texts, vectors)
    return figures


def report(f: dict[str, Any]) -> None:
    print(f"\nLookup without embedding, {f['entries']} entries ({f['queries']} queries; hits = served):")
    for label in ("one_context_hnsw", "1000_contexts", "one_context_exact"):
        if label in f:
            r = f[label]
            print(line(f"{label}: match (search + verify)", r["match"]) + f"  hits {r['match']['hits']}")
            if "search_only" in r:
                print(line(f"{label}: index search only", r["search_only"]))
            print(f"  {label}: bulk load {r['load_s']:.2f} s (a replica's start does it on a worker thread)")
            if "insert_into_graph" in r:
                print(line(f"{label}: one insert into the graph", r["insert_into_graph"]))
    print("Embedding (excluded above):")
    print(line("encode_one inline", f["embed_inline"]))
    print(line("encode_one via the worker thread", f["embed_worker_thread"]))
    if "redis" in f:
        r = f["redis"]
        print("Replicas over Redis:")
        print(line("insert on A -> indexed on B", r["insert_to_visible_on_other_replica"]))
        print(f"  new replica start: {r['new_replica_load']['entries']} entries in "
              f"{r['new_replica_load']['seconds']:.2f} s")
        print(line("  event-loop lag meanwhile", r["new_replica_load"]["loop_lag_ms"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--embed-queries", type=int, default=200)
    parser.add_argument("--sync-inserts", type=int, default=200)
    parser.add_argument("--redis-entries", type=int, default=20_000)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report(figures)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "semantic_cache.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
