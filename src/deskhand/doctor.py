"""`deskhand doctor`: is this machine ready to run desktops, and if not, what to do about it.

Each check returns a status, what it found and, on failure, the fix. The first group needs no
desktop (programs, bubblewrap and namespaces); the second starts a real sandboxed desktop and
measures the guest round trip, input calibration and capture speed.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from deskhand.sandbox.backends import BubblewrapBackend, SandboxUnavailable
from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.computer import ComputerTool, ScreenshotSettings

Status = Literal["ok", "warn", "fail"]

# program -> Debian package that provides it
PROGRAMS = {
    "Xvfb": "xvfb",
    "xauth": "xauth",
    "openbox": "openbox",
    "tint2": "tint2",
    "xsetroot": "x11-xserver-utils",
    "x11vnc": "x11vnc",
    "xterm": "xterm",
    "mousepad": "mousepad",
    "galculator": "galculator",
    "pcmanfm": "pcmanfm",
    "chromium": "chromium",
    "bwrap": "bubblewrap",
}
GRAB_SLOW_MS = 30.0
ROUND_TRIP_SLOW_MS = 5.0
CALIBRATION_POINTS = ((0, 0), (17, 923), (640, 400), (1000, 13), (1279, 799), (333, 555))


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_programs() -> list[Check]:
    checks = []
    for program, package in PROGRAMS.items():
        path = shutil.which(program)
        checks.append(
            Check(f"program {program}", "ok", path)
            if path
            else Check(f"program {program}", "fail", "not found", f"apt-get install {package}")
        )
    return checks


def check_sandbox() -> Check:
    try:
        BubblewrapBackend().check()
    except SandboxUnavailable as exc:
        return Check("bubblewrap and user namespaces", "fail", "cannot create a sandbox", str(exc))
    return Check("bubblewrap and user namespaces", "ok", "user, PID and network namespaces work")


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


async def check_round_trip(desk: Desktop) -> Check:
    samples = []
    for _ in range(30):
        start = time.perf_counter()
        await desk.computer.size()
        samples.append((time.perf_counter() - start) * 1000)
    p50 = _p50(samples)
    status: Status = "ok" if p50 <= ROUND_TRIP_SLOW_MS else "warn"
    return Check(
        "guest round trip",
        status,
        f"p50 {p50:.2f} ms over 30 requests",
        "" if status == "ok" else "the machine is heavily loaded",
    )


async def check_calibration(desk: Desktop) -> Check:
    """Move the pointer to model-space points and read it back through the whole stack."""
    tool = await ComputerTool.create(desk.computer, "computer_20250124")
    width, height = tool.geometry.model_size
    misses = []
    for x, y in CALIBRATION_POINTS:
        x, y = min(x, width - 1), min(y, height - 1)
        moved = await tool.run("computer", {"action": "mouse_move", "coordinate": [x, y]})
        reported = await tool.run("computer", {"action": "cursor_position"})
        if moved.error or reported.output != f"X={x},Y={y}":
            misses.append(f"({x},{y})->{reported.output or moved.error}")
    if misses:
        return Check(
            "input calibration",
            "fail",
            "; ".join(misses),
            "XTEST input does not land where asked: check the X server's XTEST extension",
        )
    return Check("input calibration", "ok", f"{len(CALIBRATION_POINTS)} points land exactly")


async def check_capture(desk: Desktop) -> Check:
    health = await desk.computer.health()
    backend = str(health.get("capture_backend"))
    tool = await ComputerTool.create(
        desk.computer, "computer_20250124", screenshots=ScreenshotSettings(format="jpeg")
    )
    samples = []
    for _ in range(20):
        await tool.run("computer", {"action": "screenshot"})
        samples.append(tool.last_timing.total_ms)
    p50 = _p50(samples)
    status: Status = "ok" if p50 <= GRAB_SLOW_MS and backend == "xshmgetimage" else "warn"
    fix = ""
    if backend != "xshmgetimage":
        fix = "MIT-SHM is unavailable: capture falls back to XGetImage (slower)"
    elif status == "warn":
        fix = "capture is slow: the machine may be overloaded"
    return Check("capture speed", status, f"{backend}, JPEG screenshot p50 {p50:.1f} ms", fix)


DesktopCheck = Callable[[Desktop], Awaitable[Check]]
DESKTOP_CHECKS: tuple[DesktopCheck, ...] = (check_round_trip, check_calibration, check_capture)


async def run_checks(sandbox: bool = True) -> list[Check]:
    checks = check_programs()
    if sandbox:
        checks.append(check_sandbox())
    if any(check.status == "fail" for check in checks):
        return checks
    start = time.perf_counter()
    try:
        desk = await Desktop.start(DesktopOptions(sandbox=sandbox))
    except Exception as exc:
        return [*checks, Check("desktop start", "fail", str(exc), "see the message above")]
    elapsed = (time.perf_counter() - start) * 1000
    async with desk:
        checks.append(Check("desktop start", "ok", f"{desk.display} up in {elapsed:.0f} ms"))
        for check in DESKTOP_CHECKS:
            checks.append(await check(desk))
    return checks
