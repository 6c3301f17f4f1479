"""Confirmation channels: how the gate asks a human, and what counts as an answer.

Every channel fails closed: the gate treats a timeout, an error or a missing human as "no".
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel


@dataclass(frozen=True)
class ConfirmRequest:
    """What a human is asked to approve."""

    run_id: str
    step: int
    tool_use_id: str
    summary: str  # e.g. `left_click (640, 400)` or `bash: rm notes.txt`
    reason: str
    rule: str | None
    crop_png: bytes | None  # the screen around the target, when there is one


@dataclass(frozen=True)
class Answer:
    approved: bool
    by: str  # who answered: "terminal", "callback", "web", "timeout", "non-interactive"
    note: str = ""
    remember: bool = False  # allow this rule for the rest of the run


class Confirmer(Protocol):
    async def ask(self, request: ConfirmRequest) -> Answer: ...


class NoHuman:
    """--non-interactive: nobody can say yes."""

    async def ask(self, request: ConfirmRequest) -> Answer:
        return Answer(False, "non-interactive", "no human can be asked in a non-interactive run")


class CallbackConfirmer:
    """The Python API's channel: a plain or async function that gets the request."""

    def __init__(self, callback: Callable[[ConfirmRequest], Answer | Awaitable[Answer]]) -> None:
        self.callback = callback

    async def ask(self, request: ConfirmRequest) -> Answer:
        answer = self.callback(request)
        if isinstance(answer, Awaitable):
            answer = await answer
        return answer


class TerminalConfirmer:
    """`deskhand run`'s channel: a prompt on the terminal, answered with y / n / a (always for
    this kind of action in this run), read without blocking the event loop."""

    def __init__(self, console: Console, before: Callable[[], None] | None = None) -> None:
        self.console = console
        self.before = before  # e.g. stop a spinner so the prompt stays readable
        self._lock = asyncio.Lock()

    async def ask(self, request: ConfirmRequest) -> Answer:
        async with self._lock:
            if self.before is not None:
                self.before()
            self.console.print(
                Panel(
                    f"[bold]{escape(request.summary)}[/]\n{escape(request.reason)}",
                    title=f"step {request.step}: approve this action?",
                    border_style="yellow",
                    expand=False,
                )
            )
            self.console.print(
                "[yellow]allow? [y]es / [n]o / [a]lways for this kind in this run:[/] ", end=""
            )
            line = (await _read_line()).strip().lower()
            if line in ("y", "yes"):
                return Answer(True, "terminal")
            if line in ("a", "always"):
                return Answer(True, "terminal", remember=True)
            return Answer(False, "terminal", "declined at the terminal")


async def _read_line() -> str:
    """One line from stdin, waiting in the event loop (cancellable, unlike input())."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not future.done():
            future.set_result(sys.stdin.readline())

    loop.add_reader(fd, readable)
    try:
        return await future
    finally:
        loop.remove_reader(fd)
