"""The `deskhand` command line: thin typer commands over the library (no logic of its own)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.console import Console as OutputConsole
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperGroup

from deskhand.agent.budget import Budgets
from deskhand.agent.config import RunConfig, Thinking
from deskhand.agent.context import ContextPolicy
from deskhand.agent.loop import Agent, RunResult
from deskhand.agent.models import DEFAULT_MODEL
from deskhand.doctor import Check, run_checks
from deskhand.evals.cli import compare_command, eval_bench_command, eval_command
from deskhand.guest.apps import APPS
from deskhand.progress import RunProgress
from deskhand.runs.index import RunIndex, default_index_path
from deskhand.runs.table import runs_table
from deskhand.safety import consent
from deskhand.safety.audit_cli import verify_command
from deskhand.safety.confirm import TerminalConfirmer
from deskhand.safety.screening.cli import scan_command, screening_bench_command
from deskhand.sandbox.backends import SandboxUnavailable
from deskhand.sandbox.desktop import Desktop, DesktopError, DesktopOptions
from deskhand.tools.imaging import parse_image_format
from deskhand.web.cli import serve_command

app = typer.Typer(
    help="Sandboxed Linux desktops that AI models drive through Anthropic's computer-use tools.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
T = TypeVar("T")

SizeOption = Annotated[str, typer.Option("--screen", help="Screen size WxH.")]
NoSandboxOption = Annotated[
    bool,
    typer.Option(
        "--no-sandbox",
        help="Run the desktop unconfined on the host (debugging only; NOT safe).",
    ),
]


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a size like 1280x800") from None
    return width, height


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main`, turning SIGTERM into the same clean cancellation as Ctrl-C."""

    async def runner() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main()

    try:
        return asyncio.run(runner())
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]stopped[/]")
        raise typer.Exit(130) from None
    except (SandboxUnavailable, DesktopError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def warn_unsandboxed() -> None:
    console.print(
        Panel(
            "[bold]--no-sandbox[/]: the desktop, its apps and everything the model does run as "
            "YOUR user on THIS machine, with your network and files. Use only for debugging.",
            title="[bold red]NO SANDBOX[/]",
            border_style="red",
        )
    )


def desktop_options(screen: str, no_sandbox: bool, start: str = "") -> DesktopOptions:
    width, height = parse_size(screen)
    if no_sandbox:
        warn_unsandboxed()
    return DesktopOptions(
        width=width,
        height=height,
        sandbox=not no_sandbox,
        autostart=tuple(key for key in start.split(",") if key),
    )


@app.command()
def desktop(
    screen: SizeOption = "1280x800",
    no_sandbox: NoSandboxOption = False,
    start: Annotated[
        str, typer.Option(help=f"Apps to open at start, comma-separated: {', '.join(APPS)}.")
    ] = "",
    vnc_port: Annotated[
        int, typer.Option(help="Loopback port for the VNC viewer (0 picks a free one).")
    ] = 0,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Let the VNC viewer control the desktop.")
    ] = False,
) -> None:
    """Start a desktop and keep it up until Ctrl-C, printing how to reach it."""
    options = desktop_options(screen, no_sandbox, start)

    async def main() -> None:
        with console.status("starting desktop…"):
            desk = await Desktop.start(options)
        async with desk:
            vnc = await desk.expose_vnc(vnc_port, view_only=not interactive)
            table = Table(show_header=False, box=None)
            table.add_row("display", f"{desk.display} (inside the sandbox only)")
            table.add_row("sandbox", desk.backend.name)
            table.add_row("screen", f"{options.width}x{options.height}")
            table.add_row("guest socket", str(desk.paths.guest_socket))
            table.add_row("home folder", f"{desk.home}  (the desktop sees {desk.guest_home})")
            table.add_row("VNC", f"vncviewer {vnc.host}::{vnc.port}   password {vnc.password}")
            table.add_row("", "loopback only; view-only unless --interactive")
            console.print(Panel(table, title="deskhand desktop is up", border_style="green"))
            console.print("Ctrl-C stops it and removes everything it started.")
            await asyncio.Event().wait()

    run_async(main)


@app.command()
def doctor(no_sandbox: NoSandboxOption = False) -> None:
    """Check that this machine can run desktops, and say how to fix what is missing."""
    if no_sandbox:
        warn_unsandboxed()

    async def main() -> list[Check]:
        with console.status("checking (starts a desktop)…"):
            return await run_checks(sandbox=not no_sandbox)

    checks = run_async(main)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    table = Table(title="deskhand doctor")
    for column in ("check", "status", "found", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.name, marks[check.status], check.detail, check.fix)
    console.print(table)
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)


@app.command()
def bench(
    steps: Annotated[
        int, typer.Option(min=1, help="Steps per action type (the reference does a quarter, >= 3).")
    ] = 20,
    screen: SizeOption = "1280x800",
    image_format: Annotated[
        str, typer.Option("--format", help="Screenshot format for the steps: png, jpeg or webp.")
    ] = "png",
    no_reference: Annotated[
        bool, typer.Option("--no-reference", help="Skip the reference demo's way (~2.3 s a step).")
    ] = False,
    json_file: Annotated[
        str | None, typer.Option("--json", help="Also write every number to this JSON file.")
    ] = None,
) -> None:
    """Time each action type (action, settle, capture, scale, encode) against the reference."""
    from deskhand.bench import BenchConfig, run_bench
    from deskhand.bench.report import print_report, progress_bar

    options = desktop_options(screen, no_sandbox=False)

    async def main() -> None:
        config = BenchConfig(
            desktop=options,
            image_format=parse_image_format(image_format),
            steps=steps,
            reference_steps=0 if no_reference else None,
        )
        with progress_bar(console) as progress:
            results = await run_bench(config, progress)
        print_report(OutputConsole(), results)
        if json_file:
            results.write_json(Path(json_file))
            console.print(f"wrote {json_file}")

    run_async(main)


BudgetOption = Annotated[float | None, typer.Option(min=0)]


@app.command(name="run")
def run_task(
    task: Annotated[
        str,
        typer.Argument(help="What the model should do (or, with --resume, an extra instruction)."),
    ] = "",
    model: Annotated[str, typer.Option(help="Model id.")] = DEFAULT_MODEL,
    provider: Annotated[str, typer.Option(help="anthropic, bedrock or vertex.")] = "anthropic",
    tool_version: Annotated[
        str | None,
        typer.Option(
            help="Computer tool API type, e.g. computer_20250124 or "
            "computer_toolset_20260801 (default: the model's, from its table entry)."
        ),
    ] = None,
    screen: SizeOption = "1280x800",
    start: Annotated[str, typer.Option(help="Apps open at the start, comma-separated.")] = "",
    max_steps: Annotated[int | None, typer.Option(min=1, help="Model turns at most.")] = 100,
    max_seconds: Annotated[float | None, typer.Option(min=1, help="Wall time at most.")] = 3600,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Tokens at most (all kinds).")
    ] = None,
    max_cost: Annotated[float | None, typer.Option(min=0, help="USD at most.")] = None,
    max_output_tokens: Annotated[
        int | None, typer.Option(min=1, help="Output tokens per answer (default: the model's).")
    ] = None,
    thinking: Annotated[str, typer.Option(help="off, extended or adaptive.")] = "off",
    thinking_budget: Annotated[int | None, typer.Option(help="Extended thinking tokens.")] = None,
    effort: Annotated[str, typer.Option(help="Adaptive thinking effort: low..max.")] = "medium",
    keep_images: Annotated[
        int, typer.Option(min=0, help="Screenshots kept in context (0 = keep all).")
    ] = 10,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="No prompt caching.")] = False,
    image_format: Annotated[str, typer.Option("--format", help="png, jpeg or webp.")] = "png",
    out: Annotated[str | None, typer.Option(help="Write the run record to this folder.")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Never ask a human; refuse instead.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option(help="Continue a stopped run (its id, id prefix or folder).")
    ] = None,
    vnc: Annotated[
        bool, typer.Option("--vnc", help="Watch the desktop with a VNC viewer (view-only).")
    ] = False,
    policy: Annotated[
        str, typer.Option(help="Action policy: a shipped one (default, permissive) or a YAML file.")
    ] = "default",
    allow_domain: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-domain",
            help="A site the sandbox may reach (example.org, *.example.org; repeat). "
            "Without any, the sandbox has no network.",
        ),
    ] = None,
    egress_config: Annotated[
        Path | None,
        typer.Option(help="An allowlist file (TOML/YAML: domains, ports) for the sandbox."),
    ] = None,
    confirm_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for an approval before declining.")
    ] = 120,
    no_screening: Annotated[
        bool,
        typer.Option(
            "--no-screening",
            help="No OCR screening for prompt injection (faster; the gate then asks before "
            "every click it cannot read).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Record consent to the risks (for automation).")
    ] = False,
    no_sandbox: NoSandboxOption = False,
) -> None:
    """Give the model a task on a fresh sandboxed desktop and let it work until it is done.

    Exit codes: 0 done, 1 desktop/internal error, 2 bad usage, 3 budget exceeded, 4 stuck,
    5 refused, 6 API error, 7 authentication, 8 context window exceeded, 9 no consent yet,
    130 interrupted."""
    from deskhand.agent.providers.base import ProviderError

    _ensure_consent(yes, interactive=not non_interactive)
    try:
        agent = _make_agent(locals())
    except ProviderError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(7) from None
    except (ValueError, LookupError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    result = _run_agent(agent)
    if json_output:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    console.print(f"run record: {result.run_dir}  (report: {result.run_dir / 'report.html'})")
    raise typer.Exit(result.exit_code)


def _ensure_consent(yes: bool, *, interactive: bool) -> None:
    """Show the risks and ask, once per machine; --yes records consent without asking."""
    if consent.given():
        return
    if yes:
        consent.record("--yes")
        return
    if not (interactive and sys.stdin.isatty()):
        console.print(f"[red]{escape(consent.MISSING)}[/]")
        raise typer.Exit(9)
    console.print(Panel(consent.RISKS, title="before the first run", border_style="yellow"))
    if typer.prompt("Type 'yes' to accept these risks", default="no").strip().lower() != "yes":
        console.print("[red]no consent given; nothing was run[/]")
        raise typer.Exit(9)
    consent.record("interactive")


def _make_agent(args: dict[str, Any]) -> Agent:
    """The Agent for `deskhand run`'s options (a new run, or a resumed one)."""
    budgets = Budgets(
        max_steps=args["max_steps"],
        max_seconds=args["max_seconds"],
        max_tokens=args["max_tokens"],
        max_cost_usd=args["max_cost"],
    )
    progress = RunProgress(console)
    hooks: dict[str, Any] = {
        "on_event": progress,
        "on_text": progress.on_text,
        "confirmer": TerminalConfirmer(console, before=progress.pause),
    }
    if args["vnc"]:
        hooks["on_desktop"] = _show_vnc
    if args["resume"]:
        run_dir = _find_run(args["resume"])
        return Agent.resume(run_dir, instruction=args["task"] or None, budgets=budgets, **hooks)
    if args["no_sandbox"]:
        warn_unsandboxed()
    width, height = parse_size(args["screen"])
    config = RunConfig(
        task=args["task"],
        model=args["model"],
        provider=args["provider"],
        tool_version=args["tool_version"],
        screen=(width, height),
        budgets=budgets,
        max_output_tokens=args["max_output_tokens"],
        thinking=Thinking(args["thinking"], args["thinking_budget"], args["effort"]),
        context=ContextPolicy(
            keep_images=args["keep_images"] or None,
            chunk=max(1, args["keep_images"]),
            caching=not args["no_cache"],
        ),
        screenshot_format=parse_image_format(args["image_format"]),
        apps=tuple(key for key in args["start"].split(",") if key),
        sandbox=not args["no_sandbox"],
        interactive=not args["non_interactive"],
        policy=args["policy"],
        allowed_domains=tuple(args["allow_domain"] or ()),
        egress_config=args["egress_config"],
        screening=not args["no_screening"],
        confirm_timeout_s=args["confirm_timeout"],
        out=Path(args["out"]) if args["out"] else None,
    )
    return Agent(config, **hooks)


async def _show_vnc(desk: Desktop) -> None:
    vnc = await desk.expose_vnc(view_only=True)
    console.print(
        f"watch: [bold]vncviewer {vnc.host}::{vnc.port}[/]  password {vnc.password}  "
        "(loopback only, view-only)"
    )


def _find_run(reference: str) -> Path:
    path = Path(reference)
    if (path / "events.jsonl").is_file():
        return path
    row = RunIndex(default_index_path()).get(reference)
    if row is None:
        raise LookupError(f"no run {reference!r} (give its id, an id prefix or its folder)")
    return Path(row.dir)


def _run_agent(agent: Agent) -> RunResult:
    """Run with Ctrl-C and SIGTERM stopping the agent cleanly (a second Ctrl-C forces)."""

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop() -> None:
            if agent.stopping:
                task.cancel()
            agent.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        return await agent.run()

    return asyncio.run(main())


@app.command()
def runs(
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in the task, answer or id.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 30,
    json_output: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
) -> None:
    """List recorded runs, newest first."""
    rows = RunIndex(default_index_path()).list(status=status, search=search, limit=limit)
    if json_output:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row), ensure_ascii=False, default=str))
        return
    OutputConsole().print(runs_table(rows))


app.command(name="serve")(serve_command)
app.command(name="scan")(scan_command)
app.command(name="bench-screening")(screening_bench_command)


class _SuiteGroup(TyperGroup):
    """`deskhand eval SUITE ...` runs a suite (`osworld` too); `deskhand eval compare|bench ...`
    are subcommands. An argument that is not a subcommand's name is the SUITE of `run`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


eval_app = typer.Typer(
    cls=_SuiteGroup,
    # Options before the suite (deskhand eval --agent null) belong to `run` too.
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    help="Evaluate agents on task suites: deskhand eval [SUITE] --agent oracle|null|replay|model.",
    no_args_is_help=True,
)
eval_app.command(name="run")(eval_command)
eval_app.command(name="compare")(compare_command)
eval_app.command(name="bench")(eval_bench_command)
app.add_typer(eval_app, name="eval")

audit_app = typer.Typer(help="Check a run's hash-chained audit log.", no_args_is_help=True)
audit_app.command(name="verify")(verify_command)
app.add_typer(audit_app, name="audit")

if __name__ == "__main__":
    app()
