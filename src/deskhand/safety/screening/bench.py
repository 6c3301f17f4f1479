"""Benchmark of the screen-injection detector on the labelled fixture screens.

The fixture set (`tests/safety/fixtures/screens/labels.json`, rendered by
`tests/safety/fixtures/generate.py`) lists each screen's file, label (`injection`/`benign`),
style, language and expectation: `detect` (the detector should get it right) or `miss` (a
documented limit: tiny or low-contrast text, instruction-less deception, a script the OCR
cannot read, a security article that quotes an injection). Precision, recall and the
false-positive rate are computed on the `detect` screens; the `miss` screens are reported on
their own so a regression in either direction is visible.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from deskhand.safety.screening import ocr
from deskhand.safety.screening.detector import Verdict, screen_text, text_of

DEFAULT_FIXTURES = Path("tests/safety/fixtures/screens")


@dataclass(frozen=True)
class Case:
    file: str
    label: str
    style: str
    language: str
    expect: str


@dataclass(frozen=True)
class CaseResult:
    case: Case
    verdict: Verdict
    ocr_ms: float

    @property
    def correct(self) -> bool:
        return self.verdict.hit == (self.case.label == "injection")


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


def count(results: Iterable[CaseResult]) -> Counts:
    tp = fn = fp = tn = 0
    for r in results:
        injection = r.case.label == "injection"
        if injection and r.verdict.hit:
            tp += 1
        elif injection:
            fn += 1
        elif r.verdict.hit:
            fp += 1
        else:
            tn += 1
    return Counts(tp, fn, fp, tn)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class BenchReport:
    results: list[CaseResult]
    latency_ms: list[float] = field(default_factory=list)
    """Repeated OCR of one full screen (the latency figure), on top of one OCR per fixture."""

    @property
    def main(self) -> list[CaseResult]:
        return [r for r in self.results if r.case.expect == "detect"]

    @property
    def expected_misses(self) -> list[CaseResult]:
        return [r for r in self.results if r.case.expect != "detect"]

    @property
    def counts(self) -> Counts:
        return count(self.main)

    @property
    def ocr_ms(self) -> list[float]:
        return self.latency_ms or [r.ocr_ms for r in self.results]

    def summary(self) -> dict[str, float | int]:
        c = self.counts
        return {
            "screens": len(self.results),
            "injections": c.tp + c.fn,
            "benign": c.fp + c.tn,
            "precision": round(c.precision, 3),
            "recall": round(c.recall, 3),
            "fpr": round(c.fpr, 3),
            "expected_misses": len(self.expected_misses),
            "expected_misses_caught": sum(r.verdict.hit for r in self.expected_misses),
            "ocr_p50_ms": round(percentile(self.ocr_ms, 0.5)),
            "ocr_p95_ms": round(percentile(self.ocr_ms, 0.95)),
            "ocr_runs": len(self.ocr_ms),
        }


def load_cases(fixtures: Path = DEFAULT_FIXTURES) -> list[Case]:
    raw = json.loads((fixtures / "labels.json").read_text(encoding="utf-8"))
    return [Case(r["file"], r["label"], r["style"], r["language"], r["expect"]) for r in raw]


def run_case(case: Case, fixtures: Path) -> CaseResult:
    data = (fixtures / case.file).read_bytes()
    started = time.perf_counter()
    try:
        lines = ocr.read_text(data)
    except Exception as exc:
        return CaseResult(case, Verdict.error(exc, "screen"), 0.0)
    ocr_ms = (time.perf_counter() - started) * 1000
    return CaseResult(case, screen_text(text_of(lines), "screen"), ocr_ms)


TRANSCRIPTS = "ocr.json"


def write_transcripts(fixtures: Path = DEFAULT_FIXTURES) -> Path:
    """OCR every fixture and store the text (`ocr.json`), so rule-only regression tests run in
    milliseconds; the OCR itself is covered by the bench and a few full-pipeline tests."""
    texts = {
        case.file: text_of(ocr.read_text((fixtures / case.file).read_bytes()))
        for case in load_cases(fixtures)
    }
    target = fixtures / TRANSCRIPTS
    target.write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def run_bench_on_transcripts(fixtures: Path = DEFAULT_FIXTURES) -> BenchReport:
    """The rule half of the bench, on the stored OCR text of each fixture (no OCR)."""
    texts = json.loads((fixtures / TRANSCRIPTS).read_text(encoding="utf-8"))
    return BenchReport(
        [CaseResult(c, screen_text(texts[c.file], "screen"), 0.0) for c in load_cases(fixtures)]
    )


def run_bench(
    fixtures: Path = DEFAULT_FIXTURES, *, latency_runs: int = 20, latency_file: str | None = None
) -> BenchReport:
    """Screen every fixture once, then time `latency_runs` OCRs of one full 1280x800 screen."""
    cases = load_cases(fixtures)
    ocr.engine()  # load outside the timings
    results = [run_case(case, fixtures) for case in cases]
    latency: list[float] = []
    if latency_runs > 0 and cases:
        name = latency_file or next(
            (c.file for c in cases if c.file == "en_redteamcua_forum.png"), cases[0].file
        )
        data = (fixtures / name).read_bytes()
        ocr.read_text(data)  # warm-up
        for _ in range(latency_runs):
            started = time.perf_counter()
            ocr.read_text(data)
            latency.append((time.perf_counter() - started) * 1000)
    return BenchReport(results, latency)


def _group_table(title: str, results: list[CaseResult], key: str) -> Table:
    table = Table(title=title)
    for column in (key, "screens", "injections caught", "benign flagged", "precision", "recall"):
        table.add_column(column, justify="left" if column == key else "right")
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(getattr(r.case, key), []).append(r)
    for name, members in sorted(groups.items()):
        c = count(members)
        table.add_row(
            name,
            str(len(members)),
            f"{c.tp}/{c.tp + c.fn}" if c.tp + c.fn else "-",
            f"{c.fp}/{c.fp + c.tn}" if c.fp + c.tn else "-",
            f"{c.precision:.2f}" if c.tp + c.fp else "-",
            f"{c.recall:.2f}" if c.tp + c.fn else "-",
        )
    return table


def print_report(report: BenchReport, console: Console | None = None) -> None:
    out = console or Console()
    s = report.summary()
    overall = Table(title="Prompt-injection screening (fixture screens, expect=detect)")
    for column in ("screens", "precision", "recall", "FPR", "OCR p50", "OCR p95"):
        overall.add_column(column, justify="right")
    overall.add_row(
        f"{s['injections']} inj + {s['benign']} benign",
        f"{s['precision']:.3f}",
        f"{s['recall']:.3f}",
        f"{s['fpr']:.3f}",
        f"{s['ocr_p50_ms']} ms",
        f"{s['ocr_p95_ms']} ms",
    )
    out.print(overall)
    out.print(_group_table("By label", report.main, "label"))
    out.print(_group_table("By style", report.main, "style"))
    out.print(_group_table("By language", report.main, "language"))
    misses = Table(title="Known limits (expect=miss): reported, not scored")
    for column in ("screen", "label", "style", "language", "detector said", "score"):
        misses.add_column(column)
    for r in report.expected_misses:
        misses.add_row(
            r.case.file,
            r.case.label,
            r.case.style,
            r.case.language,
            "injection" if r.verdict.hit else "clean",
            f"{r.verdict.score:g}",
        )
    out.print(misses)
    wrong = [r for r in report.main if not r.correct]
    if wrong:
        table = Table(title="Wrong on expect=detect screens")
        for column in ("screen", "label", "score", "reasons"):
            table.add_column(column)
        for r in wrong:
            table.add_row(
                r.case.file, r.case.label, f"{r.verdict.score:g}", "; ".join(r.verdict.reasons)
            )
        out.print(table)
    mean = statistics.fmean(report.ocr_ms) if report.ocr_ms else 0.0
    out.print(
        f"OCR latency over {s['ocr_runs']} runs: p50 {s['ocr_p50_ms']} ms, "
        f"p95 {s['ocr_p95_ms']} ms, mean {mean:.0f} ms (1280x800 screen)"
    )
