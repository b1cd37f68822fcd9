"""Session affinity: a user (or a conversation, ``x-switchyard-session``) keeps going to the deployment that
served it last, while that deployment is healthy, so the provider's prompt cache stays warm.

In-process and bounded: entries expire ``ttl_s`` after their last request, and beyond ``max_entries`` the least
recently used go first. With several replicas a user sticks per replica (a load balancer with sticky sessions
makes that per user); a missed affinity costs a cold cache, never a wrong answer.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["Affinity"]


class Affinity:
    def __init__(self, *, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def get(self, route: str, key: str) -> str | None:
        """The deployment ``key`` is stuck to on ``route``, if it has not expired."""
        entry = self._entries.get((route, key))
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[(route, key)]
            return None
        return entry[1]

    def remember(self, route: str, key: str, deployment: str) -> None:
        """``deployment`` answered ``key`` on ``route``: stick to it for another ``ttl_s``."""
        entries = self._entries
        entries[(route, key)] = (self.clock() + self.ttl_s, deployment)
        entries.move_to_end((route, key))
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
