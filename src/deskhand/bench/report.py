"""The benchmark on a terminal: a progress bar while it runs, then rich tables."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskhand.bench.results import BenchResults
from deskhand.bench.steps import PHASES


class _Bar:
    """A rich progress bar as the runner's `Progress`."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("starting the desktop", total=None)

    def set_total(self, total: int) -> None:
        self.progress.update(self.task, total=total, description="measuring")

    def advance(self, label: str) -> None:
        self.progress.update(self.task, advance=1, description=label)


@contextmanager
def progress_bar(console: Console) -> Iterator[_Bar]:
    """A progress bar on `console` for the duration of a run."""
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress)


def print_report(console: Console, results: BenchResults) -> None:
    width, height = results.screen
    console.print(step_table(results, f"Step latency at {width}x{height}, ms (p50 / p95)"))
    console.print(settle_table(results))
    console.print(target_table(results))


def step_table(results: BenchResults, title: str) -> Table:
    """One row per action type, way and statistic (p50, then p95); the ratio on the p50 row."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("action")
    table.add_column("way")
    table.add_column("n", justify="right")
    table.add_column("")
    for column in (*PHASES, "ref ÷ dh"):
        table.add_column(column, justify="right")
    for action in results.actions():
        for approach in ("deskhand", "reference"):
            series = results.find(action, approach)
            if series is None:
                continue
            summaries = [series.summary(phase) for phase in PHASES]
            speedup = results.speedup(action) if approach == "reference" else math.nan
            table.add_row(
                action if approach == "deskhand" else "",
                approach,
                str(len(series.timings)),
                "p50",
                *(_ms(summary.p50) for summary in summaries),
                _times(speedup),
            )
            table.add_row("", "", "", "p95", *(_ms(summary.p95) for summary in summaries), "")
    return table


def settle_table(results: BenchResults) -> Table:
    equal, total = results.settled_equal()
    share = f"{equal / total:.1%}" if total else "n/a"
    table = Table(
        box=box.SIMPLE_HEAD,
        title="Settle scenarios: the settled screenshot vs the screen "
        f"{results.final_wait_s:g} s later",
        caption=f"counted scenarios: {equal}/{total} equal = {share}",
        title_justify="left",
    )
    for column in ("#", "scenario", "settle p50", "settle p95", "last change p50", "equal"):
        table.add_column(column, justify="left" if column in ("#", "scenario") else "right")
    for scenario in results.scenarios:
        settle = scenario.settle()
        counted = "" if scenario.counted else " (not counted)"
        table.add_row(
            scenario.key,
            scenario.title + counted,
            _ms(settle.p50),
            _ms(settle.p95),
            _ms(scenario.last_change().p50),
            f"{scenario.equal}/{len(scenario.runs)}",
        )
    return table


def target_table(results: BenchResults) -> Table:
    table = Table(title="Targets", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("target", "goal", "measured", "verdict"):
        table.add_column(column)
    for target in results.targets():
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[yellow]n/a[/]"}
        table.add_row(target.name, target.goal, target.measured, verdict[target.passed])
    return table


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _times(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1f}x"
