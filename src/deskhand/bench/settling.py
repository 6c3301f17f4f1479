"""Does the tool return the screen an action ends in? The settle scenarios S1-S9.

For each run the action goes through `ComputerTool` (lossless PNG, pointer not drawn), whose
screenshot is decoded: that is exactly the frame the tool settled on. After `final_wait_s` the
screen is grabbed again (pointer not drawn, scaled the same way) and the two are compared pixel
for pixel, the whole screen. A run during which the panel clock's minute changed is done again,
because the clock would differ whatever the tool did.

S3 prints 300 ms after its echo, later than any quiet window: no rule based on quiet can catch
it, so it is shown for information and left out of the target. S6 (a click that changes
nothing) is not run: its settled frame is the final frame by construction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import cv2
import numpy as np

from deskhand.bench.actions import StepFailed, ToolInput, run_input
from deskhand.bench.pages import PAGE_NAMES, Side, link_side, toggle_side
from deskhand.bench.scene import Point, Scene, calm
from deskhand.bench.stats import Summary, summarize
from deskhand.bench.steps import OnStep
from deskhand.tools import imaging
from deskhand.tools.computer import ComputerTool
from deskhand.tools.scaling import ScreenGeometry

CLOCK_RETRIES = 3


@dataclass(frozen=True)
class RunInputs:
    """One run: unmeasured inputs before, the measured action, unmeasured inputs after."""

    action: ToolInput
    before: tuple[ToolInput, ...] = ()
    after: tuple[ToolInput, ...] = ()


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    run: Callable[[int], RunInputs]
    counted: bool = True  # part of the ">= 95 % settled == final" target
    prepare: tuple[ToolInput, ...] = ()  # once, before the first run


@dataclass(frozen=True)
class SettleRun:
    settle_ms: float
    equal: bool
    differing_px: int
    first_change_ms: float | None
    last_change_ms: float | None
    timed_out: bool
    clock_retries: int


@dataclass
class ScenarioResult:
    key: str
    title: str
    counted: bool
    runs: list[SettleRun] = field(default_factory=list)

    @property
    def equal(self) -> int:
        return sum(run.equal for run in self.runs)

    def settle(self) -> Summary:
        return summarize([run.settle_ms for run in self.runs])

    def last_change(self) -> Summary:
        return summarize([r.last_change_ms for r in self.runs if r.last_change_ms is not None])

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "counted": self.counted,
            "equal": self.equal,
            "runs": len(self.runs),
            "settle_ms": self.settle().as_json(),
            "last_change_ms": self.last_change().as_json(),
            "detail": [asdict(run) for run in self.runs],
        }


def scenarios(scene: Scene, geometry: ScreenGeometry) -> list[Scenario]:
    """S1-S4 in terminal A, S5 on the bare desktop, S7-S9 in Chromium (starting on page A)."""

    def at(action: str, point: Point, **extra: Any) -> ToolInput:
        return {"action": action, "coordinate": list(geometry.to_model(*point)), **extra}

    focus_terminal = (at("left_click", scene.terminals[0].at(0.5, 0.5)),)

    def terminal(key: str, command: str, counted: bool = True) -> Scenario:
        def run(i: int) -> RunInputs:
            typed = {"action": "type", "text": command.format(i=i)}
            return RunInputs({"action": "key", "text": "Return"}, before=(typed,))

        title = f"xterm: `{command.format(i='N')}` Enter"
        return Scenario(key, title, run, counted, prepare=focus_terminal)

    def page_block(side_of: Callable[[str], Side], page: str) -> ToolInput:
        return at("left_click", scene.page_block(side_of(page)))

    def wheel(i: int) -> RunInputs:
        direction = ("down", "up")[i % 2]
        point = scene.page.at(0.5, 0.6)
        return RunInputs(at("scroll", point, scroll_direction=direction, scroll_amount=3))

    escape = {"action": "key", "text": "Escape"}
    return [
        terminal("S1", "ls -la /usr/bin | head -30; echo run-{i}"),
        terminal("S2", "seq 1 3000; echo done-{i}"),
        terminal("S3", "sleep 0.3; echo late-{i}", counted=False),
        terminal("S4", "clear; echo cleared {i}"),
        Scenario(
            "S5",
            "openbox: right-click the desktop, menu opens",
            lambda i: RunInputs(at("right_click", scene.desktop), after=(escape,)),
        ),
        Scenario(
            "S7",
            "Chromium: click a JS toggle button",
            lambda i: RunInputs(page_block(toggle_side, PAGE_NAMES[0])),
            prepare=(at("left_click", scene.page.at(0.5, 0.75)),),  # focus the browser first
        ),
        Scenario(
            "S8",
            "Chromium: click a link, local page loads",
            lambda i: RunInputs(page_block(link_side, PAGE_NAMES[i % 2])),  # A, B, A, ...
        ),
        Scenario("S9", "Chromium: mouse wheel x3 (smooth scroll)", wheel),
    ]


async def run_scenario(
    tool: ComputerTool, scenario: Scenario, runs: int, final_wait_s: float, on_step: OnStep
) -> ScenarioResult:
    """`runs` runs of one scenario; `tool` must send lossless PNG without the pointer."""
    if tool.screenshots.format != "png" or tool.screenshots.cursor:
        raise ValueError("settle runs need a tool sending PNG screenshots without the pointer")
    result = ScenarioResult(scenario.key, scenario.title, scenario.counted)
    for step in scenario.prepare:
        await run_input(tool, step)
    # Inputs come from the attempt number, not the run number: a run that is done again must
    # still alternate (scroll down then up, page A then B), or it would repeat a no-op.
    attempt = retries = 0
    while len(result.runs) < runs:
        run, clock_changed = await _attempt(tool, scenario.run(attempt), final_wait_s)
        attempt += 1
        if clock_changed and retries < CLOCK_RETRIES:
            retries += 1  # the panel clock changed during the run: it proves nothing
            continue
        result.runs.append(replace(run, clock_retries=retries))
        retries = 0
        on_step(f"settle {scenario.key}")
    return result


async def _attempt(
    tool: ComputerTool, inputs: RunInputs, final_wait_s: float
) -> tuple[SettleRun, bool]:
    """One run; also says whether the clock's minute changed while it ran."""
    for step in inputs.before:
        await run_input(tool, step)
    await calm(tool.computer)
    started = time.time()
    settled, report = await _settled_frame(tool, inputs.action)
    await asyncio.sleep(final_wait_s)
    final = await tool.computer.screenshot(cursor=False)
    finished = time.time()
    for step in inputs.after:
        await run_input(tool, step)
    differing = _differing_pixels(settled, final.pixels)
    run = SettleRun(
        settle_ms=tool.last_timing.settle_ms,
        equal=differing == 0,
        differing_px=differing,
        first_change_ms=report.get("first_change_ms"),
        last_change_ms=report.get("last_change_ms"),
        timed_out=bool(report.get("timed_out")),
        clock_retries=0,
    )
    return run, int(started // 60) != int(finished // 60)


async def _settled_frame(
    tool: ComputerTool, action: ToolInput
) -> tuple[imaging.Frame, dict[str, Any]]:
    """Run the action; return the screenshot the tool sent, decoded, and its settle report."""
    result = await tool.run("computer", action)
    if result.error or result.image is None:
        raise StepFailed(f"{action} gave no screenshot: {result.error}")
    decoded = cv2.imdecode(np.frombuffer(result.image.data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise StepFailed(f"the screenshot of {action} could not be decoded")
    return cast(imaging.Frame, decoded), dict(tool.last_timing.settle)


def _differing_pixels(sent: imaging.Frame, final: imaging.Frame) -> int:
    """How many pixels of the sent (BGR) screenshot differ from the final frame scaled alike."""
    height, width = sent.shape[:2]
    expected = imaging.scale(final, (width, height))[..., :3]
    return int(np.count_nonzero(np.any(sent != expected, axis=2)))
