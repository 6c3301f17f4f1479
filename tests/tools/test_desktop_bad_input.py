"""Bad tool input against a real desktop: refused with a useful message, never raised, harmless.

A 1280x800 sandboxed desktop with the event recorder full-screen (so stray valid clicks and keys
land in it, not on the panel's launchers). A battery of malformed, out-of-range, hostile and
wrong-version inputs must each come back as an error `ToolResult` naming what to fix, inject no
input at all, and leave the desktop working. A Hypothesis fuzzer then throws schema-shaped
inputs with random values, extra keys and random action names at every version.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from recorder import INPUT_EVENTS, SandboxRecorder, running_recorder

from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.computer import ComputerTool
from deskhand.tools.inputs import ACTION_MODELS
from deskhand.tools.results import ToolResult
from deskhand.tools.specs import SPECS

pytestmark = pytest.mark.desktop

WIDTH, HEIGHT = 1280, 800
D24, D25, D2511, TOOLSET = (
    "computer_20241022",
    "computer_20250124",
    "computer_20251124",
    "computer_toolset_20260801",
)
NO_ZOOM = "toolset-without-zoom"
PWNED = "/tmp/pwned"
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Bad:
    """One bad tool_use: (tool, name, input) and words its error message must contain."""

    id: str
    tool: str
    name: str
    input: object
    words: tuple[str, ...]


def dated(id: str, action: str, params: dict[Any, Any], *words: str, tool: str = D25) -> Bad:
    return Bad(id, tool, "computer", {"action": action, **params}, words)


def member(id: str, name: str, params: object, *words: str, tool: str = TOOLSET) -> Bad:
    return Bad(id, tool, name, params, words)


SHELL_KEYS = ["ctrl+$(touch /tmp/pwned)", "`reboot`", "Return; touch /tmp/pwned", "a|sh", "$HOME"]

BATTERY = [
    # Tool, action and input shape.
    Bad(
        "missing-action",
        D25,
        "computer",
        {},
        ("missing 'action'", "valid actions", "left_mouse_up"),
    ),
    Bad("action-not-string", D25, "computer", {"action": 7}, ("'action' must be a", "got 7")),
    Bad("action-null", D25, "computer", {"action": None}, ("'action' must be a", "null")),
    dated("unknown-action", "click_left", {}, "unknown action", "click_left", "left_click"),
    member("unknown-member", "click_left", {}, "unknown action", "click_left", "valid actions"),
    member("toolset-called-computer", "computer", {"action": "screenshot"}, "unknown action"),
    Bad("wrong-tool-name", D25, "browser", {"action": "screenshot"}, ("unknown tool", "computer")),
    Bad("input-string", D25, "computer", "screenshot", ("must be a json object",)),
    Bad("input-list", D25, "computer", ["screenshot"], ("must be a json object",)),
    Bad("input-null", TOOLSET, "screenshot", None, ("must be a json object", "null")),
    dated("param-name-not-string", "screenshot", {1: 2}, "parameter names must be strings"),
    dated("extra-param", "screenshot", {"coordinate": [1, 2]}, "not a parameter", "no parameters"),
    dated("unknown-param", "left_click", {"button": "left"}, "not a parameter", "coordinate, text"),
    dated(
        "many-problems",
        "mouse_move",
        {"coordinate": "x", "a": 1, "b": 2, "c": 3},
        "coordinate must be",
        "more problems",
    ),
    # Coordinates.
    dated("coordinate-missing", "mouse_move", {}, "coordinate is required", "[x, y]"),
    dated("coordinate-null", "mouse_move", {"coordinate": None}, "coordinate is required"),
    dated("negative", "mouse_move", {"coordinate": [-1, 5]}, "non-negative", "-1"),
    dated("negative-y", "left_click", {"coordinate": [5, -30]}, "non-negative", "-30"),
    dated("x-out-of-range", "mouse_move", {"coordinate": [1280, 10]}, "outside", "0..1279"),
    dated("y-out-of-range", "left_click", {"coordinate": [10, 800]}, "outside", "0..799"),
    dated("huge", "mouse_move", {"coordinate": [10**12, 0]}, "coordinate", "99999"),
    dated("bigint", "mouse_move", {"coordinate": [10**400, 0]}, "coordinate", "bits"),
    dated("float", "mouse_move", {"coordinate": [10.5, 20]}, "integer", "10.5"),
    dated("integral-float", "left_click", {"coordinate": [10.0, 20.0]}, "integer"),
    dated("nan", "mouse_move", {"coordinate": [math.nan, 1]}, "integer", "nan"),
    dated("one-number", "mouse_move", {"coordinate": [10]}, "two", "[10]"),
    dated("three-numbers", "mouse_move", {"coordinate": [1, 2, 3]}, "two", "[1, 2, 3]"),
    dated("strings", "mouse_move", {"coordinate": ["10", "20"]}, "integer", '"10"'),
    dated("string", "mouse_move", {"coordinate": "10,20"}, "list", '"10,20"'),
    dated("object", "mouse_move", {"coordinate": {"x": 1, "y": 2}}, "list"),
    dated("booleans", "mouse_move", {"coordinate": [True, False]}, "integer"),
    dated("nested", "mouse_move", {"coordinate": [[1, 2], [3, 4]]}, "integer"),
    member("member-out-of-range", "left_click", {"coordinate": [5000, 5]}, "outside", "0..1279"),
    # Keys: hostile, unknown and malformed names.
    *(dated(f"shell-{i}", "key", {"text": key}, "unknown key") for i, key in enumerate(SHELL_KEYS)),
    member("shell-hold", "hold_key", {"text": "`reboot`", "duration": 1}, "unknown key"),
    dated("shell-modifier", "left_click", {"text": "$(reboot)"}, "unknown key", "$(reboot)"),
    dated("unknown-key", "key", {"text": "ctrl+notakey"}, "unknown key name", "notakey"),
    dated("typo", "key", {"text": "Retrun"}, "did you mean", "'Return'"),
    dated("sequence", "key", {"text": "ctrl+a ctrl+c"}, "one key or combination per action"),
    dated("empty-key", "key", {"text": ""}, "empty key name"),
    dated("blank-key", "key", {"text": "   "}, "empty key name"),
    dated("malformed", "key", {"text": "ctrl++a"}, "malformed", "plus"),
    dated("nul-key", "key", {"text": "\x00"}, "unknown key", "u+0000"),
    dated("long-key", "key", {"text": "a" * 500}, "text must be", "200"),
    dated("key-not-string", "key", {"text": 5}, "text must be", "got 5"),
    dated("key-missing", "key", {}, "text is required"),
    # Typed text.
    dated("type-nul", "type", {"text": "abc\x00def"}, "control character u+0000", "index 3"),
    dated("type-escape", "type", {"text": "\x1b[31mred"}, "control character u+001b"),
    dated("type-bell", "type", {"text": "ding\x07"}, "control character u+0007"),
    dated("type-delete", "type", {"text": "\x7f"}, "control character u+007f"),
    dated("type-c1", "type", {"text": "a\x85b"}, "control character u+0085"),
    dated("type-1mb", "type", {"text": "x" * 1_000_000}, "100000", "1000000 characters"),
    dated("type-empty", "type", {"text": ""}, "1 to 100000"),
    dated("type-surrogate", "type", {"text": "\ud800"}, "text must be", "unicode"),
    dated("type-number", "type", {"text": 42}, "text must be", "got 42"),
    # Durations, amounts and repeats.
    dated(
        "hold-negative", "hold_key", {"text": "shift", "duration": -1}, "duration", "more than 0"
    ),
    dated("hold-zero", "hold_key", {"text": "shift", "duration": 0}, "duration", "more than 0"),
    dated("hold-absurd", "hold_key", {"text": "shift", "duration": 1e9}, "duration", "at most 100"),
    dated("hold-inf", "hold_key", {"text": "shift", "duration": math.inf}, "duration", "finite"),
    dated("hold-string", "hold_key", {"text": "shift", "duration": "5"}, "duration", '"5"'),
    dated("hold-missing", "hold_key", {"text": "shift"}, "duration is required"),
    member("hold-fraction", "hold_key", {"text": "shift", "duration": 1.5}, "whole number"),
    member("hold-bigint", "hold_key", {"text": "shift", "duration": 10**400}, "duration", "bits"),
    dated("wait-absurd", "wait", {"duration": 10**6}, "duration", "0 to 100"),
    dated("wait-negative", "wait", {"duration": -5}, "duration", "0 to 100"),
    dated("wait-nan", "wait", {"duration": math.nan}, "duration", "finite"),
    dated("wait-bool", "wait", {"duration": True}, "duration", "true"),
    member("wait-fraction", "wait", {"duration": 0.5}, "whole number"),
    dated(
        "scroll-huge",
        "scroll",
        {"scroll_direction": "up", "scroll_amount": 10**6},
        "scroll_amount",
        "0 to 100",
    ),
    dated(
        "scroll-negative",
        "scroll",
        {"scroll_direction": "up", "scroll_amount": -3},
        "scroll_amount",
        "0 to 100",
    ),
    dated(
        "scroll-float",
        "scroll",
        {"scroll_direction": "up", "scroll_amount": 2.5},
        "scroll_amount",
        "integer",
    ),
    dated(
        "scroll-string",
        "scroll",
        {"scroll_direction": "down", "scroll_amount": "3"},
        "scroll_amount",
        '"3"',
    ),
    dated(
        "scroll-diagonal",
        "scroll",
        {"scroll_direction": "diagonal", "scroll_amount": 1},
        "scroll_direction",
        "'up'",
    ),
    dated("scroll-no-direction", "scroll", {"scroll_amount": 1}, "scroll_direction is required"),
    member("repeat-zero", "key", {"text": "a", "repeat": 0}, "repeat", "1 to 100"),
    member("repeat-huge", "key", {"text": "a", "repeat": 101}, "repeat", "1 to 100"),
    member("repeat-float", "key", {"text": "a", "repeat": 2.0}, "repeat", "integer"),
    member("repeat-string", "key", {"text": "a", "repeat": "3"}, "repeat", '"3"'),
    # Parameters and actions of another version.
    dated("repeat-dated", "key", {"text": "a", "repeat": 2}, "repeat is not accepted"),
    dated(
        "start-coordinate-2024",
        "left_click_drag",
        {"start_coordinate": [1, 1], "coordinate": [50, 50]},
        "start_coordinate is not accepted",
        "mouse_move",
        tool=D24,
    ),
    dated(
        "click-coordinate-2024",
        "left_click",
        {"coordinate": [5, 5]},
        "coordinate is not accepted",
        "mouse_move",
        tool=D24,
    ),
    dated("modifier-2024", "right_click", {"text": "shift"}, "text is not accepted", tool=D24),
    dated("scroll-2024", "scroll", {"scroll_direction": "up"}, "not available", D24, tool=D24),
    dated("hold-2024", "hold_key", {"text": "a", "duration": 1}, "not available", tool=D24),
    dated("zoom-2025", "zoom", {"region": [0, 0, 10, 10]}, "not available", D25),
    dated(
        "drag-no-start", "left_click_drag", {"coordinate": [5, 5]}, "start_coordinate is required"
    ),
    # Zoom regions.
    dated("zoom-reversed", "zoom", {"region": [100, 100, 50, 50]}, "reversed", tool=D2511),
    dated("zoom-empty", "zoom", {"region": [10, 10, 10, 20]}, "empty", tool=D2511),
    dated("zoom-outside", "zoom", {"region": [0, 0, 2000, 100]}, "not inside", tool=D2511),
    dated("zoom-three", "zoom", {"region": [0, 0, 10]}, "four", tool=D2511),
    member("zoom-disabled", "zoom", {"region": [0, 0, 10, 10]}, "disabled", tool=NO_ZOOM),
    # Within every per-parameter limit, but far too many keystrokes for one action.
    member(
        "key-flood", "key", {"text": "+".join("a" * 100), "repeat": 100}, "repeat", "at most 50"
    ),
]


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desktop]:
    async with await Desktop.start(DesktopOptions(width=WIDTH, height=HEIGHT)) as desk:
        yield desk


@pytest.fixture(scope="module")
async def rec(desk: Desktop) -> AsyncIterator[SandboxRecorder]:
    async with running_recorder(desk, "--fullscreen") as recorder:
        yield recorder


@pytest.fixture(scope="module")
async def tools(desk: Desktop) -> dict[str, ComputerTool]:
    tools = {api_type: await ComputerTool.create(desk.computer, api_type) for api_type in SPECS}
    tools[NO_ZOOM] = await ComputerTool.create(desk.computer, TOOLSET, zoom=False)
    return tools


def check_refused(result: ToolResult, words: tuple[str, ...]) -> None:
    assert isinstance(result, ToolResult)
    assert result.error is not None, f"accepted: {result}"
    assert result.output is None and result.image is None, "bad input must not act"
    assert len(result.error) <= MAX_ERROR_CHARS, f"{len(result.error)} characters of error"
    message = result.error.lower()
    missing = [word for word in words if word.lower() not in message]
    assert not missing, f"{missing} not in: {result.error}"


@pytest.mark.parametrize("bad", BATTERY, ids=[bad.id for bad in BATTERY])
async def test_bad_input_is_refused_with_a_helpful_message(
    bad: Bad, tools: dict[str, ComputerTool]
) -> None:
    check_refused(await tools[bad.tool].run(bad.name, bad.input), bad.words)


async def test_bad_inputs_reach_nothing_and_the_desktop_still_works(
    desk: Desktop, rec: SandboxRecorder, tools: dict[str, ComputerTool]
) -> None:
    mark = rec.mark()
    for bad in BATTERY:
        check_refused(await tools[bad.tool].run(bad.name, bad.input), bad.words)
    assert await rec.settled(*INPUT_EVENTS, since=mark) == [], "a refused input was injected"
    await check_healthy(desk, rec, tools[D25])


async def check_healthy(desk: Desktop, rec: SandboxRecorder, tool: ComputerTool) -> None:
    """Screenshots work, a click lands where it should with nothing held, nothing hit a shell."""
    assert (await desk.computer.health())["ok"]
    screenshot = await tool.run("computer", {"action": "screenshot"})
    assert screenshot.error is None and screenshot.image is not None
    assert (screenshot.image.width, screenshot.image.height) == (WIDTH, HEIGHT)
    mark = rec.mark()
    click = await tool.run("computer", {"action": "left_click", "coordinate": [640, 400]})
    assert click.error is None and click.image is not None
    events = await rec.wait_count(2, "button_press", "button_release", since=mark)
    assert [(e["type"], e["button"], e["x_root"], e["y_root"]) for e in events[:2]] == [
        ("button_press", 1, 640, 400),
        ("button_release", 1, 640, 400),
    ]
    assert events[0]["state"] == 0, "a key or button is still held down"
    pwned = await desk.computer.run(["test", "-e", PWNED])
    assert pwned.returncode == 1, "something reached a shell inside the sandbox"
    assert not Path(desk.home, "pwned").exists()


# --- fuzzing -----------------------------------------------------------------------------------

SAFE_KEYS = ["a", "Z", "7", "Return", "Tab", "space", "shift", "ctrl", "ctrl+a", "shift+Tab"]
SAFE_KEYS += ["Escape", "F5", "BackSpace", "Left", "ctrl+shift", "plus", "KP_Enter", "End"]
ALL_ACTIONS = sorted(ACTION_MODELS)
FIELDS = sorted({name for model in ACTION_MODELS.values() for name in model.model_fields})
LONG_SECONDS = 0.25  # valid durations stay below this, so the fuzzer stays fast
VALID_SHARE = 0.8


def _slow(value: object) -> bool:
    """A number that would be a valid but slow duration (wait or hold that long)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and LONG_SECONDS < value <= 100  # type: ignore[operator]


junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([10**400, -(2**63), 1e308, "", "\x00", "\ud800"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
).filter(lambda value: not _slow(value))


@st.composite
def valid_regions(draw: st.DrawFn) -> list[int]:
    x0, x1 = sorted(draw(st.lists(st.integers(0, WIDTH), min_size=2, max_size=2, unique=True)))
    y0, y1 = sorted(draw(st.lists(st.integers(0, HEIGHT), min_size=2, max_size=2, unique=True)))
    return [x0, y0, x1, y1]


def valid_values(field: str, action: str) -> st.SearchStrategy[Any]:
    """Values the schema accepts (durations kept short)."""
    point = st.tuples(st.integers(0, WIDTH - 1), st.integers(0, HEIGHT - 1)).map(list)
    printable = st.characters(blacklist_categories=("Cc", "Cs"))
    typed = st.text(printable, min_size=1, max_size=16) | st.sampled_from(["Hi!", "éü€ 日本"])
    return {
        "coordinate": point,
        "start_coordinate": point,
        "region": valid_regions(),
        "text": typed if action == "type" else st.sampled_from(SAFE_KEYS),
        "duration": st.floats(0.01, LONG_SECONDS) | st.just(0),  # whole seconds: only 0
        "repeat": st.integers(1, 3),
        "scroll_amount": st.integers(0, 4),
        "scroll_direction": st.sampled_from(["up", "down", "left", "right"]),
    }[field]


def invalid_values(field: str, action: str) -> st.SearchStrategy[Any]:
    """Values of the right kind but out of range or malformed, or of another type."""
    points = st.lists(st.integers(-3, WIDTH + 3), max_size=3) | st.lists(st.floats(), max_size=2)
    seconds = st.floats().filter(lambda value: not _slow(value)) | st.integers(-5, 0)
    keys = st.text(max_size=8) | st.sampled_from(SHELL_KEYS)
    return (
        junk
        | {
            "coordinate": points,
            "start_coordinate": points,
            "region": st.lists(st.integers(-10, 3000), max_size=5),
            "text": st.text(max_size=16) if action == "type" else keys,
            "duration": seconds | st.integers(101),
            "repeat": st.integers(),
            "scroll_amount": st.integers(),
            "scroll_direction": st.text(max_size=6),
        }[field]
    )


def chance(draw: st.DrawFn, probability: float) -> bool:
    return draw(st.integers(0, 99)) < probability * 100


@st.composite
def tool_calls(draw: st.DrawFn, action: str | None) -> tuple[str, str, object]:
    """(tool, tool_use name, input) for `action` (None: any name, known or not).

    Mostly schema-shaped with mostly valid values; sometimes out of range, the wrong type, a
    parameter of another action, an unknown parameter, another tool name, or no object at all.
    """
    offering = [tool for tool in SPECS if action in SPECS[tool].actions]
    if offering and chance(draw, VALID_SHARE):
        tool = draw(st.sampled_from(offering))
    else:
        tool = draw(st.sampled_from([*SPECS, NO_ZOOM]))
    spec = SPECS[TOOLSET if tool == NO_ZOOM else tool]
    if action is None:
        action = draw(st.sampled_from(ALL_ACTIONS) | st.text(max_size=10))
    params: dict[str, Any] = {}
    model = ACTION_MODELS.get(action)
    for field, info in model.model_fields.items() if model else ():
        if chance(draw, 0.95 if info.is_required() else 0.5):
            valid = chance(draw, VALID_SHARE)
            maker = valid_values if valid else invalid_values
            params[field] = draw(maker(field, action))
    if chance(draw, 0.1):  # a parameter of another action
        other = draw(st.sampled_from(FIELDS))
        params[other] = draw(valid_values(other, action) | invalid_values(other, action))
    if chance(draw, 0.05):  # an unknown parameter
        key = draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in FIELDS))
        params[key] = draw(junk)
    if chance(draw, 0.03):  # not an object at all
        return tool, draw(st.sampled_from(["computer", action])), draw(junk)
    if spec.kind == "toolset":
        name = action if chance(draw, 0.95) else draw(st.sampled_from(["computer", ""]))
        return tool, name, params
    name = "computer" if chance(draw, 0.95) else draw(st.text(max_size=8))
    shown: object = action if chance(draw, 0.95) else draw(junk)
    return tool, name, {"action": shown, **params}


# One Hypothesis run per action (and one for any name), so that every action gets fuzzed:
# Hypothesis does not spread 150 examples evenly over 17 choices.
BUCKETS: list[str | None] = [*ALL_ACTIONS, None]
EXAMPLES_PER_BUCKET = 9  # about 160 examples in all


@pytest.mark.parametrize("action", BUCKETS, ids=[action or "any-name" for action in BUCKETS])
@settings(
    max_examples=EXAMPLES_PER_BUCKET,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_fuzzed_inputs_return_results_and_never_raise(
    action: str | None,
    data: st.DataObject,
    desk: Desktop,
    rec: SandboxRecorder,
    tools: dict[str, ComputerTool],
) -> None:
    tool, name, tool_input = data.draw(tool_calls(action), label="call")
    result = await tools[tool].run(name, tool_input)
    assert isinstance(result, ToolResult)
    event("refused" if result.error else "acted")
    if result.error is not None:
        assert result.error.strip() and len(result.error) <= MAX_ERROR_CHARS
        assert result.image is None and result.output is None
        assert not re.search(r"Traceback|Exception|object at 0x", result.error), result.error
    else:
        assert result.image is not None or result.output is not None
    assert (await desk.computer.health())["ok"]


async def test_desktop_is_healthy_after_fuzzing(
    desk: Desktop, rec: SandboxRecorder, tools: dict[str, ComputerTool]
) -> None:
    # The fuzzer may have left the left button down, which is a state the model can create.
    released = await tools[TOOLSET].run("left_mouse_up", {})
    assert released.error is None
    await check_healthy(desk, rec, tools[D25])
