"""Budgets: steps, wall time, tokens and USD, checked before every model call.

A token or cost budget stops the run before a call that would likely cross it (the last turn's
spend is the estimate for the next), so a run overshoots a budget by at most one turn's
misestimate instead of by a whole turn. Wall time is also enforced during a call, by the loop.
Time a person spends with the desktop taken over is not the agent's: `pause()` and `resume()`
take it out of the time budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from deskhand.agent.events import Usage
from deskhand.agent.models import Price


@dataclass(frozen=True)
class Budgets:
    max_steps: int | None = 100
    max_seconds: float | None = 3600
    max_tokens: int | None = None
    max_cost_usd: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be more than 0 (or unset)")

    def as_dict(self) -> dict[str, float | None]:
        return {
            "max_steps": self.max_steps,
            "max_seconds": self.max_seconds,
            "max_tokens": self.max_tokens,
            "max_cost_usd": self.max_cost_usd,
        }


@dataclass
class Spend:
    """What a run has used so far, and the budget checks over it."""

    budgets: Budgets
    price: Price | None
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    last_turn: Usage = field(default_factory=Usage)
    last_cost: float = 0.0
    paused_s: float = 0.0  # finished pauses (take-overs)
    paused_since: float | None = None

    def add_turn(self, usage: Usage) -> float:
        """Count one model turn; returns its cost in USD (0 when the model's price is unknown)."""
        cost = self.price.cost(usage) if self.price else 0.0
        self.steps += 1
        self.usage += usage
        self.cost_usd += cost
        self.last_turn, self.last_cost = usage, cost
        return cost

    @property
    def wall(self) -> float:
        """Seconds since the run started, pauses included."""
        return time.monotonic() - self.started

    @property
    def elapsed(self) -> float:
        """Seconds the time budget counts: the wall time without the pauses."""
        now = time.monotonic()
        ongoing = now - self.paused_since if self.paused_since is not None else 0.0
        return now - self.started - self.paused_s - ongoing

    @property
    def deadline(self) -> float | None:
        """The monotonic time by which the run must stop (for `asyncio.timeout_at`); None while
        paused or without a time budget."""
        limit = self.budgets.max_seconds
        if limit is None or self.paused_since is not None:
            return None
        return self.started + self.paused_s + limit

    def pause(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.monotonic()

    def resume(self) -> None:
        if self.paused_since is not None:
            self.paused_s += time.monotonic() - self.paused_since
            self.paused_since = None

    def exceeded(self) -> str | None:
        """Why the next model call must not happen, or None."""
        b = self.budgets
        if b.max_steps is not None and self.steps >= b.max_steps:
            return f"step budget reached ({self.steps} of {b.max_steps} steps)"
        if b.max_seconds is not None and self.elapsed >= b.max_seconds:
            return f"time budget reached ({self.elapsed:.0f} s of {b.max_seconds:g} s)"
        if b.max_tokens is not None and self.usage.total + self.last_turn.total > b.max_tokens:
            return (
                f"token budget reached ({self.usage.total:,} tokens used; the next turn would "
                f"pass {b.max_tokens:,})"
            )
        if b.max_cost_usd is not None and self.cost_usd + self.last_cost > b.max_cost_usd:
            return (
                f"cost budget reached (${self.cost_usd:.4f} spent; the next turn would pass "
                f"${b.max_cost_usd:g})"
            )
        return None
