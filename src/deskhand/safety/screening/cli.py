"""Command-line entry points, written as plain functions for `deskhand.cli` to register:

app.command("scan")(scan_command)
app.command("bench-screening")(screening_bench_command)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deskhand.safety.screening import ocr
from deskhand.safety.screening.bench import DEFAULT_FIXTURES, print_report, run_bench
from deskhand.safety.screening.detector import Verdict, screen_text, text_of
from deskhand.safety.screening.rules import THRESHOLD

EXIT_CLEAN, EXIT_INJECTION, EXIT_UNREADABLE = 0, 1, 2


def scan_command(
    images: Annotated[list[Path], typer.Argument(help="Screenshots to screen (PNG, JPEG, WebP).")],
    threshold: Annotated[
        float, typer.Option(help="Score at which a screen counts as an injection.")
    ] = THRESHOLD,
    show_text: Annotated[
        bool, typer.Option("--text", help="Also print the OCR text in each JSON line.")
    ] = False,
) -> None:
    """Screen screenshots for prompt injection: one JSON line per image on stdout.

    Exit code 0 if every image is clean, 1 if any looks like an injection, 2 if an image could
    not be read (the others are still screened).
    """
    worst = EXIT_CLEAN
    for path in images:
        started = time.perf_counter()
        try:
            bgr = ocr.to_bgr(path.read_bytes())
        except (OSError, ValueError) as exc:
            print(f"deskhand scan: {path}: unreadable: {exc}", file=sys.stderr)
            worst = EXIT_UNREADABLE
            continue
        try:
            text = text_of(ocr.read_bgr(bgr))
            verdict = screen_text(text, "screen", threshold=threshold)
        except Exception as exc:  # fail closed, like screen_image
            text = ""
            verdict = Verdict.error(exc, "screen")
        record: dict[str, object] = {
            "path": str(path),
            "verdict": "injection" if verdict.hit else "clean",
            "score": verdict.score,
            "reasons": verdict.reasons,
            "evidence": verdict.evidence,
            "ms": round((time.perf_counter() - started) * 1000),
        }
        if show_text:
            record["text"] = text
        print(json.dumps(record, ensure_ascii=False), flush=True)
        if verdict.hit and worst == EXIT_CLEAN:
            worst = EXIT_INJECTION
    raise typer.Exit(worst)


def screening_bench_command(
    fixtures: Annotated[
        Path, typer.Option(help="Folder with labels.json and the rendered screens.")
    ] = DEFAULT_FIXTURES,
    latency_runs: Annotated[
        int, typer.Option(help="Timed OCR runs of one full screen for p50/p95.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Measure the injection detector on the labelled fixture screens (precision, recall, FPR,
    OCR latency)."""
    if not (fixtures / "labels.json").is_file():
        print(f"no labels.json in {fixtures}", file=sys.stderr)
        raise typer.Exit(2)
    report = run_bench(fixtures, latency_runs=latency_runs)
    if as_json:
        print(json.dumps(report.summary()))
    else:
        print_report(report, Console())
