"""Everything one benchmark run measured, the targets it is judged by, and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deskhand.bench.settling import ScenarioResult
from deskhand.bench.stats import ratio
from deskhand.bench.steps import Approach, Series

# The targets, on a 2-core machine at 1280x800.
STEP_TARGET_MS = 100.0  # click or key on a static app, settled screenshot returned: p50
JPEG_SCREENSHOT_TARGET_MS = 15.0  # screenshot alone, JPEG: p50
SETTLED_EQUALS_FINAL_TARGET = 0.95  # share of counted settle runs
JPEG_SCREENSHOT = "screenshot (jpeg)"


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured in this run


@dataclass
class BenchResults:
    screen: tuple[int, int]
    image_format: str
    final_wait_s: float
    series: list[Series] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)

    def find(self, action: str, approach: Approach = "deskhand") -> Series | None:
        return next((s for s in self.series if s.action == action and s.approach == approach), None)

    def actions(self) -> list[str]:
        """Action types in the order they were measured."""
        return list(dict.fromkeys(series.action for series in self.series))

    def speedup(self, action: str) -> float:
        """Reference total p50 / deskhand total p50 for one action type (NaN if not both)."""
        mine, theirs = self.find(action), self.find(action, "reference")
        if mine is None or theirs is None:
            return math.nan
        return ratio(theirs.summary("total").p50, mine.summary("total").p50)

    def settled_equal(self) -> tuple[int, int]:
        """(equal runs, runs) over the scenarios counted in the target."""
        counted = [s for s in self.scenarios if s.counted]
        return sum(s.equal for s in counted), sum(len(s.runs) for s in counted)

    def targets(self) -> list[Target]:
        equal, total = self.settled_equal()
        share = equal / total if total else math.nan
        counted = ", ".join(s.key for s in self.scenarios if s.counted)
        return [
            *(
                _at_most(
                    f"{action} step p50 ({self.image_format})", self.find(action), STEP_TARGET_MS
                )
                for action in ("left_click", "key")
            ),
            _at_most(
                "screenshot alone p50 (jpeg)", self.find(JPEG_SCREENSHOT), JPEG_SCREENSHOT_TARGET_MS
            ),
            Target(
                f"settled frame == final frame ({counted or 'no scenarios'})",
                f">= {SETTLED_EQUALS_FINAL_TARGET:.0%}",
                f"{share:.1%} ({equal}/{total})" if total else "not measured",
                None if not total else share >= SETTLED_EQUALS_FINAL_TARGET,
            ),
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "screen": {"width": self.screen[0], "height": self.screen[1]},
            "image_format": self.image_format,
            "final_wait_s": self.final_wait_s,
            "series": [series.as_json() for series in self.series],
            "speedup_total_p50": {
                action: _json_number(self.speedup(action)) for action in self.actions()
            },
            "scenarios": [scenario.as_json() for scenario in self.scenarios],
            "targets": [asdict(target) for target in self.targets()],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


def _at_most(name: str, series: Series | None, limit_ms: float) -> Target:
    p50 = series.summary("total").p50 if series else math.nan
    if math.isnan(p50):
        return Target(name, f"<= {limit_ms:g} ms", "not measured", None)
    return Target(name, f"<= {limit_ms:g} ms", f"{p50:.1f} ms", p50 <= limit_ms)


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)
