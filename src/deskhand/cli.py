"""The `deskhand` command line: thin typer commands over the library (no logic of its own)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from deskhand.doctor import Check, run_checks
from deskhand.guest.apps import APPS
from deskhand.sandbox.backends import SandboxUnavailable
from deskhand.sandbox.desktop import Desktop, DesktopError, DesktopOptions

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
    from pathlib import Path

    from rich.console import Console as OutputConsole

    from deskhand.bench import BenchConfig, run_bench
    from deskhand.bench.report import print_report, progress_bar
    from deskhand.bench.runner import image_format as parse_format

    options = desktop_options(screen, no_sandbox=False)

    async def main() -> None:
        config = BenchConfig(
            desktop=options,
            image_format=parse_format(image_format),
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


if __name__ == "__main__":
    app()
