"""What the guest offers over the protocol: one async handler per operation.

Each handler takes validated arguments and returns a JSON-able result plus an optional binary
body. New capabilities (shell sessions, file operations) register more handlers here; the server
and the framing do not change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from deskhand.framebuf import SharedFrameWriter
from deskhand.guest import processes, settle
from deskhand.guest.capture import ScreenCapture
from deskhand.guest.events import MAX_EVENTS, Button, InputEvent, Key, Move
from deskhand.guest.files import FileService
from deskhand.guest.session import DesktopSession
from deskhand.guest.settle import SettleWatcher
from deskhand.guest.shell import ShellService
from deskhand.guest.vnc import VncServer
from deskhand.guest.windows import WindowInspector
from deskhand.guest.xinput import InputInjector

Result = tuple[dict[str, Any], bytes | memoryview]
Handler = Callable[[dict[str, Any]], Awaitable[Result]]
ArgsT = TypeVar("ArgsT", bound=BaseModel)

MAX_RUN_OUTPUT = 1024 * 1024
RUN_DRAIN_SECONDS = 2.0
# How long a click may wait for the window manager to focus the clicked window. It usually
# takes a few milliseconds; under heavy load openbox has taken longer than the screen took to
# settle, and longer than 0.5 s. Clicks that focus nothing do not wait (see click_focused).
CLICK_FOCUS_WAIT_S = 2.0

log = logging.getLogger("deskhand.guest")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    pass


class GrabArgs(_Args):
    cursor: bool = True
    shm: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")


class SettleArgs(_Args):
    quiet_ms: float = Field(default=settle.DEFAULT_QUIET_MS, ge=0, le=5000)
    grace_ms: float = Field(default=settle.DEFAULT_GRACE_MS, ge=0, le=5000)
    max_ms: float = Field(default=settle.DEFAULT_MAX_MS, ge=0, le=30000)


class InputArgs(_Args):
    events: list[InputEvent] = Field(max_length=MAX_EVENTS)
    settle: SettleArgs | None = None


class RunArgs(_Args):
    argv: list[str] = Field(min_length=1)
    timeout: float = Field(default=30, gt=0, le=3600)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class LaunchArgs(_Args):
    argv: list[str] = Field(min_length=1)


class VncArgs(_Args):
    view_only: bool = True


class GuestService:
    """Binds protocol operations to the desktop session's screen, input and processes."""

    def __init__(self, session: DesktopSession, socket_dir: Path, frames_dir: Path | None) -> None:
        self.session = session
        self.socket_dir = socket_dir
        self.frames_dir = frames_dir
        self.frame_files: dict[str, SharedFrameWriter] = {}
        self.vnc: VncServer | None = None
        self.started = time.monotonic()
        name = session.display_name
        self.capture = ScreenCapture(name)
        self.injector = InputInjector(name)
        self.settler = SettleWatcher(name)
        self.windows = WindowInspector(name)
        # Input and settle share one timeline: one action at a time, in arrival order.
        self.input_lock = asyncio.Lock()
        self.handlers: dict[str, Handler] = {
            "health": self._wrap(NoArgs, self.health),
            "screen.size": self._wrap(NoArgs, self.size),
            "screen.grab": self._wrap(GrabArgs, self.grab),
            "screen.settle": self._wrap(SettleArgs, self.settle),
            "input.apply": self._wrap(InputArgs, self.apply_input),
            "input.cursor": self._wrap(NoArgs, self.cursor),
            "proc.run": self._wrap(RunArgs, self.run),
            "proc.launch": self._wrap(LaunchArgs, self.launch),
            "vnc.start": self._wrap(VncArgs, self.start_vnc),
        }
        self.shells = ShellService(session.env, session.config.home)
        self.handlers.update(self.shells.handlers())
        self.handlers.update(FileService(session.config.home).handlers())

    @staticmethod
    def _wrap(model: type[ArgsT], func: Callable[[ArgsT], Awaitable[Result]]) -> Handler:
        async def handler(raw: dict[str, Any]) -> Result:
            return await func(model.model_validate(raw))

        return handler

    async def health(self, _: NoArgs) -> Result:
        alive = self.session.alive()
        return {
            "ok": all(alive.values()),
            "processes": alive,
            "display": self.session.display_name,
            "capture_backend": self.capture.backend,
            "uptime_s": round(time.monotonic() - self.started, 3),
        }, b""

    async def size(self, _: NoArgs) -> Result:
        width, height = self.capture.size()
        return {"width": width, "height": height}, b""

    async def grab(self, args: GrabArgs) -> Result:
        """Capture the screen; pixels go to a shared frame file if asked, else as the blob."""
        start = time.perf_counter()
        frame = self.capture.grab(with_cursor=args.cursor)
        result: dict[str, Any] = {"width": frame.width, "height": frame.height, "format": "BGRA"}
        blob: bytes | memoryview = b""
        if args.shm is not None and self.frames_dir is not None:
            shared = self.frame_files.get(args.shm)
            if shared is None:
                shared = self.frame_files[args.shm] = SharedFrameWriter(self.frames_dir / args.shm)
            shared.write(frame.data)
            result["shm"] = args.shm
        else:
            blob = frame.data.data.cast("B")
        result["capture_ms"] = (time.perf_counter() - start) * 1000
        return result, blob

    async def settle(self, args: SettleArgs) -> Result:
        async with self.input_lock:
            self.settler.arm()
            report = await self.settler.wait(args.quiet_ms, args.grace_ms, args.max_ms)
        return {"settle": dataclasses.asdict(report)}, b""

    async def apply_input(self, args: InputArgs) -> Result:
        async with self.input_lock:
            if args.settle:
                self.settler.arm()
            focus_before = self.windows.input_focus() if _focusing_click(args.events) else None
            start = time.perf_counter()
            try:
                await self.injector.apply_async(args.events)
            except BaseException:
                self.injector.release_all()
                raise
            result: dict[str, Any] = {"input_ms": (time.perf_counter() - start) * 1000}
            if focus_before is not None:
                result["focus_wait_ms"] = await self._await_click_focus(focus_before)
            if args.settle:
                target = self._target_class(args.events)
                quiet, grace = settle.profile_for(
                    target, args.settle.quiet_ms, args.settle.grace_ms
                )
                report = await self.settler.wait(quiet, grace, args.settle.max_ms)
                result["settle"] = {**dataclasses.asdict(report), "target": target}
        return result, b""

    async def _await_click_focus(self, focus_before: int) -> float:
        """After a click, wait (at most CLICK_FOCUS_WAIT_S) until the window manager has moved
        the keyboard focus to the clicked window, so that keys sent next reach it; returns the
        milliseconds waited."""
        start = time.perf_counter()
        deadline = start + CLICK_FOCUS_WAIT_S
        # Polled: the focus is the server's state, read with one request; no event to await.
        while not self.windows.click_focused(focus_before):
            if time.perf_counter() >= deadline:
                log.warning(
                    "the window manager did not focus the clicked window within %.1f s: "
                    "keys sent next may go to the window that has the focus",
                    CLICK_FOCUS_WAIT_S,
                )
                break
            await asyncio.sleep(0.005)
        return (time.perf_counter() - start) * 1000

    def _target_class(self, events: list[InputEvent]) -> str | None:
        """The application the action went to: pointer actions hit the window under the
        pointer, keyboard actions the active window."""
        if any(isinstance(event, Move | Button) for event in events):
            return self.windows.pointer_class()
        return self.windows.active_class()

    async def cursor(self, _: NoArgs) -> Result:
        x, y = self.injector.cursor_position()
        return {"x": x, "y": y}, b""

    async def run(self, args: RunArgs) -> Result:
        """Run a program (argv, no shell) in the desktop's environment and wait for it."""
        proc = await processes.own(
            asyncio.create_subprocess_exec(
                *args.argv,
                env={**self.session.env, **args.env},
                cwd=args.cwd or str(self.session.config.home),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        )
        timed_out = False
        try:
            out, err = await asyncio.wait_for(proc.communicate(), args.timeout)
        except TimeoutError:
            timed_out = True
            out, err = await _kill_tree(proc)
        return {
            "returncode": proc.returncode,
            "timed_out": timed_out,
            "stdout": out[:MAX_RUN_OUTPUT].decode(errors="replace"),
            "stderr": err[:MAX_RUN_OUTPUT].decode(errors="replace"),
        }, b""

    async def launch(self, args: LaunchArgs) -> Result:
        return {"pid": await self.session.launch(args.argv)}, b""

    async def start_vnc(self, args: VncArgs) -> Result:
        """Start (once) a password-protected VNC server reachable through a Unix socket."""
        if self.vnc is None:
            self.vnc = await VncServer.start(
                self.session, self.socket_dir / "vnc.sock", args.view_only
            )
        return {"socket": self.vnc.socket_path.name, "password": self.vnc.password}, b""

    async def close(self) -> None:
        await self.shells.close()
        self.windows.close()
        if self.vnc is not None:
            self.vnc.stop()
        for shared in self.frame_files.values():
            shared.close()


async def _kill_tree(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Kill a timed-out program with everything it started, and collect what it printed.

    Killing only the direct child is not enough: a grandchild that inherited the pipes keeps
    communicate() waiting forever, so the whole tree goes, and the wait for output is bounded.
    """
    processes.kill_all([proc.pid, *processes.descendants(proc.pid)], signal.SIGKILL)
    try:
        return await asyncio.wait_for(proc.communicate(), RUN_DRAIN_SECONDS)
    except TimeoutError:
        return b"", b"(output lost: a process outside the command's tree held its pipes)"


def _focusing_click(events: list[InputEvent]) -> bool:
    """Whether `events` press button 1-3 with no key held: the clicks openbox answers by
    focusing the window (its default bindings focus on unmodified presses only)."""
    held: set[int] = set()
    for event in events:
        if isinstance(event, Key) and event.down:
            held.add(event.keysym)
        elif isinstance(event, Key):
            held.discard(event.keysym)
        elif isinstance(event, Button) and event.down and event.button <= 3:
            return not held
    return False
