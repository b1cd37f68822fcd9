"""Response caching. The exact cache answers a request identical, in everything that affects the answer, to one
answered before, within the caller's namespace (:mod:`.key`, :mod:`.policy`); a route may also opt into the
semantic cache (:mod:`.semantic`), which answers paraphrases of the last user turn in an identical context.
Entries live in memory or in Redis (:mod:`.backend`, :mod:`.redis`)."""

from .layer import Probe, ResponseCache
from .policy import CacheControl, Namespace

__all__ = ["CacheControl", "Namespace", "Probe", "ResponseCache"]
