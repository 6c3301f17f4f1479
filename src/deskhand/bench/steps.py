"""One kind of step, done N times, with where each one spent its time.

Both ways of doing a step (the tool's and the reference demo's) are a `Step`: an async function
of the step's index that performs it and returns a `StepTiming`. The loop, the record and the
statistics are the same for both, so their numbers are comparable by construction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from deskhand.bench.stats import Summary, summarize
from deskhand.tools.computer import StepTiming

Approach = Literal["deskhand", "reference"]
PHASES = ("action", "settle", "capture", "scale", "encode", "total")
Step = Callable[[int], Awaitable[StepTiming]]
OnStep = Callable[[str], None]  # called after each step with what is being measured


class Progress(Protocol):
    """Where a run reports how far it is (a progress bar, or nothing)."""

    def set_total(self, total: int) -> None: ...

    def advance(self, label: str) -> None: ...


@dataclass
class Series:
    """The timings of `len(timings)` steps of one action type done one way."""

    action: str
    approach: Approach
    timings: list[StepTiming] = field(default_factory=list)

    def samples(self, phase: str) -> list[float]:
        return [float(getattr(timing, f"{phase}_ms")) for timing in self.timings]

    def summary(self, phase: str) -> Summary:
        return summarize(self.samples(phase))

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "approach": self.approach,
            "n": len(self.timings),
            "phases": {phase: self.summary(phase).as_json() for phase in PHASES},
            "samples_ms": {phase: [round(v, 3) for v in self.samples(phase)] for phase in PHASES},
        }


async def measure(
    action: str, approach: Approach, step: Step, count: int, on_step: OnStep
) -> Series:
    """Run `step(0)` ... `step(count - 1)` one after another and keep their timings."""
    series = Series(action, approach)
    label = f"{action} ({approach})"
    for index in range(count):
        series.timings.append(await step(index))
        on_step(label)
    return series
