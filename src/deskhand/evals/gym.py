"""A gymnasium environment over deskhand tasks (importable as `deskhand.gym`).

    import gymnasium
    from deskhand.gym import DesktopEnv

    env = DesktopEnv("builtin")                 # a suite name or folder, or a list of Tasks
    obs, info = env.reset(options={"task": "calc-multiply"})
    obs, reward, terminated, truncated, info = env.step(
        {"tool": "computer", "input": {"action": "left_click", "coordinate": [640, 400]}})
    obs, reward, terminated, truncated, info = env.step({"tool": "done", "input": {}})

    envs = gymnasium.vector.SyncVectorEnv([lambda: DesktopEnv("builtin") for _ in range(2)])

Observation: the screen as an RGB array, shape (height, width, 3), uint8, at the desktop's
native resolution (1280x800 by default, which is also the model's coordinate space: the
tools' screenshots are not scaled at that size). The tool's own result (text output, error)
is in `info["output"]` / `info["error"]`.

Action: a tool call in the API's input format, `{"tool": "computer"|"bash"|"editor", "input":
{...}}` (`computer_20251124` actions), or `{"tool": "done"}` to end the episode.

Reward: 0 on every step but the last; at the end (the agent says done, or `max_steps` of the
task is reached: truncated) the task's checker runs and the reward is 1.0 if it passed, else
0.0; `info["check"]` carries its detail. reset() without `options={"task": id}` takes the
suite's tasks in turn (in a random order when seeded).

Each env owns one desktop and an asyncio loop in a background thread, so it works from plain
scripts, notebooks and gymnasium's vector wrappers alike. Call close() to stop the desktop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from deskhand.agent.toolbox import Toolbox, ToolVersions
from deskhand.evals.agents import DEFAULT_TOOL_VERSION, substitute
from deskhand.evals.environment import EnvironmentOptions, TaskEnvironment
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.tasks import load_suite
from deskhand.tools.computer import ScreenshotSettings

T = TypeVar("T")
Observation = npt.NDArray[np.uint8]
TOOLS = ("computer", "bash", "editor")
END_ACTIONS = ("done",)


class ToolCallSpace(spaces.Space[dict[str, Any]]):
    """Tool calls in the API's input format: {"tool": name, "input": {...}}."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)

    def contains(self, x: Any) -> bool:
        if not isinstance(x, dict) or x.get("tool") not in (*TOOLS, *END_ACTIONS):
            return False
        tool_input = x.get("input", {})
        if x["tool"] in END_ACTIONS:  # {"tool": "done", "input": {"answer": "FAIL"}}
            return isinstance(tool_input, dict) and isinstance(tool_input.get("answer", ""), str)
        return isinstance(tool_input, dict)

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        x, y = (int(v) for v in self.np_random.integers(0, [1280, 800]))
        return {"tool": "computer", "input": {"action": "mouse_move", "coordinate": [x, y]}}

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolCallSpace)

    def __hash__(self) -> int:
        return hash(ToolCallSpace)

    def __repr__(self) -> str:
        return "ToolCallSpace()"


class _LoopThread:
    """An asyncio loop running in a daemon thread; `call` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="deskhand-gym", daemon=True
        )
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class DesktopEnv(gymnasium.Env[Observation, dict[str, Any]]):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        tasks: str | Path | Sequence[RunnableTask] = "builtin",
        *,
        environment: EnvironmentOptions | None = None,
        tool_version: str = DEFAULT_TOOL_VERSION,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.tasks = list(tasks) if not isinstance(tasks, str | Path) else load_suite(tasks)
        if not self.tasks:
            raise ValueError("no tasks")
        self.options = environment or EnvironmentOptions()
        self.tool_version = tool_version
        self.render_mode = render_mode
        height, width = self.options.height, self.options.width
        self.observation_space = spaces.Box(0, 255, (height, width, 3), np.uint8)
        self.action_space = ToolCallSpace()
        self._runner = _LoopThread()
        self._env = TaskEnvironment(self.options)
        self._started = False
        self._closed = False
        self._toolbox: Toolbox | None = None
        self._order: list[int] = list(range(len(self.tasks)))
        self._next = 0
        self.task: RunnableTask | None = None
        self.steps = 0
        self._last: Observation | None = None

    # -- gymnasium API ---------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._order = [int(i) for i in self.np_random.permutation(len(self.tasks))]
            self._next = 0
        self.task = self._choose(options or {})
        times = self._runner.call(self._reset(self.task))
        self.steps = 0
        observation = self._observe()
        info = {
            "task": self.task.id,
            "instruction": self.task.instruction_for(self._env.site_url),
            "max_steps": self.task.max_steps,
            "reset_s": times,
        }
        return observation, info

    def step(self, action: dict[str, Any]) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"not a tool call {{'tool': {TOOLS}, 'input': {{...}}}}: {action!r}")
        info: dict[str, Any] = {"task": self.task.id}
        terminated = action["tool"] in END_ACTIONS
        if not terminated:
            self.steps += 1
            info.update(self._runner.call(self._act(action)))
        truncated = not terminated and self.steps >= self.task.max_steps
        reward = 0.0
        if terminated or truncated:
            answer = action.get("input", {}).get("answer", "") if terminated else ""
            check = self._runner.call(self._env.check(self.task, answer))
            reward = 1.0 if check.passed else 0.0
            info["check"] = check.detail
        return self._observe(), reward, terminated, truncated, info

    def render(self) -> Observation | None:
        return self._last

    def close(self) -> None:
        """Stop the desktop; closing twice is allowed."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._runner.call(self._env.stop())
            self._started = False
        self._runner.close()
        super().close()

    # -- inside ------------------------------------------------------------------------------

    def _choose(self, options: dict[str, Any]) -> RunnableTask:
        wanted = options.get("task")
        if wanted is not None:
            for task in self.tasks:
                if task.id == wanted:
                    return task
            raise KeyError(f"no task {wanted!r}")
        task = self.tasks[self._order[self._next % len(self._order)]]
        self._next += 1
        return task

    async def _reset(self, task: RunnableTask) -> float:
        if not self._started:
            await self._env.start()
            self._started = True
        times = await self._env.reset(task)
        self._toolbox = await Toolbox.create(
            self._env.live.computer,
            ToolVersions.for_computer(self.tool_version),
            screenshots=ScreenshotSettings(),
        )
        return times.total

    async def _act(self, action: dict[str, Any]) -> dict[str, Any]:
        toolbox = self._toolbox
        assert toolbox is not None
        tool = str(action["tool"])
        name = {"bash": toolbox.bash.name, "editor": toolbox.editor.name}.get(tool, tool)
        tool_input = substitute(action.get("input", {}), self._env.site_url)
        outcome = await toolbox.run(f"toolu_{self.steps:04d}", name, tool_input)
        return {"output": outcome.result.output, "error": outcome.result.error}

    async def _screen(self) -> Observation:
        frame = await self._env.live.computer.screenshot()
        return np.ascontiguousarray(frame.pixels[:, :, 2::-1])  # BGRA -> RGB

    def _observe(self) -> Observation:
        self._last = self._runner.call(self._screen())
        return self._last
