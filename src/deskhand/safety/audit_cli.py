"""`deskhand audit verify RUN`: check a run's audit log (registered on the CLI by cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from deskhand.safety.audit import AUDIT_FILE, AuditError, load_key, verify

MAX_SHOWN_PROBLEMS = 10


def resolve_run_dir(run: str) -> Path:
    """A run directory given as a path, or a run id (or unique id prefix) from the run index."""
    path = Path(run).expanduser()
    if path.is_dir():
        return path
    if path.name == AUDIT_FILE and path.is_file():
        return path.parent
    import deskhand.agent  # noqa: F401  (imported before deskhand.runs: avoids an import cycle)
    from deskhand.runs.index import AmbiguousRunId, RunIndex, default_index_path

    try:
        row = RunIndex(default_index_path()).get(run)
    except (AmbiguousRunId, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="RUN") from None
    if row is None:
        raise typer.BadParameter(f"no run directory or run id {run!r}", param_hint="RUN")
    return row.dir


def verify_command(
    run: Annotated[str, typer.Argument(help="A run directory, or a run id (or its prefix).")],
    allow_open: Annotated[
        bool,
        typer.Option("--allow-open", help="Accept a log without a closing record (a live run)."),
    ] = False,
    require_key: Annotated[
        bool,
        typer.Option("--require-key", help="Refuse a log not keyed with this host's audit key."),
    ] = False,
) -> None:
    """Check a run's audit log: exit 0 if its hash chain is intact, 1 if not."""
    console = Console(highlight=False)
    run_dir = resolve_run_dir(run)
    try:
        key = load_key()
    except AuditError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    report = verify(run_dir, key=key, require_closed=not allow_open, require_key=require_key)
    where = escape(str(run_dir / AUDIT_FILE))
    chain = "HMAC-SHA-256 (host key)" if report.keyed else "SHA-256 (no key)"
    if report.ok:
        console.print(
            f"[green]intact[/green]: {where}: {report.lines} lines, run "
            f"{escape(str(report.run_id))}, chain {chain}"
            + (", closed" if report.closed else ", still open")
        )
        for warning in report.warnings:
            console.print(f"[yellow]note:[/yellow] {escape(warning)}")
        return
    console.print(
        f"[red]NOT intact[/red]: {where}: {report.lines} lines, {len(report.problems)} problems"
    )
    for problem in report.problems[:MAX_SHOWN_PROBLEMS]:
        console.print(f"  - {escape(problem)}")
    if len(report.problems) > MAX_SHOWN_PROBLEMS:
        console.print(f"  ... and {len(report.problems) - MAX_SHOWN_PROBLEMS} more")
    raise typer.Exit(1)
