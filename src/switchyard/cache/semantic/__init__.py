"""The semantic cache: answers a paraphrase of a question already answered in the same context, when it is safe.

- :mod:`.cache` — :class:`SemanticCache` (lookup, insert, delete, namespace invalidation), the entry point;
- :mod:`.verifier`, :mod:`.features` — hard checks and the learned score that decide whether two questions are
  the same (trained by :mod:`.train` on the calibration split only);
- :mod:`.index` — the in-process nearest-neighbour index, one group per (namespace, context);
- :mod:`.store`, :mod:`.redis_store` — shared entries and the change log replicas follow;
- :mod:`.evaluate`, :mod:`.command` — ``switchyard eval-cache``.
"""

from .cache import SemanticCache, SemanticHit, SemanticStats
from .entry import SemanticEntry
from .index import VectorIndex
from .redis_store import RedisSemanticStore
from .store import MemorySemanticStore, SemanticStore
from .verifier import Judgement, Verifier

__all__ = [
    "Judgement",
    "MemorySemanticStore",
    "RedisSemanticStore",
    "SemanticCache",
    "SemanticEntry",
    "SemanticHit",
    "SemanticStats",
    "SemanticStore",
    "VectorIndex",
    "Verifier",
]
