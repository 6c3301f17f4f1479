"""One OSWorld task as something a harness runs on a deskhand desktop:

task = load_osworld_tasks(Path("OSWorld"), runnable_only=True)[0]
async with await Desktop.start(task.desktop_options()) as desktop:
    await task.setup(desktop)
    ...  # the agent works on task.instruction
    passed, detail = await task.evaluate(desktop)
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskhand.sandbox.desktop import Desktop, DesktopOptions

from .compat import Compatibility, classify
from .config import OSWORLD_SCREEN, Environment, plan_steps, run_actions
from .evaluator import EvalContext, EvalResult, evaluate
from .loader import OFFICIAL_INDEX, OsworldTaskSpec, load_tasks
from .oracles import ORACLES

UBUNTU_HOME_FOLDERS = (
    "Desktop",
    "Documents",
    "Downloads",
    "Music",
    "Pictures",
    "Public",
    "Templates",
    "Videos",
)


class NotRunnableHere(RuntimeError):
    """The task needs something this machine does not have (the reasons say what)."""


@dataclass
class OsworldTask:
    spec: OsworldTaskSpec
    env: Environment = field(default_factory=Environment)
    # OSWorld's per-task cache_dir: files the getters fetch and outputs the steps keep.
    scratch: Path | None = None
    setup_log: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def domain(self) -> str:
        return self.spec.domain

    @property
    def instruction(self) -> str:
        return self.spec.instruction

    @property
    def oracle(self) -> list[dict[str, Any]] | None:
        """deskhand's scripted solution (tool calls), for the tasks that have one."""
        return ORACLES.get(self.key)

    def compatibility(self) -> Compatibility:
        return classify(self.spec, self.env)

    def desktop_options(self, **overrides: Any) -> DesktopOptions:
        """OSWorld's screen (1920x1080; its setup clicks assume it)."""
        width, height = OSWORLD_SCREEN
        return dataclasses.replace(DesktopOptions(width=width, height=height), **overrides)

    async def _env_for(self, desktop: Desktop) -> Environment:
        return dataclasses.replace(self.env, screen=await desktop.computer.size())

    def _scratch(self) -> Path:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix=f"osworld-{self.id[:8]}-"))
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    async def setup(self, desktop: Desktop) -> list[str]:
        """Run the task's config steps on a fresh desktop; raises NotRunnableHere first if any
        step cannot run here. Returns the steps' log."""
        compat = self.compatibility()
        if compat.reasons:
            raise NotRunnableHere(f"{self.key}: " + "; ".join(map(str, compat.reasons)))
        for name in UBUNTU_HOME_FOLDERS:  # OSWorld's tasks assume Ubuntu's home folders
            (desktop.home / name).mkdir(exist_ok=True)
        env = await self._env_for(desktop)
        plan = plan_steps(self.spec.config, self.id, env)
        self.setup_log = await run_actions(desktop, plan.actions, self._scratch())
        return self.setup_log

    async def score(self, desktop: Desktop, declared_infeasible: bool = False) -> EvalResult:
        """OSWorld's score for the desktop's current state (runs the evaluator's postconfig)."""
        if self.spec.evaluator is None:
            raise NotRunnableHere(f"{self.key}: the task file has no evaluator")
        ctx = EvalContext(desktop, self.id, await self._env_for(desktop), self._scratch())
        return await evaluate(ctx, self.spec.evaluator, declared_infeasible)

    async def evaluate(
        self, desktop: Desktop, declared_infeasible: bool = False
    ) -> tuple[bool, str]:
        """(passed, detail): passed when OSWorld's score is 1."""
        result = await self.score(desktop, declared_infeasible)
        return result.passed, f"score {result.score:g}: {result.detail}"


def load_osworld_tasks(
    osworld_dir: Path,
    cache: Path | None = None,
    index: str | None = OFFICIAL_INDEX,
    runnable_only: bool = False,
) -> list[OsworldTask]:
    """OSWorld's tasks (default: the official 369 of test_all.json) as runnable adapters;
    with runnable_only, only those that can run on this machine with this cache."""
    env = Environment(cache=Path(cache) if cache else None)
    tasks = [OsworldTask(spec, env) for spec in load_tasks(osworld_dir, index)]
    if runnable_only:
        tasks = [task for task in tasks if task.compatibility().runnable]
    return tasks
