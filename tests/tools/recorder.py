"""The event recorder (tests/apps/event_recorder.py) on a real sandboxed desktop, for tool tests.

    async with running_recorder(desk, "--fullscreen") as rec:
        mark = rec.mark()
        await tool.run("computer", {"action": "left_click", "coordinate": [10, 20]})
        presses = await rec.wait_count(1, "button_press", since=mark)

The recorder runs inside the sandbox (its script is copied into the sandbox home) and writes its
JSON lines into the home folder, which the host reads directly. Waiting polls that file.

Run as a script inside the sandbox, this file also paints targets on an existing window:
    python recorder.py paint --display :N --window ID --colour #ff0000 --size 5 X,Y [X,Y ...]
(`paint_squares` does that), so tests can draw at known screen pixels into the recorder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from deskhand.sandbox.desktop import Desktop

T = TypeVar("T")
Record = dict[str, Any]

RECORDER_APP = Path(__file__).resolve().parent.parent / "apps" / "event_recorder.py"
POLL_SECONDS = 0.01
DEFAULT_TIMEOUT = 5.0
# X event state bits (X.h): modifiers and pointer buttons held during an event.
SHIFT_MASK = 1 << 0
CONTROL_MASK = 1 << 2
BUTTON1_MASK = 1 << 8
POINTER_EVENTS = ("button_press", "button_release", "motion")
KEY_EVENTS = ("key_press", "key_release")
INPUT_EVENTS = (*POINTER_EVENTS, *KEY_EVENTS)


class SandboxRecorder:
    """One running event recorder inside a desktop, and the records it has written so far."""

    def __init__(self, desk: Desktop, pid: int, log: Path) -> None:
        self.desk = desk
        self.pid = pid
        self.log = log
        self.ready: Record = {}

    @property
    def window(self) -> int:
        return int(self.ready["window"])

    def records(self, *types: str, since: int = 0) -> list[Record]:
        """Complete records from index `since` on, of the given types (all types if none)."""
        if not self.log.exists():
            return []
        # The last piece is either empty or a line still being written.
        lines = self.log.read_text(encoding="utf-8").split("\n")[:-1]
        records = [json.loads(line) for line in lines[since:]]
        return [record for record in records if not types or record["type"] in types]

    def mark(self) -> int:
        """The number of records so far: pass it as `since` to see only what happens next."""
        return len(self.records())

    async def wait_for(
        self,
        check: Callable[[list[Record]], T | None],
        what: str,
        *,
        since: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> T:
        """Poll until `check(records since mark)` returns something other than None."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(since=since)
            result = check(records)
            if result is not None:
                return result
            if time.monotonic() > deadline:
                tail = "\n".join(json.dumps(r) for r in records[-12:])
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; got:\n{tail}"
                )
            await asyncio.sleep(POLL_SECONDS)

    async def wait_count(
        self, count: int, *types: str, since: int = 0, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Record]:
        """Wait until at least `count` records of `types` exist after `since`; return them all."""

        def enough(records: list[Record]) -> list[Record] | None:
            wanted = [r for r in records if not types or r["type"] in types]
            return wanted if len(wanted) >= count else None

        return await self.wait_for(enough, f"{count} x {types}", since=since, timeout=timeout)

    async def settled(self, *types: str, since: int = 0, quiet: float = 0.15) -> list[Record]:
        """The records of `types` after `since` once nothing new has arrived for `quiet` s."""
        count = -1
        while True:
            records = self.records(*types, since=since)
            if len(records) == count:
                return records
            count = len(records)
            await asyncio.sleep(quiet)

    async def alive(self) -> bool:
        result = await self.desk.computer.run(["xwininfo", "-id", str(self.window)], timeout=10)
        return result.returncode == 0

    async def stop(self) -> None:
        """Kill the recorder and wait until its window has left the screen."""
        await self.desk.computer.run(["kill", str(self.pid)], timeout=10)
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while await self.alive():
            if time.monotonic() > deadline:
                raise AssertionError("the event recorder's window did not go away")
            await asyncio.sleep(0.05)


async def focused_window(desk: Desktop) -> int:
    result = await desk.computer.run(["xdotool", "getwindowfocus"], timeout=10)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


async def start_recorder(desk: Desktop, *args: str) -> SandboxRecorder:
    """Start the recorder (e.g. with "--fullscreen"); return once it is mapped and focused."""
    shutil.copy(RECORDER_APP, desk.home / RECORDER_APP.name)
    name = f"recorder-{secrets.token_hex(4)}.jsonl"
    argv = [
        sys.executable,
        str(desk.guest_home / RECORDER_APP.name),
        "--display",
        desk.display,
        "--out",
        str(desk.guest_home / name),
        *args,
    ]
    recorder = SandboxRecorder(desk, await desk.computer.launch(argv), desk.home / name)
    recorder.ready = await recorder.wait_for(
        lambda records: records[0] if records and records[0]["type"] == "ready" else None,
        "the recorder's ready line",
        timeout=15,
    )
    # Key events go to the focused window: make sure nothing took the focus from it.
    focus = await focused_window(desk)
    assert focus == recorder.window, f"focus is on {focus}, not the recorder {recorder.window}"
    return recorder


@asynccontextmanager
async def running_recorder(desk: Desktop, *args: str) -> AsyncIterator[SandboxRecorder]:
    recorder = await start_recorder(desk, *args)
    try:
        yield recorder
    finally:
        await recorder.stop()


class RecorderHost:
    """Keeps one full-screen recorder on a desktop for a whole module, restarting it on demand.

    Tests that need the screen for something else (an xterm) call `stop()`; the next `get()`
    starts a fresh recorder, which takes the keyboard focus again.
    """

    def __init__(self, desk: Desktop, *args: str) -> None:
        self.desk = desk
        self.args = ("--fullscreen", *args)
        self.current: SandboxRecorder | None = None

    async def get(self) -> SandboxRecorder:
        if self.current is None:
            self.current = await start_recorder(self.desk, *self.args)
        return self.current

    async def stop(self) -> None:
        if self.current is not None:
            current, self.current = self.current, None
            await current.stop()


async def paint_squares(
    desk: Desktop,
    window: int,
    centres: Sequence[tuple[int, int]],
    *,
    size: int = 5,
    colour: str = "#ff0000",
) -> None:
    """Fill a size x size square centred on each (x, y) of `window` (odd size: exact centre)."""
    shutil.copy(Path(__file__), desk.home / "paint_targets.py")
    argv = [
        sys.executable,
        str(desk.guest_home / "paint_targets.py"),
        "paint",
        "--display",
        desk.display,
        "--window",
        str(window),
        "--colour",
        colour,
        "--size",
        str(size),
        *(f"{x},{y}" for x, y in centres),
    ]
    result = await desk.computer.run(argv, timeout=30)
    assert result.returncode == 0, result.stderr


def _paint_main(argv: list[str]) -> None:
    """Inside the sandbox: draw squares on another client's window and exit."""
    from Xlib import display as xdisplay

    parser = argparse.ArgumentParser(prog="paint_targets.py paint")
    parser.add_argument("--display", required=True)
    parser.add_argument("--window", required=True, type=int)
    parser.add_argument("--colour", default="#ff0000")
    parser.add_argument("--size", default=5, type=int)
    parser.add_argument("centres", nargs="+")
    args = parser.parse_args(argv)
    conn: Any = xdisplay.Display(args.display)
    try:
        window = conn.create_resource_object("window", args.window)
        red, green, blue = (int(args.colour[i : i + 2], 16) * 257 for i in (1, 3, 5))
        pixel = conn.screen().default_colormap.alloc_color(red, green, blue).pixel
        gc = window.create_gc(foreground=pixel)
        half = args.size // 2
        for centre in args.centres:
            x, y = (int(part) for part in centre.split(","))
            window.fill_rectangle(gc, x - half, y - half, args.size, args.size)
        conn.sync()
    finally:
        conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["paint"]:
        sys.exit("usage: recorder.py paint --display :N --window ID [options] X,Y [X,Y ...]")
    _paint_main(sys.argv[2:])
