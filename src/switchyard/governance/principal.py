"""Who is calling, as admission and accounting see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import VirtualKey

__all__ = ["Principal"]


@dataclass(slots=True)
class Principal:
    key: VirtualKey | None = None
    """``None`` when the gateway runs open (no keys) or for library calls."""
    user: str | None = None
    team: str | None = None
    features: tuple[str, ...] = ()
    critical: bool = False
    """Priority class: critical traffic always gets the best budget tier and may use the reserved share."""
    max_cost: float | None = None
    """Reject the request if its estimated cost exceeds this many dollars."""
    extra_tags: tuple[str, ...] = field(default=())

    @classmethod
    def of(
        cls,
        key: VirtualKey | None,
        *,
        user: str | None = None,
        features: tuple[str, ...] = (),
        critical: bool = False,
        max_cost: float | None = None,
    ) -> Principal:
        """The key's own attribution wins over what the request claims: a client may add feature tags and name
        its end user, but cannot move its spend to another team or drop the features its key is pinned to."""
        if key is None:
            return cls(None, user, None, features, critical, max_cost)
        pinned = tuple(dict.fromkeys([*key.features, *features]))
        return cls(key, key.user or user, key.team, pinned, critical, max_cost)
