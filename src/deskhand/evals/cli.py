"""The `deskhand eval` commands as plain typer-annotated functions (cli.py registers them).

    deskhand eval [SUITE] [--agent oracle|null|replay|model] [--workers N] [--backend local|ray]
                  [--out DIR] [--json] [--task ID-or-glob]... [--replay RUN] [--model M] ...
    deskhand eval osworld [--list] [--osworld-dir DIR] [--cache DIR] [--max-steps N] ...
    deskhand eval compare A B [--json]
    deskhand eval bench [--suite S] [--parallel 1,2,4] [--min-tasks N]

SUITE is `builtin`, a folder of task YAML files, one task file, or `osworld` (OSWorld's official
tasks that can run here, from the copy shipped with deskhand or --osworld-dir).

Exit codes of `eval`: 0 the evaluation ran (whatever the success rate); 1 some task could not
run because of the infrastructure (after retries), its setup or its checker; 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from deskhand.evals.agents import AGENT_NAMES, make_agent
from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.osworld.cli import BUNDLED_TASKS, osworld_list_command
from deskhand.evals.osworld.config import OSWORLD_SCREEN
from deskhand.evals.osworld.harness import DEFAULT_MAX_STEPS, load_osworld_suite
from deskhand.evals.results import Comparison, TaskResult, summarize
from deskhand.evals.runnable import RunnableTask, select
from deskhand.evals.tasks import TaskFormatError, load_suite

console = Console()


def default_out(suite: str, agent: str) -> Path:
    from deskhand.runs.index import default_runs_dir

    name = Path(suite).name if suite != "builtin" else suite
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return default_runs_dir().parent / "evals" / f"{stamp}-{name}-{agent}"


OSWORLD = "osworld"
TASK_DEFECTS = ("setup_error", "check_error")


def load_runnable(
    suite: str, osworld_dir: Path, cache: Path | None, max_steps: int | None
) -> list[RunnableTask]:
    """The suite's tasks: OSWorld's runnable ones for `osworld`, else a built-in-format suite."""
    if suite == OSWORLD:
        if cache is not None and not cache.is_dir():
            raise ValueError(f"--cache {cache} is not a folder")
        return list(load_osworld_suite(osworld_dir, cache, max_steps or DEFAULT_MAX_STEPS))
    tasks = load_suite(suite)
    if max_steps is not None:
        tasks = [task.model_copy(update={"max_steps": max_steps}) for task in tasks]
    return list(tasks)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    view = Table(title=f"{summary['passed']}/{summary['tasks']} passed ({summary['rate']:.1%})")
    view.add_column("category")
    view.add_column("passed", justify="right")
    view.add_column("rate", justify="right")
    for name, group in summary["by_category"].items():
        view.add_row(name, f"{group['passed']}/{group['tasks']}", f"{group['rate']:.0%}")
    console.print(view)
    line = (
        f"steps p50 {summary['steps']['p50']:g} · task time p50 {summary['seconds']['p50']:.1f} s"
        f" (p95 {summary['seconds']['p95']:.1f} s) · reset p50 "
        f"{summary['reset_seconds']['p50']:.2f} s"
    )
    if summary["tokens"]:
        line += f" · {summary['tokens']:,} tokens · ${summary['cost_usd']:.2f}"
    console.print(line)
    console.print(f"report: {out / 'report.html'}")


def eval_command(
    suite: Annotated[
        str,
        typer.Argument(help="`builtin`, a folder of task YAML files, one task file, or `osworld`."),
    ] = "builtin",
    agent: Annotated[
        str, typer.Option("--agent", help=f"Who does the tasks: {', '.join(AGENT_NAMES)}.")
    ] = "oracle",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Desktops in parallel.")] = 1,
    backend: Annotated[str, typer.Option("--backend", help="local or ray.")] = "local",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Evaluation folder; an existing one is resumed."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (no progress bar).")
    ] = False,
    task: Annotated[
        list[str] | None, typer.Option("--task", help="Only these task ids (globs; repeat).")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="The run (or evaluation) folder to replay.")
    ] = None,
    model: Annotated[str, typer.Option("--model", help="Model id (model agent).")] = (
        "claude-sonnet-4-6"
    ),
    provider: Annotated[
        str, typer.Option("--provider", help="anthropic, bedrock or vertex (model agent).")
    ] = "anthropic",
    tool_version: Annotated[
        str | None, typer.Option("--tool-version", help="Computer tool version (model agent).")
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", help="Action-gate policy: default, permissive or a file.")
    ] = "default",
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="USD budget per task (model agent).")
    ] = None,
    screening: Annotated[
        bool, typer.Option("--screening/--no-screening", help="OCR prompt-injection screening.")
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per task.")] = 900.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retries of infrastructure failures.")
    ] = 2,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster (default: a local Ray).")
    ] = None,
    screen: Annotated[
        str | None,
        typer.Option("--screen", help="Desktop size WxH (1280x800; osworld: 1920x1080)."),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps",
            min=1,
            help=f"Step budget per task (default: the task's own; osworld {DEFAULT_MAX_STEPS}).",
        ),
    ] = None,
    osworld_dir: Annotated[
        Path,
        typer.Option("--osworld-dir", help="OSWorld's checkout or evaluation_examples folder."),
    ] = BUNDLED_TASKS,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="OSWorld's file cache, staged locally (docs/osworld.md)."),
    ] = None,
    list_tasks: Annotated[
        bool, typer.Option("--list", help="osworld: say for each official task whether it runs.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Record consent to the risks (model agent).")
    ] = False,
) -> None:
    """Run an agent over a task suite and write results, a summary and an HTML report."""
    from deskhand.evals.runner import evaluate

    if list_tasks:
        if suite != OSWORLD:
            raise typer.BadParameter("--list is for the osworld suite")
        raise typer.Exit(osworld_list_command(osworld_dir, cache, json_output))
    try:
        tasks = select(load_runnable(suite, osworld_dir, cache, max_steps), task or [])
        chosen = make_agent(
            agent,
            replay=replay,
            model=model,
            provider=provider,
            policy=policy,
            **(
                {"tool_version": tool_version, "max_cost_usd": max_cost, "screening": screening}
                if agent == "model"
                else {}
            ),
        )
    except (TaskFormatError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if not tasks:
        console.print("[red]error:[/] no task matches")
        raise typer.Exit(2)
    if backend not in ("local", "ray"):
        raise typer.BadParameter("--backend is local or ray")
    if agent == "model" and yes:
        from deskhand.safety import consent

        if not consent.given():
            consent.record("--yes")
    from deskhand.cli import parse_size  # here: deskhand.cli imports this module

    default = OSWORLD_SCREEN if suite == OSWORLD else (1280, 800)
    width, height = parse_size(screen) if screen else default
    folder = out or default_out(suite, agent)
    results = asyncio.run(
        evaluate(
            tasks,
            chosen,
            folder,
            workers=workers,
            backend=backend,
            timeout=timeout,
            retries=retries,
            environment=EnvironmentOptions(width=width, height=height),
            progress=not json_output,
            ray_address=ray_address,
            meta={"suite": suite},
        )
    )
    summary = summarize(results, suite=suite, agent=agent, backend=backend, workers=workers)
    summary["out"] = str(folder)
    if json_output:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary, folder)
    if any(r.infrastructure or r.status in TASK_DEFECTS for r in results):
        raise typer.Exit(1)


def _flip_rows(comparison: Comparison) -> list[tuple[str, TaskResult, TaskResult]]:
    ids = [*comparison.fixed, *comparison.broken]
    return [(i, comparison.a[i], comparison.b[i]) for i in ids]


def compare_command(
    a: Annotated[Path, typer.Argument(help="The earlier evaluation folder.")],
    b: Annotated[Path, typer.Argument(help="The later evaluation folder.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What changed between two evaluations: tasks that flipped, success-rate delta."""
    comparison = Comparison.of(a, b)
    if not comparison.a or not comparison.b:
        console.print(f"[red]error:[/] no results in {a if not comparison.a else b}")
        raise typer.Exit(2)
    data = comparison.to_json()
    if json_output:
        print(json.dumps(data, indent=2))
        return
    console.print(
        f"A {data['rate_a']:.1%} ({len(comparison.a)} tasks) → B {data['rate_b']:.1%} "
        f"({len(comparison.b)} tasks); on the {data['common']} common tasks "
        f"{data['rate_a_common']:.1%} → {data['rate_b_common']:.1%} "
        f"([bold]{data['delta_common']:+.1%}[/])"
    )
    view = Table(title="tasks that flipped")
    for name in ("task", "A", "B", "B's detail"):
        view.add_column(name)
    for task_id, before, after in _flip_rows(comparison):
        view.add_row(
            task_id,
            "pass" if before.passed else "fail",
            "[green]pass[/]" if after.passed else "[red]fail[/]",
            (after.error or after.detail)[:80],
        )
    console.print(view)
    for label, ids in (("only in A", data["only_a"]), ("only in B", data["only_b"])):
        if ids:
            console.print(f"{label}: {', '.join(ids)}")


def eval_bench_command(
    suite: Annotated[str, typer.Option("--suite", help="Suite with oracles.")] = "builtin",
    parallel: Annotated[
        str, typer.Option("--parallel", help="Numbers of desktops to try, e.g. 1,2,4.")
    ] = "1,2,4",
    min_tasks: Annotated[
        int, typer.Option("--min-tasks", min=1, help="Tasks per configuration (suite repeated).")
    ] = 24,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tasks per hour with 1, 2 and 4 desktops, reset time, memory per desktop (oracle agent)."""
    from deskhand.evals.bench import run_bench, table

    try:
        tasks = load_suite(suite)
        counts = [int(n) for n in parallel.split(",") if n.strip()]
    except (TaskFormatError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    rows = asyncio.run(run_bench(tasks, counts, min_tasks))
    if json_output:
        print(json.dumps([row.to_json() for row in rows], indent=2))
    else:
        console.print(table(rows))
        for row in rows:
            if row.failed:
                console.print(f"failed with {row.workers} desktops: {', '.join(row.failed)}")
