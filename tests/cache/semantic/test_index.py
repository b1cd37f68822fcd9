"""The in-process index: groups by (namespace, context), exact text matches, exact and HNSW search agree."""

from __future__ import annotations

import numpy as np
import pytest

from switchyard.cache.semantic.entry import SemanticEntry
from switchyard.cache.semantic.index import HNSW_AVAILABLE, VectorIndex

DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def entry(i: int, vector: np.ndarray, *, ns: str = "t", ctx: str = "c", expires_at: float = 2e9) -> SemanticEntry:
    return SemanticEntry(f"e{i}", ns, ctx, f"question {i}", vector, f"r{i}", expires_at)


def test_search_finds_the_nearest_in_its_own_group_only() -> None:
    rng = np.random.default_rng(0)
    vectors = unit(rng, 50)
    index = VectorIndex(DIM)
    for i, v in enumerate(vectors):
        index.add(entry(i, v, ctx="c" if i < 40 else "other"))
    found = index.search("t", "c", vectors[7], k=3)
    assert found[0][0].id == "e7"
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert all(e.context == "c" for e, _ in index.search("t", "c", vectors[45], k=40))
    assert index.search("t", "nothing", vectors[0], k=3) == []
    assert index.search("other-tenant", "c", vectors[0], k=3) == []


def test_exact_text_is_found_without_a_vector_and_adds_are_idempotent() -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(DIM)
    e = SemanticEntry("a", "t", "c", "How  do I  learn Python?", unit(rng, 1)[0], "r", 2e9)
    assert index.add(e) is True
    assert index.add(e) is False
    assert len(index) == 1
    assert index.exact("t", "c", "how do I learn Python ?") is e  # case, spacing and punctuation aside
    assert index.exact("t", "c", "how do i learn python 3") is None
    assert index.exact("t", "other", "How do I learn Python?") is None


def test_remove_frees_the_slot_for_reuse_and_drops_empty_groups() -> None:
    rng = np.random.default_rng(2)
    vectors = unit(rng, 5)
    index = VectorIndex(DIM)
    for i, v in enumerate(vectors):
        index.add(entry(i, v))
    removed = index.remove("e2")
    assert removed is not None
    assert removed.id == "e2"
    assert index.remove("e2") is None
    assert "e2" not in index
    assert all(e.id != "e2" for e, _ in index.search("t", "c", vectors[2], k=5))
    index.add(entry(9, vectors[2]))
    assert index.search("t", "c", vectors[2], k=1)[0][0].id == "e9"
    for i in (0, 1, 3, 4, 9):
        index.remove(f"e{i}")
    assert len(index) == 0
    assert index.group_size("t", "c") == 0


def test_remove_namespace_and_expired() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 6)
    index = VectorIndex(DIM)
    for i, v in enumerate(vectors):
        index.add(entry(i, v, ns="a" if i < 3 else "b", ctx=f"c{i % 2}", expires_at=100.0 if i == 5 else 2e9))
    assert sorted(index.remove_namespace("a")) == ["e0", "e1", "e2"]
    assert len(index) == 3
    assert index.expired(now=200.0) == ["e5"]


def test_wrong_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        VectorIndex(DIM).add(entry(0, np.zeros(DIM + 1, dtype=np.float32)))


@pytest.mark.skipif(not HNSW_AVAILABLE, reason="hnswlib is not installed")
def test_hnsw_groups_agree_with_exact_search_through_adds_removals_and_bulk_loads() -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 600)
    exact, graph = VectorIndex(DIM, hnsw_from=0), VectorIndex(DIM, hnsw_from=100)
    for i, v in enumerate(vectors):
        exact.add(entry(i, v))
        graph.add(entry(i, v))
        if i == 150:
            graph.build_pending()  # the graph exists from here on; later adds go straight into it
    for i in range(0, 600, 3):
        exact.remove(f"e{i}")
        graph.remove(f"e{i}")
    bulk = VectorIndex(DIM, hnsw_from=100)
    bulk.add_many(entry(i, v) for i, v in enumerate(vectors) if i % 3)
    queries = unit(rng, 50)
    agree = 0
    for q in queries:
        truth = exact.search("t", "c", q, k=1)[0][0].id
        agree += graph.search("t", "c", q, k=1)[0][0].id == truth
        agree += bulk.search("t", "c", q, k=1)[0][0].id == truth
    assert agree >= 95  # of 100: HNSW is approximate, at this size it should almost never miss
    assert len(graph) == len(bulk) == 400


@pytest.mark.skipif(not HNSW_AVAILABLE, reason="hnswlib is not installed")
def test_a_graph_built_elsewhere_catches_up_with_changes_made_meanwhile() -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 300)
    index = VectorIndex(DIM, hnsw_from=100)
    for i in range(200):
        index.add(entry(i, vectors[i]))
    (job,) = index.graph_jobs()
    assert index.graph_jobs() == []  # one build at a time per group
    built = index.build_graph(job)  # as if on another thread, while the group changes:
    for i in range(0, 50):
        index.remove(f"e{i}")
    for i in range(200, 300):  # reuses the freed slots, then grows the group
        index.add(entry(i, vectors[i]))
    index.install_graph(job, built)
    for i in (0, 10, 49):
        assert all(e.id != f"e{i}" for e, _ in index.search("t", "c", vectors[i], k=3))
    for i in (60, 200, 240, 299):
        assert index.search("t", "c", vectors[i], k=1)[0][0].id == f"e{i}"
