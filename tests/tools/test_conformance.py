"""Every action of every computer tool version has its real effect on a real X display.

One 1920x1080 sandboxed desktop (the model sees 1456x819, so every coordinate is scaled) with the
event recorder full-screen on it: each (version, action) pair is run through `ComputerTool.run`
exactly as the model would send it (toolset inputs are first validated by the SDK's own member
input models), and the X events the recorder receives are compared with what the action means.
Typing goes to a real xterm running `cat > FILE`, and the file is read back from the host.
Expected buttons, keysyms and pixels are spelled out here, not taken from the code under test.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_args

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from anthropic.types.beta import BetaComputerMemberInput
from anthropic.types.beta.beta_computer_member_name import BETA_COMPUTER_MEMBER_NAME_VALUES
from pydantic import BaseModel
from recorder import (
    BUTTON1_MASK,
    CONTROL_MASK,
    INPUT_EVENTS,
    KEY_EVENTS,
    SHIFT_MASK,
    Record,
    RecorderHost,
    SandboxRecorder,
)

from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.computer import _ACTIONS, ComputerTool
from deskhand.tools.results import ToolResult, to_tool_result_block
from deskhand.tools.scaling import max_image_size
from deskhand.tools.specs import SPECS

pytestmark = pytest.mark.desktop

WIDTH, HEIGHT = 1920, 1080
MODEL_W, MODEL_H = 1456, 819  # the API's size for 1920x1080 (long edge and patch budget)
BACKGROUND = "#d8e4f0"
BACKGROUND_BGR = (0xF0, 0xE4, 0xD8)
TOOLSET = "computer_toolset_20260801"
DATED_2024 = "computer_20241022"
BUTTONS = ("button_press", "button_release")
# Keysyms (X11/keysymdef.h).
SHIFT_L, CONTROL_L, RETURN, F5, LETTER_A = 0xFFE1, 0xFFE3, 0xFF0D, 0xFFC2, 0x61
# action -> (X button, clicks)
CLICKS = {
    "left_click": (1, 1),
    "right_click": (3, 1),
    "middle_click": (2, 1),
    "double_click": (1, 2),
    "triple_click": (1, 3),
}
WHEEL = {"up": 4, "down": 5, "left": 6, "right": 7}
MODIFIERS = {"shift": (SHIFT_L, SHIFT_MASK), "ctrl": (CONTROL_L, CONTROL_MASK)}
TYPED = 'Hello, World! ~`@#$%^&*()_+{}|:"<>? éüß€ 日本'
# The recorder paints a 10 px square per key press at (10, 10 + 12 * (press % rows)).
SQUARE, SQUARE_STEP = 10, 12


def _member_name(sdk_class: type) -> str:
    core = sdk_class.__name__.removeprefix("BetaComputer").removesuffix("Input")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", core).lower()


SDK_INPUTS: dict[str, type[BaseModel]] = {
    _member_name(cls): cls for cls in get_args(BetaComputerMemberInput)
}


def screen(point: tuple[int, int]) -> tuple[int, int]:
    """The screen pixel a model point must land on: the pixel under the centre of its span."""
    x, y = point
    return (2 * x + 1) * WIDTH // (2 * MODEL_W), (2 * y + 1) * HEIGHT // (2 * MODEL_H)


def model(pixel: tuple[int, int]) -> tuple[int, int]:
    """The model pixel whose span contains a screen pixel."""
    x, y = pixel
    return (2 * x + 1) * MODEL_W // (2 * WIDTH), (2 * y + 1) * MODEL_H // (2 * HEIGHT)


def root(record: Record) -> tuple[int, int]:
    return int(record["x_root"]), int(record["y_root"])


def kinds(records: list[Record]) -> list[tuple[str, int]]:
    """(type, button or keysym) of each button and key record."""
    return [(r["type"], int(r["button"] if "button" in r else r["keysym"])) for r in records]


def decode(result: ToolResult) -> npt.NDArray[np.uint8]:
    assert result.image is not None, "the action returned no screenshot"
    array = np.frombuffer(result.image.data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    assert image is not None, f"could not decode the {result.image.media_type} image"
    assert image.shape[:2] == (result.image.height, result.image.width)
    return np.asarray(image, dtype=np.uint8)


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desktop]:
    async with await Desktop.start(DesktopOptions(width=WIDTH, height=HEIGHT)) as desk:
        yield desk


@pytest.fixture(scope="module")
async def recorders(desk: Desktop) -> AsyncIterator[RecorderHost]:
    host = RecorderHost(desk, "--background", BACKGROUND)
    try:
        yield host
    finally:
        await host.stop()


@pytest.fixture(scope="module")
async def tools(desk: Desktop) -> dict[str, ComputerTool]:
    return {api_type: await ComputerTool.create(desk.computer, api_type) for api_type in SPECS}


@dataclass
class Case:
    """One (version, action) under test: runs actions as the model sends them."""

    desk: Desktop
    tool: ComputerTool
    recorders: RecorderHost
    results: list[ToolResult] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.tool.spec.api_type

    @property
    def toolset(self) -> bool:
        return self.version == TOOLSET

    @property
    def pointer_only_clicks(self) -> bool:
        """computer_20241022 clicks and drags start at the pointer, with no modifiers."""
        return self.version == DATED_2024

    async def recorder(self) -> SandboxRecorder:
        return await self.recorders.get()

    def request(self, action: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.toolset:
            return action, params
        return "computer", {"action": action, **params}

    async def run(self, action: str, **params: Any) -> ToolResult:
        """Run a valid action; it must succeed."""
        if self.toolset:  # exactly what the SDK's member input model accepts
            SDK_INPUTS[action].model_validate(params, strict=True)
        result = await self.tool.run(*self.request(action, params))
        assert result.error is None, f"{self.version} {action} {params}: {result.error}"
        self.results.append(result)
        return result

    async def refused(self, action: str, **params: Any) -> str:
        """Run an action this version must refuse; return the error shown to the model."""
        result = await self.tool.run(*self.request(action, params))
        assert result.error is not None, f"{self.version} accepted {action} {params}"
        assert result.image is None
        return result.error

    async def click(
        self, action: str, point: tuple[int, int], text: str | None = None
    ) -> tuple[SandboxRecorder, int]:
        """Click at a model point the way this version can; returns (recorder, mark)."""
        rec = await self.recorder()
        if self.pointer_only_clicks:
            assert text is None
            await self.run("mouse_move", coordinate=list(point))
            mark = rec.mark()
            await self.run(action)
        else:
            mark = rec.mark()
            await self.run(action, coordinate=list(point), **({"text": text} if text else {}))
        return rec, mark


async def settled_inputs(rec: SandboxRecorder, count: int, *types: str, since: int) -> list[Record]:
    """Wait for `count` records of `types`, then return all of them once input is quiet."""
    await rec.wait_count(count, *types, since=since)
    return await rec.settled(*types, since=since)


# --- the checks, one per action ----------------------------------------------------------------


async def check_mouse_move(case: Case, _: str) -> None:
    rec = await case.recorder()
    await case.run("mouse_move", coordinate=[1, 1])
    for point in ((0, 0), (MODEL_W - 1, MODEL_H - 1), (731, 402), (1200, 3)):
        mark = rec.mark()
        await case.run("mouse_move", coordinate=list(point))
        motions = await settled_inputs(rec, 1, "motion", since=mark)
        assert [root(m) for m in motions] == [screen(point)]
        assert await case.desk.computer.cursor_position() == screen(point)


async def check_click(case: Case, action: str) -> None:
    button, times = CLICKS[action]
    point = {"left_click": (100, 80), "right_click": (1000, 700), "middle_click": (1455, 818)}.get(
        action, (640, 360)
    )
    rec, mark = await case.click(action, point)
    events = await settled_inputs(rec, 2 * times, *BUTTONS, *KEY_EVENTS, since=mark)
    assert kinds(events) == [("button_press", button), ("button_release", button)] * times
    assert all(root(e) == screen(point) for e in events)
    # Clicks of a multi-click are spaced (X server time, ms): Chromium merges back-to-back ones.
    presses = [int(e["time"]) for e, kind in zip(events, kinds(events), strict=True)
               if kind[0] == "button_press"]  # fmt: skip
    assert all(later - earlier >= 40 for earlier, later in itertools.pairwise(presses))
    assert all(e["state"] & (SHIFT_MASK | CONTROL_MASK) == 0 for e in events)
    if case.pointer_only_clicks:
        error = await case.refused(action, coordinate=list(point))
        assert "coordinate is not accepted" in error and "mouse_move" in error
        error = await case.refused(action, text="shift")
        assert "text is not accepted" in error
        return
    for text, (keysym, mask) in MODIFIERS.items():
        point = (point[0] // 2 + 7, point[1] // 2 + 5)
        rec, mark = await case.click(action, point, text)
        events = await settled_inputs(rec, 2 * times + 2, *BUTTONS, *KEY_EVENTS, since=mark)
        clicks = [("button_press", button), ("button_release", button)] * times
        assert kinds(events) == [("key_press", keysym), *clicks, ("key_release", keysym)]
        assert all(e["state"] & mask for e in events[1:])  # modifier held during every click
        assert all(root(e) == screen(point) for e in events)


async def check_manual_drag(case: Case, _: str) -> None:
    """left_mouse_down, a move, left_mouse_up: the model's own drag."""
    rec = await case.recorder()
    start, end = (300, 200), (520, 260)
    await case.run("mouse_move", coordinate=list(start))
    mark = rec.mark()
    released = False
    try:
        await case.run("left_mouse_down")
        events = await settled_inputs(rec, 1, *BUTTONS, since=mark)
        assert kinds(events) == [("button_press", 1)], "the button must stay down"
        assert root(events[0]) == screen(start)
        await case.run("mouse_move", coordinate=list(end))
        await case.run("left_mouse_up")
        released = True
        events = await settled_inputs(rec, 3, *BUTTONS, "motion", since=mark)
    finally:
        if not released:
            await case.tool.run(*case.request("left_mouse_up", {}))
    assert [e["type"] for e in events] == ["button_press", "motion", "button_release"]
    assert root(events[1]) == root(events[2]) == screen(end)
    assert events[1]["state"] & BUTTON1_MASK and events[2]["state"] & BUTTON1_MASK
    assert events[2]["button"] == 1


async def check_key(case: Case, _: str) -> None:
    rec = await case.recorder()
    expected = {
        "ctrl+a": [
            ("key_press", CONTROL_L),
            ("key_press", LETTER_A),
            ("key_release", LETTER_A),
            ("key_release", CONTROL_L),
        ],
        "Return": [("key_press", RETURN), ("key_release", RETURN)],
        "F5": [("key_press", F5), ("key_release", F5)],
    }
    for text, keys in expected.items():
        mark = rec.mark()
        await case.run("key", text=text)
        events = await settled_inputs(rec, len(keys), *KEY_EVENTS, since=mark)
        assert kinds(events) == keys, text
        if text == "ctrl+a":
            assert events[1]["state"] & CONTROL_MASK and events[1]["string"] == "a"
        else:
            assert all(e["state"] & (SHIFT_MASK | CONTROL_MASK) == 0 for e in events)
    if case.toolset:
        mark = rec.mark()
        await case.run("key", text="F5", repeat=3)
        events = await settled_inputs(rec, 6, *KEY_EVENTS, since=mark)
        assert kinds(events) == [("key_press", F5), ("key_release", F5)] * 3
    else:
        error = await case.refused("key", text="F5", repeat=3)
        assert "repeat is not accepted" in error


async def check_hold_key(case: Case, _: str) -> None:
    rec = await case.recorder()
    duration: float = 1 if case.toolset else 0.6  # the toolset takes whole seconds only
    mark = rec.mark()
    start = time.monotonic()
    await case.run("hold_key", text="ctrl+shift", duration=duration)
    elapsed = time.monotonic() - start
    events = await settled_inputs(rec, 4, *KEY_EVENTS, since=mark)
    assert kinds(events) == [
        ("key_press", CONTROL_L),
        ("key_press", SHIFT_L),
        ("key_release", SHIFT_L),
        ("key_release", CONTROL_L),
    ]
    held = (events[2]["time"] - events[1]["time"]) / 1000  # X server milliseconds
    assert abs(held - duration) <= 0.3, f"held {held:.3f} s instead of {duration} s"
    assert events[2]["state"] & SHIFT_MASK and events[2]["state"] & CONTROL_MASK
    assert elapsed >= duration


async def check_type(case: Case, _: str) -> None:
    """Type into a real xterm running `cat > FILE`, end the line and send EOF with ctrl+d."""
    await case.recorders.stop()  # the xterm needs the screen and the keyboard focus
    desk, token = case.desk, secrets.token_hex(4)
    title, out = f"deskhand-type-{token}", desk.home / f"typed-{token}.txt"
    log = desk.home / f"xterm-{token}.log"
    xterm = ["xterm", "-u8", "-T", title, "-geometry", "60x8+200+150"]
    xterm += ["-e", "sh", "-c", f"cat > {out.name}"]
    # The shell only keeps xterm's complaints (if any) for the failure message.
    argv = ["sh", "-c", f'export LANG=C.UTF-8 LC_ALL=C.UTF-8; exec "$@" 2>{log.name}', "sh", *xterm]
    pid = await desk.computer.launch(argv)
    try:
        found = await desk.computer.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", title], timeout=30
        )
        if found.returncode != 0:
            said = log.read_text(errors="replace") if log.exists() else "(no log)"
            raise AssertionError(f"no xterm window: {found}; xterm said: {said}")
        window = found.stdout.split()[0]
        shape = await desk.computer.run(["xdotool", "getwindowgeometry", "--shell", window])
        geometry = dict(line.split("=", 1) for line in shape.stdout.split())
        centre = (
            int(geometry["X"]) + int(geometry["WIDTH"]) // 2,
            int(geometry["Y"]) + int(geometry["HEIGHT"]) // 2,
        )
        await wait_until(out.exists, "cat to create its file")
        if case.pointer_only_clicks:
            await case.run("mouse_move", coordinate=list(model(centre)))
            await case.run("left_click")
        else:
            await case.run("left_click", coordinate=list(model(centre)))
        await case.run("type", text=TYPED)
        await case.run("key", text="Return")
        try:
            await wait_until(
                lambda: out.read_text(encoding="utf-8") == TYPED + "\n",
                lambda: f"the line; the file holds {out.read_text(encoding='utf-8')!r}",
            )
        except AssertionError as lost:
            raise AssertionError(f"{lost}\n{await input_state(desk, title)}") from None
        await case.run("key", text="ctrl+d")
        # EOF ends cat, so the xterm closes: ctrl+d arrived as a control character.
        gone = await desk.computer.run(["xdotool", "search", "--name", title], timeout=10)
        deadline = time.monotonic() + 5
        while gone.returncode == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            gone = await desk.computer.run(["xdotool", "search", "--name", title], timeout=10)
        assert gone.returncode != 0, "the xterm did not close after ctrl+d"
    finally:
        await desk.computer.run(["kill", str(pid)])
    assert out.read_text(encoding="utf-8") == TYPED + "\n"


async def input_state(desk: Desktop, title: str) -> str:
    """Where keys would go now, for a failure message: focus, pointer, windows, processes."""
    script = (
        "echo focus: $(xdotool getwindowfocus) $(xdotool getwindowfocus getwindowname);"
        "echo pointer: $(xdotool getmouselocation);"
        f"echo windows named {title}: $(xdotool search --name {title});"
        "echo visible: $(xdotool search --onlyvisible --name .);"
        "ps -eo pid,ppid,stat,etimes,args | grep -E 'xterm|cat|openbox' | grep -v grep"
    )
    found = await desk.computer.run(["sh", "-c", script], timeout=10)
    warnings = [line for line in desk.log_path.read_text().splitlines() if "WARNING" in line]
    return "\n".join([found.stdout + found.stderr, "guest warnings:", *warnings[-5:]])


async def wait_until(
    check: Callable[[], bool], what: str | Callable[[], str], timeout: float = 5.0
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what if isinstance(what, str) else what()}"
            )
        await asyncio.sleep(0.02)


async def check_scroll(case: Case, _: str) -> None:
    rec = await case.recorder()
    scrolls: list[tuple[str, int, str | None, tuple[int, int] | None]] = [
        ("up", 2, None, (200, 150)),
        ("down", 3, "shift", (900, 500)),
        ("left", 1, None, (60, 700)),
        ("right", 4, "ctrl", (1400, 50)),
        ("down", 2, None, None),  # no coordinate: where the pointer is (1400, 50)
    ]
    for direction, amount, text, point in scrolls:
        params: dict[str, Any] = {"scroll_direction": direction, "scroll_amount": amount}
        if point is not None:
            params["coordinate"] = list(point)
        if text is not None:
            params["text"] = text
        mark = rec.mark()
        await case.run("scroll", **params)
        count = 2 * amount + (2 if text else 0)
        events = await settled_inputs(rec, count, *BUTTONS, *KEY_EVENTS, since=mark)
        wheel = [("button_press", WHEEL[direction]), ("button_release", WHEEL[direction])]
        if text is None:
            assert kinds(events) == wheel * amount
            assert all(e["state"] & (SHIFT_MASK | CONTROL_MASK) == 0 for e in events)
        else:
            keysym, mask = MODIFIERS[text]
            assert kinds(events) == [
                ("key_press", keysym),
                *wheel * amount,
                ("key_release", keysym),
            ]
            assert all(e["state"] & mask for e in events[1:])
        assert all(root(e) == screen(point or (1400, 50)) for e in events)


async def check_drag(case: Case, _: str) -> None:
    rec = await case.recorder()
    start, end = (150, 120), (610, 420)
    if case.pointer_only_clicks:  # drags from wherever the pointer is
        await case.run("mouse_move", coordinate=list(start))
        mark = rec.mark()
        await case.run("left_click_drag", coordinate=list(end))
        error = await case.refused("left_click_drag", start_coordinate=[1, 1], coordinate=[9, 9])
        assert "start_coordinate is not accepted" in error and "mouse_move" in error
    else:
        mark = rec.mark()
        await case.run("left_click_drag", start_coordinate=list(start), coordinate=list(end))
    events = await settled_inputs(rec, 2, *BUTTONS, since=mark)
    pointer = rec.records("motion", *BUTTONS, since=mark)
    assert kinds(events) == [("button_press", 1), ("button_release", 1)]
    press, release = events
    assert root(press) == screen(start) and root(release) == screen(end)
    during = pointer[pointer.index(press) + 1 : pointer.index(release)]
    assert len(during) >= 2 and all(m["type"] == "motion" for m in during)
    assert all(m["state"] & BUTTON1_MASK for m in during), "motion with the button held"
    assert root(during[-1]) == screen(end)
    xs = [root(m)[0] for m in during]
    assert xs == sorted(xs), "the drag moves steadily towards its end"
    if not case.pointer_only_clicks:
        mark = rec.mark()
        await case.run(
            "left_click_drag", start_coordinate=[700, 300], coordinate=[40, 30], text="shift"
        )
        events = await settled_inputs(rec, 4, *BUTTONS, *KEY_EVENTS, since=mark)
        assert kinds(events) == [
            ("key_press", SHIFT_L),
            ("button_press", 1),
            ("button_release", 1),
            ("key_release", SHIFT_L),
        ]
        assert root(events[1]) == screen((700, 300)) and root(events[2]) == screen((40, 30))
        assert events[1]["state"] & SHIFT_MASK


async def check_wait(case: Case, _: str) -> None:
    rec = await case.recorder()
    mark = rec.mark()
    start = time.monotonic()
    result = await case.run("wait", duration=1)
    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 5.0
    assert decode(result).shape[:2] == (MODEL_H, MODEL_W)
    assert await rec.settled(*INPUT_EVENTS, since=mark) == [], "wait must not touch the input"


async def check_screenshot(case: Case, _: str) -> None:
    await case.recorder()
    result = await case.run("screenshot")
    assert result.image is not None and result.image.media_type == "image/png"
    assert (result.image.width, result.image.height) == (MODEL_W, MODEL_H)
    image = decode(result)
    # The live screen, scaled: the full-screen recorder's background, and the native frame.
    assert tuple(np.median(image.reshape(-1, 3), axis=0)) == BACKGROUND_BGR
    frame = await case.desk.computer.screenshot()
    native = cv2.resize(frame.pixels[..., :3], (MODEL_W, MODEL_H), interpolation=cv2.INTER_AREA)
    assert np.abs(image.astype(np.int16) - native.astype(np.int16)).mean() < 1.0


async def check_cursor_position(case: Case, _: str) -> None:
    for point in ((0, 0), (MODEL_W - 1, MODEL_H - 1), (345, 678)):
        await case.run("mouse_move", coordinate=list(point))
        result = await case.run("cursor_position")
        assert result.output == f"X={point[0]},Y={point[1]}" and result.image is None
    # Moved by someone else (xdotool inside the sandbox): still reported in model space.
    for pixel in ((1000, 500), (WIDTH - 1, 0), (1, HEIGHT - 1)):
        moved = await case.desk.computer.run(["xdotool", "mousemove", *map(str, pixel)])
        assert moved.returncode == 0, moved.stderr
        result = await case.run("cursor_position")
        x, y = model(pixel)
        assert result.output == f"X={x},Y={y}"


async def check_zoom(case: Case, _: str) -> None:
    """Zoom into a 100x60 region around a square the recorder painted: native detail, bigger."""
    rec = await case.recorder()
    await case.run("mouse_move", coordinate=[MODEL_W - 1, MODEL_H // 2])  # keep the cursor out
    mark = rec.mark()
    await case.run("key", text="z")
    paint = await rec.wait_count(1, "paint", since=mark)
    rows = (HEIGHT - SQUARE) // SQUARE_STEP
    left, top = SQUARE, SQUARE + SQUARE_STEP * (paint[0]["press"] % rows)  # on the screen
    centre_y = model((left, top))[1]
    y0 = min(max(centre_y - 30, 0), MODEL_H - 60)
    region = [0, y0, 100, y0 + 60]
    result = await case.run("zoom", region=region)
    zoomed = decode(result)
    # The screen box holding every screen pixel of the region's model pixels.
    box_x0, box_y0 = 0, y0 * HEIGHT // MODEL_H
    box_x1, box_y1 = -(-100 * WIDTH // MODEL_W), -(-(y0 + 60) * HEIGHT // MODEL_H)
    box_w, box_h = box_x1 - box_x0, box_y1 - box_y0
    height, width = zoomed.shape[:2]
    assert width >= 10 * 100 and height >= 10 * 60, "a zoom is far bigger than its region"
    assert (width, height) == max_image_size(box_w, box_h), "as big as the API takes"
    scale_x, scale_y = width / box_w, height / box_h
    # Same content as the native-resolution crop.
    frame = await case.desk.computer.screenshot()
    crop = frame.pixels[box_y0:box_y1, box_x0:box_x1, :3]
    back = cv2.resize(zoomed, (box_w, box_h), interpolation=cv2.INTER_AREA)
    difference = np.abs(back.astype(np.int16) - crop.astype(np.int16))
    assert difference.mean() < 4.0
    # A zoom blown up from the model-size screenshot blurs the squares' edges (off by > 130).
    assert difference.max() < 80, "the zoom does not have native-resolution detail"
    # The square is where it is on the screen, with native-sharp edges (within 1 screen pixel
    # of zoom; the model-space screenshot is off by up to 1.3 screen pixels).
    expected = (
        (left - box_x0) * scale_x,
        (top - box_y0) * scale_y,
        (left + SQUARE - box_x0) * scale_x,
        (top + SQUARE - box_y0) * scale_y,
    )
    # Earlier presses painted squares too (12 px apart): take the dark blob nearest ours.
    dark = (zoomed.max(axis=2) < 100).astype(np.uint8)
    count, _, stats, centres = cv2.connectedComponentsWithStats(dark)
    assert count > 1, "the painted square is not in the zoom"
    want = np.array([(expected[0] + expected[2]) / 2, (expected[1] + expected[3]) / 2])
    nearest = 1 + int(np.argmin(np.linalg.norm(centres[1:] - want, axis=1)))
    x, y, w, h = (int(v) for v in stats[nearest, :4])
    found = (x, y, x + w, y + h)
    assert all(abs(f - e) <= 3 for f, e in zip(found, expected, strict=True)), (found, expected)


Check = Callable[[Case, str], Awaitable[None]]
CHECKS: dict[str, Check] = {
    "mouse_move": check_mouse_move,
    **dict.fromkeys(CLICKS, check_click),
    "left_mouse_down": check_manual_drag,
    "left_mouse_up": check_manual_drag,
    "left_click_drag": check_drag,
    "key": check_key,
    "hold_key": check_hold_key,
    "scroll": check_scroll,
    "wait": check_wait,
    "screenshot": check_screenshot,
    "cursor_position": check_cursor_position,
    "zoom": check_zoom,
    "type": check_type,  # last: it takes the recorder down for an xterm
}
# Grouped by action, so the xterm cases run together and the recorder restarts once.
CASES = [
    pytest.param(api_type, action, id=f"{api_type}-{action}")
    for action in CHECKS
    for api_type, spec in SPECS.items()
    if action in spec.actions
]


# --- the contract ------------------------------------------------------------------------------


def test_every_sdk_member_is_handled_and_checked() -> None:
    """Fails as soon as the SDK grows a member we do not dispatch, specify or check here."""
    sdk_members = set(BETA_COMPUTER_MEMBER_NAME_VALUES)
    assert set(SDK_INPUTS) == sdk_members
    assert set(SPECS[TOOLSET].actions) == sdk_members
    assert set(_ACTIONS) == sdk_members
    every_action = {action for spec in SPECS.values() for action in spec.actions}
    assert set(CHECKS) == every_action
    assert len(CASES) == sum(len(spec.actions) for spec in SPECS.values())


@pytest.mark.parametrize("api_type", list(SPECS))
async def test_actions_of_other_versions_are_refused(
    api_type: str, desk: Desktop, tools: dict[str, ComputerTool], recorders: RecorderHost
) -> None:
    tool = tools[api_type]
    case = Case(desk, tool, recorders)
    for action in set(CHECKS) - set(tool.spec.actions):
        error = await case.refused(action)
        assert f"not available in {api_type}" in error


@pytest.mark.parametrize(("api_type", "action"), CASES)
async def test_action_has_its_real_effect(
    api_type: str,
    action: str,
    desk: Desktop,
    tools: dict[str, ComputerTool],
    recorders: RecorderHost,
) -> None:
    tool = tools[api_type]
    case = Case(desk, tool, recorders)
    await CHECKS[action](case, action)
    assert case.results, "the check ran no action"
    for result in case.results:
        block = to_tool_result_block("toolu_01", result, toolset_name=tool.toolset_name)
        assert "is_error" not in block
        if case.toolset:
            assert block["toolset_name"] == "computer"
        else:
            assert "toolset_name" not in block
