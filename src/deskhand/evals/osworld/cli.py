"""`deskhand eval osworld --list`: for each official OSWorld task, can it run here, and why not.

(`deskhand eval osworld --agent NAME` runs them: `deskhand.evals.cli.eval_command`.)
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .compat import Compatibility, classify_all, summarize
from .config import Environment
from .loader import OFFICIAL_INDEX, examples_root, load_index, load_tasks

# OSWorld's task files ship with deskhand (unmodified, Apache-2.0; see data/README.md).
BUNDLED_TASKS = Path(__file__).parent / "data"


def osworld_list_command(
    osworld_dir: Path,
    cache: Path | None = None,
    json_output: bool = False,
    console: Console | None = None,
) -> int:
    """Classify the tasks of test_all.json under `osworld_dir` (OSWorld's checkout or its
    evaluation_examples folder) against this machine and the cache folder; print a table and a
    summary by domain (or one JSON object a line with json_output). Returns the exit code."""
    console = console or Console()
    if cache is not None and not Path(cache).is_dir():
        console.print(f"[red]--cache {cache} is not a folder[/red]")
        return 2
    try:
        root = examples_root(osworld_dir)
        indexed = (root / OFFICIAL_INDEX).is_file()
        tasks = load_tasks(root, OFFICIAL_INDEX if indexed else None)
    except (OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    if not indexed:  # no index: every task file, said on stderr so --json stays clean
        Console(stderr=True).print(
            f"[yellow]{root} has no {OFFICIAL_INDEX}: listing all {len(tasks)} task files"
            " in examples/[/yellow]"
        )
    results = classify_all(tasks, Environment(cache=Path(cache) if cache else None))
    if json_output:
        for item in results:
            print(json.dumps(item.to_json(), ensure_ascii=False))
        return 0
    _print_tasks(console, results)
    _print_summary(console, results, len(tasks) if not indexed else len(load_index(root)))
    return 0


def _print_tasks(console: Console, results: list[Compatibility]) -> None:
    table = Table(title="OSWorld tasks on this machine", show_lines=False)
    table.add_column("domain")
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("runs", justify="center", no_wrap=True)
    table.add_column("why not (the first of the task's reasons)")
    table.add_column("+", justify="right")
    for item in results:
        head = item.headline
        table.add_row(
            item.task.domain,
            item.task.id,
            _runs(item),
            str(head) if head else "",
            str(len(item.reasons) - 1) if len(item.reasons) > 1 else "",
        )
    console.print(table)


def _runs(item: Compatibility) -> str:
    if not item.runnable:
        return "[red]no[/red]"
    return "[green]yes[/green] (FAIL)" if item.infeasible else "[green]yes[/green]"


def _print_summary(console: Console, results: list[Compatibility], indexed: int) -> None:
    summary = summarize(results)
    by_domain = Table(
        title=f"By domain ({summary.runnable} of {summary.total} runnable; {summary.infeasible}"
        " of them infeasible by design: they pass when the agent answers FAIL)"
    )
    by_domain.add_column("domain")
    by_domain.add_column("runnable", justify="right")
    by_domain.add_column("+ with the cache", justify="right")
    by_domain.add_column("tasks", justify="right")
    for domain, (ok, total) in summary.by_domain.items():
        more = summary.cache_only.get(domain, 0)
        by_domain.add_row(domain, str(ok), f"+{more}" if more else "", str(total))
    console.print(by_domain)
    by_kind = Table(title="Why not (first reason of each task)")
    by_kind.add_column("reason")
    by_kind.add_column("tasks", justify="right")
    for kind, count in summary.by_kind.items():
        by_kind.add_row(kind, str(count))
    console.print(by_kind)
    if indexed != 369:
        console.print(f"[yellow]{indexed} tasks listed, not OSWorld's official 369[/yellow]")
