"""A/B experiments: a route splits its traffic across arms by weight, and the outcome of every request is kept
per arm (requests, errors, latency, cost, and the feedback clients send for a response).

Assignment is sticky: a stable hash (BLAKE2b, the same in every process and replica) of the route and the user
(or key) picks the arm, so one caller always sees the same arm while the weights stay put. Changing the weights
moves only the callers whose hash crosses a boundary.

Responses are remembered by id for ``ttl_s`` (bounded LRU), so ``POST /v1/feedback`` can find their route, arm,
deployment and cost. The memory and the statistics are per process: with several replicas, feedback must reach
the replica that served the response (the id is unknown elsewhere and the answer says so), and each replica
reports its own share of the traffic.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequestError
from .spec import ExperimentConfig

__all__ = ["ArmStats", "Experiment", "ExperimentBook", "Outcome"]

_SCALE = 1 << 64
_LATENCY_SAMPLES = 1024


class Experiment:
    """One route's arms and how requests are assigned to them."""

    def __init__(self, route: str, config: ExperimentConfig, rng: random.Random) -> None:
        self.route = route
        self.config = config
        self.rng = rng
        weights = config.weights or dict.fromkeys(config.arms, 1.0)
        total = sum(weights.get(arm, 0.0) for arm in config.arms)
        # Cumulative boundaries in [0, 1): an arm owns the hash values below its boundary.
        self._bounds: list[tuple[float, str]] = []
        running = 0.0
        for arm in config.arms:
            running += weights.get(arm, 0.0) / total
            self._bounds.append((running, arm))
        self._salt = route.encode() + b"\0"

    @property
    def arms(self) -> list[str]:
        return list(self.config.arms)

    def assign(self, user: str | None, key: str | None) -> str:
        sticky = self.config.sticky
        who = None if sticky == "none" else (user or key) if sticky == "user" else key
        if who is None:
            point = self.rng.random()
        else:
            digest = hashlib.blake2b(self._salt + who.encode(), digest_size=8).digest()
            point = int.from_bytes(digest, "big") / _SCALE
        for bound, arm in self._bounds:
            if point < bound:
                return arm
        return self._bounds[-1][1]  # rounding left the last boundary a hair under 1


@dataclass(slots=True)
class ArmStats:
    requests: int = 0
    errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    cost_usd: float = 0.0
    priced: int = 0
    """Successful requests whose cost is known (the mean cost is over these)."""
    feedback_sum: float = 0.0
    feedback_count: int = 0
    deployments: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2) if ordered else None

        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else None,
            "latency_ms_p50": quantile(0.5),
            "latency_ms_p95": quantile(0.95),
            "cost_usd_total": round(self.cost_usd, 8),
            "cost_usd_mean": round(self.cost_usd / self.priced, 8) if self.priced else None,
            "feedback_count": self.feedback_count,
            "feedback_mean": round(self.feedback_sum / self.feedback_count, 4) if self.feedback_count else None,
            "deployments": dict(self.deployments),
        }


@dataclass(slots=True)
class Outcome:
    """What a response id is remembered by, for feedback."""

    route: str
    arm: str
    deployment: str
    cost_usd: float | None
    expires: float
    score: float | None = None


class ExperimentBook:
    """Per-arm statistics of every experiment, and the memory of their responses that feedback is matched
    against. Only responses of experiment routes are remembered: they are what feedback is reported for, and
    traffic outside experiments would push them out of a bounded memory (~400 bytes a response)."""

    def __init__(
        self,
        experiments: Iterable[Experiment],
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.experiments = {e.route: e for e in experiments}
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        """Response ids remembered (a response is known by its request id and its body's id)."""
        self.clock = clock
        self._stats: dict[tuple[str, str], ArmStats] = {
            (e.route, arm): ArmStats() for e in self.experiments.values() for arm in e.arms
        }
        self._responses: OrderedDict[str, Outcome] = OrderedDict()

    def record(
        self,
        route: str,
        arm: str,
        deployment: str | None,
        ids: Iterable[str],
        latency_ms: float,
        cost_usd: float | None,
        failed: bool,
    ) -> None:
        """One request of an experiment finished (``failed``: with an error, ``deployment`` then ``None``).
        ``ids`` are the names it can be given feedback by."""
        stats = self._stats.get((route, arm))
        if stats is None:
            return
        stats.requests += 1
        if failed or deployment is None:
            stats.errors += 1
            return
        stats.latencies.append(latency_ms)
        stats.deployments[deployment] = stats.deployments.get(deployment, 0) + 1
        if cost_usd is not None:
            stats.cost_usd += cost_usd
            stats.priced += 1
        outcome = Outcome(route, arm, deployment, cost_usd, self.clock() + self.ttl_s)
        for response_id in ids:
            self._remember(response_id, outcome)

    def _remember(self, response_id: str, outcome: Outcome) -> None:
        # Ids are new, so they go to the end: the order stays oldest first without move_to_end.
        if response_id:
            responses = self._responses
            responses[response_id] = outcome
            while len(responses) > self.max_entries:
                responses.popitem(last=False)

    def alias(self, response_id: str, known_id: str) -> None:
        """Let feedback name a remembered response by another id too (the body's ``id`` besides the request id)."""
        outcome = self._responses.get(known_id)
        if outcome is not None and response_id != known_id:
            self._remember(response_id, outcome)

    def feedback(self, response_id: str, score: float) -> Outcome | None:
        """Attach a score to a remembered response (a second score replaces the first); ``None`` when the id is
        unknown here or expired."""
        if not math.isfinite(score):
            raise InvalidRequestError("score must be a finite number", param="score")
        outcome = self._responses.get(response_id)
        if outcome is None or outcome.expires <= self.clock():
            return None
        stats = self._stats[(outcome.route, outcome.arm)]
        if outcome.score is not None:
            stats.feedback_sum -= outcome.score
            stats.feedback_count -= 1
        stats.feedback_sum += score
        stats.feedback_count += 1
        outcome.score = score
        return outcome

    def report(self) -> dict[str, Any]:
        """Every experiment with its arms' weights, targets and statistics."""
        experiments = {}
        for route, experiment in self.experiments.items():
            weights = experiment.config.weights or dict.fromkeys(experiment.arms, 1.0)
            experiments[route] = {
                "sticky": experiment.config.sticky,
                "arms": {
                    arm: {
                        "weight": weights.get(arm, 0.0),
                        "targets": list(experiment.config.arms[arm].targets),
                        **self._stats[(route, arm)].report(),
                    }
                    for arm in experiment.arms
                },
            }
        return {"experiments": experiments, "remembered_responses": len(self._responses)}
