"""The computer tool: one implementation of every action, serving every API version.

`ComputerTool.run(name, input)` validates the input against its version's contract, turns the
action into guest input events (coordinates mapped from the model's screenshot space to screen
pixels, key names to keysyms), lets the guest inject them and wait for the screen to settle, then
captures, scales and encodes the screenshot the model sees next. Bad input never reaches the
desktop: it comes back as an error result the model can read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from deskhand.computer import Computer, GuestConnectionLost, GuestError, SettleParams
from deskhand.guest.events import MAX_EVENTS, Button, InputEvent, Key, Move, Sleep, Text
from deskhand.safety.secrets import SecretError, Vault, has_placeholders
from deskhand.tools import imaging, inputs
from deskhand.tools.inputs import MAX_TYPE_CHARS
from deskhand.tools.keys import UnknownKeyError, parse_keys
from deskhand.tools.results import ToolResult
from deskhand.tools.scaling import ScreenGeometry
from deskhand.tools.specs import ComputerToolParam, ComputerToolSpec, get_spec

DEFAULT_API_TYPE = "computer_20251124"
CLICKS = {  # action -> (X button, number of clicks)
    "left_click": (1, 1),
    "right_click": (3, 1),
    "middle_click": (2, 1),
    "double_click": (1, 2),
    "triple_click": (1, 3),
}
WHEEL = {"up": 4, "down": 5, "left": 6, "right": 7}
# Toolkits start a drag only after the pointer has moved in several steps (GTK's threshold,
# Chromium's drag-and-drop), so a drag is interpolated with a short pause per step.
DRAG_STEP_PX = 24
DRAG_MAX_STEPS = 16
DRAG_STEP_SECONDS = 0.008
MULTI_CLICK_GAP_SECONDS = 0.05  # between the clicks of a double/triple click
STILL_CHANGING_NOTE = (
    "The screen was still changing when this screenshot was taken; "
    "use the wait action and take another screenshot if something is loading."
)


@dataclass(frozen=True)
class ScreenshotSettings:
    """How screenshots are made: lossless PNG by default; JPEG or WebP to save upload bytes."""

    format: imaging.ImageFormat = "png"
    quality: int | None = None
    cursor: bool = True


@dataclass
class StepTiming:
    """Where one tool call spent its time, in milliseconds (what `deskhand bench` reports)."""

    action_ms: float = 0.0
    settle_ms: float = 0.0
    capture_ms: float = 0.0
    scale_ms: float = 0.0
    encode_ms: float = 0.0
    total_ms: float = 0.0
    settle: dict[str, Any] = field(default_factory=dict)


ActionHandler = Callable[["ComputerTool", Any], Awaitable[ToolResult]]


class ComputerTool:
    def __init__(
        self,
        computer: Computer,
        spec: ComputerToolSpec,
        geometry: ScreenGeometry,
        *,
        zoom: bool = True,
        disabled: Collection[str] = (),
        screenshots: ScreenshotSettings | None = None,
        settle: SettleParams | None = None,
        secrets: Vault | None = None,
    ) -> None:
        self.computer = computer
        self.secrets = secrets  # resolves {{secret:NAME}} in the type action
        self.spec = spec
        self.geometry = geometry
        self.zoom = zoom
        self.disabled = tuple(disabled)
        self.offered = spec.offered_actions(zoom=zoom, disabled=self.disabled)
        self.screenshots = screenshots or ScreenshotSettings()
        self.settle_params = settle or SettleParams()
        self.last_timing = StepTiming()

    @classmethod
    async def create(
        cls, computer: Computer, api_type: str = DEFAULT_API_TYPE, **options: Any
    ) -> ComputerTool:
        width, height = await computer.size()
        return cls(computer, get_spec(api_type), ScreenGeometry(width, height), **options)

    def definition(self) -> ComputerToolParam:
        """The `tools[]` entry to send to the API (display size = the screenshots' size)."""
        width, height = self.geometry.model_size
        return self.spec.tool_definition(
            display_width_px=width,
            display_height_px=height,
            zoom=self.zoom,
            disabled=self.disabled,
        )

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The tool_use names this tool answers: "computer", or one per toolset member."""
        return self.offered if self.spec.name is None else (self.spec.name,)

    @property
    def toolset_name(self) -> str | None:
        """What member tool_results must carry as `toolset_name` (None for dated tools)."""
        return "computer" if self.spec.kind == "toolset" else None

    async def run(self, name: str, tool_input: object) -> ToolResult:
        """Execute one tool_use. Input errors and refused actions come back as error results."""
        start = time.perf_counter()
        self.last_timing = StepTiming()
        try:
            action, params = inputs.parse_action(self.spec, name, tool_input, offered=self.offered)
            result = await _ACTIONS[action](self, params)
        except (inputs.ToolInputError, UnknownKeyError) as exc:
            return ToolResult.from_error(exc.message)
        except GuestConnectionLost:
            raise  # the desktop is gone: not something the model can fix
        except GuestError as exc:
            return ToolResult.from_error(f"The desktop could not perform the action: {exc.message}")
        self.last_timing.total_ms = (time.perf_counter() - start) * 1000
        return result

    # -- building blocks -------------------------------------------------------------------

    def _point(self, coordinate: Sequence[int]) -> tuple[int, int]:
        return self.geometry.to_screen(coordinate[0], coordinate[1])

    async def _act(self, events: list[InputEvent]) -> ToolResult:
        """Inject events, wait for the screen to settle, and return the new screenshot."""
        reply = await self.computer.apply(events, self.settle_params)
        report = reply.get("settle", {})
        self.last_timing.action_ms = float(reply.get("input_ms", 0.0))
        self.last_timing.settle_ms = float(report.get("settled_ms", 0.0))
        self.last_timing.settle = report
        note = STILL_CHANGING_NOTE if report.get("timed_out") else None
        return await self._screenshot(note)

    async def _screenshot(self, note: str | None = None) -> ToolResult:
        image = await self._capture(self.geometry.model_size, None)
        return ToolResult(image=image, system=note)

    async def _capture(
        self, size: tuple[int, int], box: tuple[int, int, int, int] | None
    ) -> imaging.EncodedImage:
        """Capture at native resolution, then scale (or zoom into `box`) and encode."""
        timing = self.last_timing
        start = time.perf_counter()
        frame = await self.computer.screenshot(cursor=self.screenshots.cursor)
        timing.capture_ms = (time.perf_counter() - start) * 1000
        return await asyncio.to_thread(self._scale_and_encode, frame.pixels, size, box)

    def _scale_and_encode(
        self, pixels: imaging.Frame, size: tuple[int, int], box: tuple[int, int, int, int] | None
    ) -> imaging.EncodedImage:
        start = time.perf_counter()
        shown = imaging.zoom_image(pixels, box) if box else imaging.scale(pixels, size)
        middle = time.perf_counter()
        image = imaging.encode(shown, self.screenshots.format, self.screenshots.quality)
        _ = image.base64  # encoded here, off the event loop, and counted as encoding time
        self.last_timing.scale_ms = (middle - start) * 1000
        self.last_timing.encode_ms = (time.perf_counter() - middle) * 1000
        return image


def _modifier_events(text: str | None, down: bool) -> list[InputEvent]:
    keysyms = parse_keys(text) if text else []
    ordered = keysyms if down else keysyms[::-1]
    return [Key(keysym=keysym, down=down) for keysym in ordered]


def _with_modifiers(text: str | None, events: list[InputEvent]) -> list[InputEvent]:
    return [*_modifier_events(text, True), *events, *_modifier_events(text, False)]


def _press(button: int, times: int) -> list[InputEvent]:
    """`times` clicks of `button`. Chromium counts presses that arrive back to back (with the
    same server time) as one click, so multi-clicks are spaced like a quick hand; wheel clicks
    (buttons 4-7) are not counted that way and go back to back."""
    events: list[InputEvent] = []
    for n in range(times):
        if n and button <= 3:
            events.append(Sleep(seconds=MULTI_CLICK_GAP_SECONDS))
        events += [Button(button=button, down=True), Button(button=button, down=False)]
    return events


async def _screenshot(tool: ComputerTool, _: inputs.NoInput) -> ToolResult:
    return await tool._screenshot()


async def _cursor_position(tool: ComputerTool, _: inputs.NoInput) -> ToolResult:
    x, y = tool.geometry.to_model(*await tool.computer.cursor_position())
    return ToolResult(output=f"X={x},Y={y}")


async def _mouse_move(tool: ComputerTool, params: inputs.CoordinateInput) -> ToolResult:
    x, y = tool._point(params.coordinate)
    return await tool._act([Move(x=x, y=y)])


async def _mouse_button(tool: ComputerTool, down: bool) -> ToolResult:
    return await tool._act([Button(button=1, down=down)])


async def _left_mouse_down(tool: ComputerTool, _: inputs.NoInput) -> ToolResult:
    return await _mouse_button(tool, True)


async def _left_mouse_up(tool: ComputerTool, _: inputs.NoInput) -> ToolResult:
    return await _mouse_button(tool, False)


def _click_handler(action: str) -> ActionHandler:
    button, times = CLICKS[action]

    async def click(tool: ComputerTool, params: inputs.ClickInput) -> ToolResult:
        events: list[InputEvent] = []
        if params.coordinate is not None:
            x, y = tool._point(params.coordinate)
            events.append(Move(x=x, y=y))
        return await tool._act(events + _with_modifiers(params.text, _press(button, times)))

    return click


async def _left_click_drag(tool: ComputerTool, params: inputs.DragInput) -> ToolResult:
    end = tool._point(params.coordinate)
    if params.start_coordinate is not None:
        start = tool._point(params.start_coordinate)
    else:  # computer_20241022 drags from wherever the pointer is
        start = await tool.computer.cursor_position()
    distance = max(abs(end[0] - start[0]), abs(end[1] - start[1]))
    steps = max(2, min(DRAG_MAX_STEPS, distance // DRAG_STEP_PX))
    path: list[InputEvent] = []
    for step in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * step // steps
        y = start[1] + (end[1] - start[1]) * step // steps
        path += [Sleep(seconds=DRAG_STEP_SECONDS), Move(x=x, y=y)]
    drag: list[InputEvent] = [
        Button(button=1, down=True),
        *path,
        Sleep(seconds=DRAG_STEP_SECONDS),
        Button(button=1, down=False),
    ]
    return await tool._act([Move(x=start[0], y=start[1]), *_with_modifiers(params.text, drag)])


async def _key(tool: ComputerTool, params: inputs.KeyInput) -> ToolResult:
    combo = _with_modifiers(params.text, [])
    repeat = params.repeat or 1
    if len(combo) * repeat > MAX_EVENTS:  # e.g. a 100-key combination repeated 100 times
        raise inputs.ToolInputError(
            f"Invalid input for key ({tool.spec.api_type}): {len(combo) // 2} keys repeated"
            f" {repeat} times is more than one action can press; lower repeat to at most"
            f" {MAX_EVENTS // len(combo)} or send the keys in several actions"
        )
    return await tool._act(combo * repeat)


async def _hold_key(tool: ComputerTool, params: inputs.HoldKeyInput) -> ToolResult:
    return await tool._act(_with_modifiers(params.text, [Sleep(seconds=float(params.duration))]))


async def _type(tool: ComputerTool, params: inputs.TypeInput) -> ToolResult:
    if has_placeholders(params.text):
        return await _type_secret(tool, params.text)
    return await tool._act([Text(text=params.text)])


TYPING_FAILED_NOTE = "The desktop could not type the text (secret values are not shown)."


async def _type_secret(tool: ComputerTool, text: str) -> ToolResult:
    """Type text with {{secret:NAME}} placeholders: the value exists only in the input request
    to the guest. Nothing that comes back (errors included) can carry it to the model."""
    vault = tool.secrets or Vault()
    try:
        typed = vault.resolve(text)
    except SecretError as exc:  # unknown names: the message lists names, never values
        raise inputs.ToolInputError(exc.message) from None
    if len(typed) > MAX_TYPE_CHARS:
        raise inputs.ToolInputError(
            f"the text is longer than {MAX_TYPE_CHARS} characters once its secrets are filled in"
        )
    try:
        return await tool._act([Text(text=typed)])
    except GuestConnectionLost:
        raise
    except GuestError as exc:
        return ToolResult.from_error(f"{TYPING_FAILED_NOTE} {vault.mask(exc.message)}")
    except Exception as exc:  # its message or traceback might quote the text: keep only its type
        failure = type(exc).__name__
    # Raised outside the except block, so the original is not even chained as its context.
    raise RuntimeError(f"typing a secret failed: {failure}")


async def _scroll(tool: ComputerTool, params: inputs.ScrollInput) -> ToolResult:
    events: list[InputEvent] = []
    if params.coordinate is not None:
        x, y = tool._point(params.coordinate)
        events.append(Move(x=x, y=y))
    wheel = _press(WHEEL[params.scroll_direction], params.scroll_amount)
    return await tool._act(events + _with_modifiers(params.text, wheel))


async def _wait(tool: ComputerTool, params: inputs.WaitInput) -> ToolResult:
    await asyncio.sleep(float(params.duration))
    return await tool._screenshot()


async def _zoom(tool: ComputerTool, params: inputs.ZoomInput) -> ToolResult:
    box = tool.geometry.region_to_screen(list(params.region))
    return ToolResult(image=await tool._capture(tool.geometry.model_size, box))


_ACTIONS: dict[str, ActionHandler] = {
    "screenshot": _screenshot,
    "cursor_position": _cursor_position,
    "mouse_move": _mouse_move,
    "left_mouse_down": _left_mouse_down,
    "left_mouse_up": _left_mouse_up,
    "left_click_drag": _left_click_drag,
    "key": _key,
    "hold_key": _hold_key,
    "type": _type,
    "scroll": _scroll,
    "wait": _wait,
    "zoom": _zoom,
    **{action: _click_handler(action) for action in CLICKS},
}
