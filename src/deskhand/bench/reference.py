"""The reference demo's way of doing a step, run inside the same sandbox.

This is how Anthropic's computer-use-demo (anthropic-quickstarts, `tools/computer.py`, June
2025) performs an action, as described in research/screen-io-perf.md: an `xdotool ...` command
line through `sh -c`, then a fixed `asyncio.sleep(2.0)`, then `scrot -p FILE` through `sh -c`,
then always `convert FILE -resize WxH! FILE` through `sh -c` (even when W x H is the screen
size), then read the file and base64 it. `type` sends 50-character chunks with `--delay 12` and
takes its screenshot without the sleep. The phases map onto the tool's: action = the xdotool
commands, settle = the sleep, capture = scrot, scale = convert, encode = read + base64.

Two deliberate differences, both in the reference's favour or neutral: the screenshot is
resized to the same size the tool sends (at 1280x800 both are no-op resizes, as in the demo),
and ImageMagick is called by its Debian path, so that nothing else named `convert` earlier on
PATH is timed in its place.
"""

from __future__ import annotations

import asyncio
import base64
import shlex
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from deskhand.bench.actions import StepFailed, ToolInput
from deskhand.bench.steps import Step
from deskhand.computer import Computer
from deskhand.tools.computer import StepTiming
from deskhand.tools.scaling import ScreenGeometry

SCREENSHOT_DELAY_S = 2.0
TYPING_DELAY_MS = 12
TYPING_GROUP_SIZE = 50
CONVERT = "/usr/bin/convert"
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
SHELL_TIMEOUT_S = 60.0


class ReferenceWay:
    """Performs tool inputs the reference demo's way on one desktop."""

    def __init__(
        self,
        computer: Computer,
        display: str,
        geometry: ScreenGeometry,
        files: tuple[Path, PurePosixPath],
    ) -> None:
        self.computer = computer
        self.display_prefix = f"DISPLAY={display} "
        self.geometry = geometry
        self.files_host, self.files_guest = files

    def step(self, step_input: Callable[[int], ToolInput]) -> Step:
        """Step i done the reference's way."""

        async def step(index: int) -> StepTiming:
            return await self.perform(step_input(index))

        return step

    async def perform(self, tool_input: ToolInput) -> StepTiming:
        timing = StepTiming()
        start = time.perf_counter()
        commands, sleeps = self.commands(tool_input)
        for command in commands:
            await self._shell(command)
        acted = time.perf_counter()
        timing.action_ms = (acted - start) * 1000
        if sleeps:
            await asyncio.sleep(SCREENSHOT_DELAY_S)
            timing.settle = {"fixed_sleep_ms": SCREENSHOT_DELAY_S * 1000}
        timing.settle_ms = (time.perf_counter() - acted) * 1000
        await self._screenshot(timing)
        timing.total_ms = (time.perf_counter() - start) * 1000
        return timing

    def commands(self, tool_input: ToolInput) -> tuple[list[str], bool]:
        """The demo's shell commands for one input, and whether it sleeps before its screenshot."""
        action = tool_input["action"]
        xdotool = f"{self.display_prefix}xdotool"
        if action == "screenshot":
            return [], False
        if action == "type":
            text = str(tool_input["text"])
            chunks = [
                text[i : i + TYPING_GROUP_SIZE] for i in range(0, len(text), TYPING_GROUP_SIZE)
            ]
            return [
                f"{xdotool} type --delay {TYPING_DELAY_MS} -- {shlex.quote(chunk)}"
                for chunk in chunks
            ], False
        return [f"{xdotool} {self._xdotool_args(tool_input)}"], True

    def _xdotool_args(self, tool_input: ToolInput) -> str:
        action = tool_input["action"]
        if action == "key":
            return f"key -- {tool_input['text']}"
        move = f"mousemove --sync {self._screen(tool_input['coordinate'])}"
        if action == "left_click":
            return f"{move} click 1"
        if action == "mouse_move":
            return move
        if action == "scroll":
            button = SCROLL_BUTTONS[tool_input["scroll_direction"]]
            return f"{move} click --repeat {tool_input['scroll_amount']} {button}"
        if action == "left_click_drag":
            start = self._screen(tool_input["start_coordinate"])
            return f"mousemove --sync {start} mousedown 1 {move} mouseup 1"
        raise ValueError(f"the reference demo has no {action!r} action")

    def _screen(self, coordinate: list[int]) -> str:
        x, y = self.geometry.to_screen(coordinate[0], coordinate[1])
        return f"{x} {y}"

    async def _screenshot(self, timing: StepTiming) -> None:
        name = f"screenshot_{uuid.uuid4().hex}.png"
        path = self.files_guest / name
        width, height = self.geometry.model_size
        start = time.perf_counter()
        await self._shell(f"{self.display_prefix}scrot -p {path}")
        captured = time.perf_counter()
        await self._shell(f"{CONVERT} {path} -resize {width}x{height}! {path}")
        scaled = time.perf_counter()
        await asyncio.to_thread(_read_base64, self.files_host / name)
        timing.capture_ms = (captured - start) * 1000
        timing.scale_ms = (scaled - captured) * 1000
        timing.encode_ms = (time.perf_counter() - scaled) * 1000
        (self.files_host / name).unlink()  # not timed: the demo keeps its files

    async def _shell(self, command: str) -> str:
        result = await self.computer.run(["sh", "-c", command], timeout=SHELL_TIMEOUT_S)
        if result.returncode != 0 or result.timed_out:
            raise StepFailed(f"reference command {command!r} failed: {result.stderr.strip()}")
        return result.stdout


def _read_base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()
