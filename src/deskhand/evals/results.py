"""Task results, the results file of an evaluation, summaries and comparisons.

An evaluation's folder (`--out`):

    results.jsonl     one TaskResult per line, appended as tasks finish (resume reads it)
    summary.json      the summary below, rewritten at the end
    report.html       the self-contained report (deskhand.evals.report)
    runs/<task id>/   each task's run record (events.jsonl, screenshots, report.html)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class TaskResult:
    id: str
    passed: bool
    detail: str
    steps: int
    seconds: float
    error: str | None = None
    run_dir: str | None = None
    category: str = ""
    skills: tuple[str, ...] = ()
    agent: str = ""
    status: str = ""  # the agent's own verdict (done, budget_exceeded, timeout, error...)
    infrastructure: bool = False  # failed for the desktop's sake, after every retry
    attempts: int = 1
    reset_s: float = 0.0
    model_s: float = 0.0
    tool_s: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0
    safety_events: int = 0
    answer: str = ""  # the agent's final message
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["skills"] = list(self.skills)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        known["skills"] = tuple(known.get("skills", ()))
        return cls(**known)


def read_results(folder: Path) -> list[TaskResult]:
    """The results recorded in an evaluation folder (a torn last line is skipped); a task run
    again later replaces its earlier line."""
    path = folder / RESULTS_FILE
    if not path.is_file():
        return []
    by_id: dict[str, TaskResult] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result = TaskResult.from_json(json.loads(line))
        except (json.JSONDecodeError, TypeError, KeyError):
            continue
        by_id[result.id] = result
    return list(by_id.values())


def finished_ids(folder: Path) -> set[str]:
    """Tasks a resumed evaluation skips: those with a result not caused by the infrastructure."""
    return {r.id for r in read_results(folder) if not r.infrastructure}


def _ends_torn(path: Path) -> bool:
    """True if the file's last line was cut off (an evaluation killed mid-write)."""
    try:
        with path.open("rb") as handle:
            handle.seek(-1, 2)
            return handle.read(1) != b"\n"
    except OSError:  # missing or empty
        return False


def append_result(folder: Path, result: TaskResult) -> None:
    path = folder / RESULTS_FILE
    line = json.dumps(result.to_json(), ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as out:
        out.write(("\n" if _ends_torn(path) else "") + line)
        out.flush()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _rate(results: Sequence[TaskResult]) -> dict[str, Any]:
    passed = sum(r.passed for r in results)
    return {
        "tasks": len(results),
        "passed": passed,
        "rate": passed / len(results) if results else 0,
    }


def _grouped(results: Iterable[TaskResult], keys: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[TaskResult]] = {}
    for result in results:
        for key in keys(result):
            groups.setdefault(key, []).append(result)
    return {key: _rate(group) for key, group in sorted(groups.items())}


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "mean": round(sum(values) / len(values), 3) if values else 0.0,
    }


def summarize(results: Sequence[TaskResult], **meta: Any) -> dict[str, Any]:
    """Success rate overall, by category and by skill; steps, tokens, cost, latency."""
    results = sorted(results, key=lambda r: r.id)
    return {
        **meta,
        **_rate(results),
        "errors": sum(r.error is not None for r in results),
        "infrastructure_failures": sum(r.infrastructure for r in results),
        "by_category": _grouped(results, lambda r: [r.category or "uncategorised"]),
        "by_skill": _grouped(results, lambda r: list(r.skills)),
        "steps": _spread([float(r.steps) for r in results]),
        "seconds": _spread([r.seconds for r in results]),
        "model_seconds": _spread([r.model_s for r in results]),
        "tool_seconds": _spread([r.tool_s for r in results]),
        "reset_seconds": _spread([r.reset_s for r in results if r.reset_s > 0]),
        "tokens": sum(r.tokens for r in results),
        "cost_usd": round(sum(r.cost_usd for r in results), 6),
        "safety_events": sum(r.safety_events for r in results),
        "tasks_list": [
            {"id": r.id, "passed": r.passed, "error": r.error, "detail": r.detail} for r in results
        ],
    }


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    path = folder / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Comparison:
    a: dict[str, TaskResult]
    b: dict[str, TaskResult]

    @classmethod
    def of(cls, a: Path, b: Path) -> Comparison:
        return cls({r.id: r for r in read_results(a)}, {r.id: r for r in read_results(b)})

    def rate(self, side: dict[str, TaskResult], ids: set[str] | None = None) -> float:
        chosen = [r for key, r in side.items() if ids is None or key in ids]
        return sum(r.passed for r in chosen) / len(chosen) if chosen else 0.0

    @property
    def common(self) -> set[str]:
        return set(self.a) & set(self.b)

    @property
    def fixed(self) -> list[str]:
        return sorted(i for i in self.common if not self.a[i].passed and self.b[i].passed)

    @property
    def broken(self) -> list[str]:
        return sorted(i for i in self.common if self.a[i].passed and not self.b[i].passed)

    def to_json(self) -> dict[str, Any]:
        common = self.common
        return {
            "rate_a": self.rate(self.a),
            "rate_b": self.rate(self.b),
            "rate_a_common": self.rate(self.a, common),
            "rate_b_common": self.rate(self.b, common),
            "delta_common": self.rate(self.b, common) - self.rate(self.a, common),
            "common": len(common),
            "fixed": self.fixed,
            "broken": self.broken,
            "only_a": sorted(set(self.a) - common),
            "only_b": sorted(set(self.b) - common),
        }
