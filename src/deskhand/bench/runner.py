"""One whole benchmark run: start a desktop, measure both ways, run the settle scenarios."""

from __future__ import annotations

from dataclasses import dataclass, field

from deskhand.bench import actions, settling
from deskhand.bench.reference import ReferenceWay
from deskhand.bench.results import JPEG_SCREENSHOT, BenchResults
from deskhand.bench.scene import Scene, build_scene, calm
from deskhand.bench.steps import Progress, Series, measure
from deskhand.computer import Computer
from deskhand.guest.events import Move
from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.computer import ComputerTool, ScreenshotSettings
from deskhand.tools.imaging import ImageFormat, parse_image_format

MAX_SETTLE_RUNS = 8


@dataclass(frozen=True)
class BenchConfig:
    """What to run. `reference_steps` and `settle_runs` default to values derived from `steps`."""

    desktop: DesktopOptions = field(default_factory=DesktopOptions)
    image_format: ImageFormat = "png"
    steps: int = 20
    reference_steps: int | None = None  # 0: skip the reference; default max(3, steps // 4)
    settle_runs: int | None = None  # default steps // 3, between 2 and 8
    final_wait_s: float = 1.5

    def __post_init__(self) -> None:
        parse_image_format(self.image_format)
        if self.steps < 1 or min(self.reference_steps or 0, self.settle_runs or 0) < 0:
            raise ValueError("step counts must be positive")

    @property
    def n_reference(self) -> int:
        # Each reference step costs about 2.3 s, so it gets fewer steps.
        return max(3, self.steps // 4) if self.reference_steps is None else self.reference_steps

    @property
    def n_settle(self) -> int:
        if self.settle_runs is None:
            return min(MAX_SETTLE_RUNS, max(2, self.steps // 3))
        return self.settle_runs


async def run_bench(config: BenchConfig, progress: Progress) -> BenchResults:
    """Start a desktop, measure every action type both ways, then the settle scenarios."""
    async with await Desktop.start(config.desktop) as desktop:
        scene = await build_scene(desktop)
        tool = await _tool(desktop.computer, ScreenshotSettings(format=config.image_format))
        plans = actions.action_plans(scene, tool.geometry)
        scenarios = settling.scenarios(scene, tool.geometry)
        reference = None
        if config.n_reference:
            files = scene.files_host, scene.files_guest
            reference = ReferenceWay(desktop.computer, desktop.display, tool.geometry, files)
        progress.set_total(_planned_steps(config, plans, reference is not None, len(scenarios)))
        results = BenchResults(tool.geometry.model_size, config.image_format, config.final_wait_s)
        for plan in plans:
            results.series += await _measure_plan(plan, tool, reference, scene, config, progress)
        screenshot = next(plan for plan in plans if plan.name == "screenshot")
        jpeg = await _jpeg_screenshots(desktop.computer, screenshot, config, progress)
        results.series.append(jpeg)
        results.scenarios = await _settle_scenarios(desktop.computer, scenarios, config, progress)
    return results


async def _jpeg_screenshots(
    computer: Computer, screenshot: actions.ActionPlan, config: BenchConfig, progress: Progress
) -> Series:
    """Screenshots with JPEG whatever the run's format: the 15 ms target is about JPEG."""
    jpeg = await _tool(computer, ScreenshotSettings(format="jpeg"))
    step = actions.tool_step(jpeg, screenshot)
    return await measure(JPEG_SCREENSHOT, "deskhand", step, config.steps, progress.advance)


async def _settle_scenarios(
    computer: Computer,
    scenarios: list[settling.Scenario],
    config: BenchConfig,
    progress: Progress,
) -> list[settling.ScenarioResult]:
    # The settled frame is compared exactly: lossless, and without the pointer.
    exact = await _tool(computer, ScreenshotSettings(format="png", cursor=False))
    return [
        await settling.run_scenario(
            exact, scenario, config.n_settle, config.final_wait_s, progress.advance
        )
        for scenario in scenarios
    ]


async def _tool(computer: Computer, screenshots: ScreenshotSettings) -> ComputerTool:
    # The newest dated tool: it has every action the benchmark times, zoom included.
    return await ComputerTool.create(computer, screenshots=screenshots)


async def _measure_plan(
    plan: actions.ActionPlan,
    tool: ComputerTool,
    reference: ReferenceWay | None,
    scene: Scene,
    config: BenchConfig,
    progress: Progress,
) -> list[Series]:
    """One action type: deskhand's steps, then the reference's, from the same state."""
    for step_input in plan.setup:
        await actions.run_input(tool, step_input)
    await _park(tool.computer, scene)
    series = [
        await measure(
            plan.name, "deskhand", actions.tool_step(tool, plan), config.steps, progress.advance
        )
    ]
    if reference is not None and plan.in_reference:
        await _park(tool.computer, scene)
        step = reference.step(plan.step_input)
        series.append(
            await measure(plan.name, "reference", step, config.n_reference, progress.advance)
        )
    for step_input in plan.teardown:
        await actions.run_input(tool, step_input)
    return series


async def _park(computer: Computer, scene: Scene) -> None:
    """Move the pointer out of the way and let the screen come to rest before a block of steps.

    The first reference step must not target the pointer's current position: xdotool's
    `mousemove --sync` would wait 15 s for a move that never happens.
    """
    await computer.apply([Move(x=scene.park[0], y=scene.park[1])])
    await calm(computer)


def _planned_steps(
    config: BenchConfig, plans: list[actions.ActionPlan], reference: bool, scenarios: int
) -> int:
    in_reference = sum(plan.in_reference for plan in plans) if reference else 0
    return (
        (len(plans) + 1) * config.steps  # +1: the JPEG screenshot row
        + in_reference * config.n_reference
        + scenarios * config.n_settle
    )
