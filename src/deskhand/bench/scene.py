"""The desktop the benchmark drives, and where things are on it.

Layout on a W x H screen (tint2's panel takes the bottom 30 px):

    +-------------+-------------+---------------------------+
    | terminal A  | terminal B  |                           |
    +-------------+-------------+   Chromium on local page  |
    |                           |   A or B (pages.py)       |
    |  bare desktop (menu)      |                           |
    +---------------------------+---------------------------+

Everything is started at a requested position and then looked up with xwininfo inside the
sandbox, so the points the benchmark clicks are where the windows really are.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deskhand.bench import pages
from deskhand.computer import Computer, SettleParams
from deskhand.guest import apps
from deskhand.sandbox.desktop import Desktop

Point = tuple[int, int]
TERMINAL_NAMES = ("deskhand-bench-a", "deskhand-bench-b")
FILES_DIR = "deskhand-bench"  # in the sandbox home: the pages and the reference's screenshots
PANEL_PX = 30
CELL_PX = (9, 18)  # xterm's DejaVu Sans Mono 11 cell, roughly: only used to pick cols x rows
# Chromium 156's tab strip and toolbar above the page. The page's blocks are 240 px tall and
# are clicked in their middle, so an error of +-100 px here still hits them.
BROWSER_CHROME_PX = 88
WINDOW_TIMEOUT_S = 60.0
WINDOW_POLL_S = 0.1
COMMAND_TIMEOUT_S = 10.0
# "Quiet" before a measured step: 400 ms without any drawing, as in the research's method.
CALM = SettleParams(quiet_ms=400, grace_ms=400, max_ms=5000)


class SceneError(RuntimeError):
    """The benchmark's windows did not come up as expected."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    def at(self, fx: float, fy: float) -> Point:
        """The point at fractions (fx, fy) of the box's width and height."""
        return self.x + int(self.width * fx), self.y + int(self.height * fy)


@dataclass(frozen=True)
class Scene:
    terminals: tuple[Box, Box]
    page: Box  # Chromium's page viewport (its window minus BROWSER_CHROME_PX)
    desktop: Point  # a point on the bare desktop
    park: Point  # where the pointer waits between blocks of steps
    files_host: Path
    files_guest: PurePosixPath

    def page_block(self, side: pages.Side) -> Point:
        """The middle of the page's left or right top block (toggle button or link)."""
        fx = 0.25 if side == "left" else 0.75
        return self.page.x + int(self.page.width * fx), self.page.y + pages.BLOCK_HEIGHT_PX // 2


async def build_scene(desktop: Desktop) -> Scene:
    """Write the pages, start both terminals and Chromium, and wait until the screen is calm."""
    width, height = desktop.options.width, desktop.options.height
    files_host = desktop.home / FILES_DIR
    files_guest = PurePosixPath(str(desktop.guest_home)) / FILES_DIR
    files_host.mkdir(exist_ok=True)
    for name in pages.PAGE_NAMES:
        (files_host / f"{name}.html").write_text(pages.page_html(name))
    terminals = await _start_terminals(desktop.computer, width, height)
    page = await _start_browser(desktop.computer, width, height, f"file://{files_guest}/a.html")
    await calm(desktop.computer)
    below_terminals = (height + max(t.y + t.height for t in terminals) - PANEL_PX) // 2
    return Scene(
        terminals=terminals,
        page=page,
        desktop=(width // 8, below_terminals),
        park=(width // 3, below_terminals + 40),
        files_host=files_host,
        files_guest=files_guest,
    )


async def _start_terminals(computer: Computer, width: int, height: int) -> tuple[Box, Box]:
    """Two xterms side by side in the top-left quarter-columns of the screen."""
    quarter = width // 4
    columns = max(20, (quarter - 24) // CELL_PX[0])
    rows = max(6, (int(height * 0.45) - 40) // CELL_PX[1])
    for index, name in enumerate(TERMINAL_NAMES):
        geometry = f"{columns}x{rows}+{index * quarter}+0"
        await computer.launch(apps.app_argv("terminal", "-geometry", geometry, "-name", name))
    first, second = [await _find_window(computer, "--classname", f"^{n}$") for n in TERMINAL_NAMES]
    return first, second


async def _start_browser(computer: Computer, width: int, height: int, url: str) -> Box:
    """Chromium on the right half, showing `url` (page A); returns the page's viewport."""
    x, size = width // 2, (width - width // 2, height - PANEL_PX)
    flags = (f"--window-position={x},0", f"--window-size={size[0]},{size[1]}")
    await computer.launch(apps.app_argv("browser", *flags, url))
    window = await _find_window(computer, "--name", f"^{pages.page_title('a')}")
    return Box(
        window.x, window.y + BROWSER_CHROME_PX, window.width, window.height - BROWSER_CHROME_PX
    )


async def calm(computer: Computer) -> None:
    """Wait until nothing has been drawn for a while, so a step starts from a still screen."""
    await computer.settle(CALM)


async def _find_window(computer: Computer, how: str, pattern: str) -> Box:
    """Wait for a visible window matching an xdotool search, and return its absolute box.

    Polled from here with short commands: `xdotool search --sync` can exit early with an X
    error while Chromium creates and destroys windows at start-up. xdotool's own
    getwindowgeometry double-counts openbox's frame offsets; xwininfo's "Absolute" is right.
    """
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while not (window := await _search(computer, how, pattern)):
        if time.monotonic() > deadline:
            raise SceneError(f"no window {how} {pattern!r} appeared")
        await asyncio.sleep(WINDOW_POLL_S)
    result = await computer.run(["xwininfo", "-id", window], timeout=COMMAND_TIMEOUT_S)
    fields = dict(re.findall(r"^\s*([A-Za-z -]+):\s+(-?\d+)\s*$", result.stdout, re.MULTILINE))
    try:
        return Box(
            int(fields["Absolute upper-left X"]),
            int(fields["Absolute upper-left Y"]),
            int(fields["Width"]),
            int(fields["Height"]),
        )
    except KeyError:
        raise SceneError(f"unexpected xwininfo output: {result.stdout!r}") from None


async def _search(computer: Computer, how: str, pattern: str) -> str | None:
    """The first visible window matching the search, or None (yet)."""
    argv = ["xdotool", "search", "--onlyvisible", how, pattern]
    result = await computer.run(argv, timeout=COMMAND_TIMEOUT_S)
    found = result.stdout.split()
    return found[0] if found else None
