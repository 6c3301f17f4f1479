"""The action types the benchmark times, as tool inputs, and the tool's way of doing a step.

Each `ActionPlan` gives the `computer` tool input of step i. Consecutive steps alternate between
two targets so that every step changes something, and so that the reference's
`xdotool mousemove --sync` never targets the pointer's current position (it stalls for 15 s
there). The same inputs drive both ways of doing a step (`tool_step` here, `reference.py`).
Coordinates are in the model's screenshot space, like a model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskhand.bench.scene import Box, Point, Scene
from deskhand.bench.steps import Step
from deskhand.tools.computer import ComputerTool, StepTiming
from deskhand.tools.scaling import ScreenGeometry

ToolInput = dict[str, Any]
TYPED_TEXT = "hello "  # short text, as an agent types into a field
SCROLL_CLICKS = 3


class StepFailed(RuntimeError):
    """A benchmark step came back with an error: its timing would mean nothing."""


@dataclass(frozen=True)
class ActionPlan:
    """One action type: the input of step i, and unmeasured inputs around its block of steps."""

    name: str
    step_input: Callable[[int], ToolInput]
    setup: tuple[ToolInput, ...] = ()
    teardown: tuple[ToolInput, ...] = ()
    in_reference: bool = True  # the reference demo has no zoom


def action_plans(scene: Scene, geometry: ScreenGeometry) -> list[ActionPlan]:
    """Screenshot, click, key, type, scroll, move, drag and zoom, mostly on terminal A.

    Clicks alternate between the two terminals: each click moves the focus, so openbox redraws
    both title bars and xterm both cursors, a small real change like most clicks cause.
    """
    a, b = scene.terminals

    def model(point: Point) -> list[int]:
        return list(geometry.to_model(*point))

    focus_a = _click(model(a.at(0.5, 0.5)))
    fill_a = (focus_a, {"action": "type", "text": "seq 1 300"}, _key("Return"))
    drags = ((a.at(0.05, 0.15), a.at(0.7, 0.35)), (a.at(0.1, 0.45), a.at(0.6, 0.75)))
    return [
        ActionPlan("screenshot", lambda i: {"action": "screenshot"}),
        ActionPlan("left_click", lambda i: _click(model((a, b)[i % 2].at(0.5, 0.5)))),
        ActionPlan("key", lambda i: _key("Return"), setup=(focus_a,)),
        ActionPlan(
            "type",
            lambda i: {"action": "type", "text": TYPED_TEXT},
            setup=(focus_a,),
            teardown=(_key("ctrl+u"),),
        ),
        ActionPlan(
            "scroll",
            lambda i: {
                "action": "scroll",
                "coordinate": model(a.at(0.5, 0.4 + 0.2 * (i % 2))),
                "scroll_direction": ("up", "down")[i % 2],
                "scroll_amount": SCROLL_CLICKS,
            },
            setup=fill_a,
        ),
        ActionPlan(
            "mouse_move",
            lambda i: {"action": "mouse_move", "coordinate": model((a, b)[i % 2].at(0.3, 0.6))},
        ),
        ActionPlan(
            "left_click_drag",
            lambda i: {
                "action": "left_click_drag",
                "start_coordinate": model(drags[i % 2][0]),
                "coordinate": model(drags[i % 2][1]),
            },
            teardown=(focus_a,),  # a plain click clears the selection
        ),
        ActionPlan("zoom", lambda i: _zoom(geometry, a), in_reference=False),
    ]


def tool_step(tool: ComputerTool, plan: ActionPlan) -> Step:
    """Step i of `plan` done by deskhand's ComputerTool; the timing is the tool's own."""

    async def step(index: int) -> StepTiming:
        await run_input(tool, plan.step_input(index))
        return tool.last_timing

    return step


async def run_input(tool: ComputerTool, tool_input: ToolInput) -> None:
    """Run one tool input, failing loudly: a benchmark must not time error results."""
    result = await tool.run("computer", tool_input)
    if result.error:
        raise StepFailed(f"{tool_input} failed: {result.error}")


def _click(coordinate: list[int]) -> ToolInput:
    return {"action": "left_click", "coordinate": coordinate}


def _key(text: str) -> ToolInput:
    return {"action": "key", "text": text}


def _zoom(geometry: ScreenGeometry, box: Box) -> ToolInput:
    x0, y0 = geometry.to_model(box.x, box.y)
    x1, y1 = geometry.to_model(box.x + box.width - 1, box.y + box.height - 1)
    return {"action": "zoom", "region": [x0, y0, x1 + 1, y1 + 1]}  # x1, y1 exclusive
