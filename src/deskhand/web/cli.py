"""`deskhand serve`: the web UI on 127.0.0.1, behind a random access token."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from deskhand.runs.index import default_index_path
from deskhand.safety import consent
from deskhand.web.auth import new_token

console = Console(stderr=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on. Anything but loopback exposes the UI (and the desktops "
            "it drives) to your network: only with a reason, behind TLS."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 8765,
    yes: Annotated[
        bool, typer.Option("--yes", help="Record consent to the risks (for automation).")
    ] = False,
) -> None:
    """Serve the web UI: start tasks, watch the desktop live, approve actions, take over, replay.

    Prints a URL with a random access token; only a browser that opened it can use the UI."""
    import uvicorn

    from deskhand.web.app import create_app

    if not consent.given():
        if yes:
            consent.record("--yes")
        elif sys.stdin.isatty():
            console.print(Panel(consent.RISKS, title="before the first run", border_style="yellow"))
            answer = typer.prompt("Type 'yes' to accept these risks", default="no")
            if answer.strip().lower() != "yes":
                console.print("[red]no consent given; nothing was started[/]")
                raise typer.Exit(9)
            consent.record("interactive")
        else:
            console.print(f"[red]{escape(consent.MISSING)}[/]")
            raise typer.Exit(9)
    if not _is_loopback(host):
        console.print(
            f"[bold red]warning:[/] listening on {escape(host)}, not loopback: anyone who can "
            "reach this address and learns the token can drive your desktops and approve "
            "actions. The connection is plain HTTP; put it behind TLS."
        )
    try:
        sock = _bind(host, port)
    except OSError as exc:
        console.print(f"[red]cannot listen on {escape(host)}:{port}: {exc}[/]")
        raise typer.Exit(2) from None
    bound = int(sock.getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    hosts = {f"{shown}:{bound}"}
    if _is_loopback(host):
        hosts |= {f"127.0.0.1:{bound}", f"localhost:{bound}"}
    token = new_token()
    app, _ = create_app(token, hosts, bound, default_index_path())
    url = f"http://{shown}:{bound}/?token={token}"
    print(f"deskhand serve: open {url}", flush=True)
    console.print("[dim]the token is the only key to this UI: keep the URL to yourself[/]")
    config = uvicorn.Config(
        app, log_level="warning", ws_max_size=4 * 1024 * 1024, lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(sockets=[sock]))
