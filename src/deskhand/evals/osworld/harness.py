"""OSWorld's tasks in deskhand's evaluation harness (`deskhand eval osworld --agent NAME`).

`OsworldEvalTask` is a `RunnableTask`: the runner resets the desktop as for any task (apps
ended, home folder restored), `prepare` runs OSWorld's config steps, the agent works, and
`check` runs OSWorld's evaluator (postconfig, getters, metrics) on the final state. The task id
is OSWorld's `domain/id`, its category the domain.

Infeasible tasks follow OSWorld's rule: they pass only when the agent's last word is FAIL, and
every other task fails when it is. The instruction tells the model so (as OSWorld's own agents
are told); the oracle of an infeasible task does nothing and answers FAIL.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deskhand.evals.checkers import CheckResult
from deskhand.evals.environment import SetupError, TaskEnvironment
from deskhand.evals.tasks import ToolCall

from .task import NotRunnableHere, OsworldTask, load_osworld_tasks

DEFAULT_MAX_STEPS = 50  # OSWorld's longer setting (its leaderboard also reports 15 and 100)
FAIL = "FAIL"
FAIL_NOTE = (
    "If this task cannot be done on this computer, stop and end your final message with the "
    f"word {FAIL} on a line of its own."
)
_DECORATION = re.compile(r"[\s*_`.!\"'()\[\]]+")


def declares_infeasible(answer: str) -> bool:
    """The answer's last non-empty line is FAIL (markdown and punctuation around it aside)."""
    lines = [line for line in answer.splitlines() if line.strip()]
    return bool(lines) and _DECORATION.sub("", lines[-1]) == FAIL


@dataclass
class OsworldEvalTask:
    task: OsworldTask
    max_steps: int = DEFAULT_MAX_STEPS

    @property
    def id(self) -> str:
        return self.task.key

    @property
    def category(self) -> str:
        return self.task.domain

    @property
    def skills(self) -> Sequence[str]:
        return ()  # OSWorld does not say which actions a task needs

    @property
    def infeasible(self) -> bool:
        return self.task.spec.infeasible

    @property
    def oracle(self) -> Sequence[ToolCall] | None:
        if self.infeasible:
            return []
        calls = self.task.oracle
        return None if calls is None else [ToolCall.model_validate(call) for call in calls]

    @property
    def near_miss(self) -> Sequence[ToolCall] | None:
        return None

    @property
    def oracle_answer(self) -> str:
        return FAIL if self.infeasible else ""

    def instruction_for(self, site_url: str) -> str:
        return f"{self.task.instruction}\n\n{FAIL_NOTE}"

    async def prepare(self, env: TaskEnvironment) -> None:
        self._drop_scratch()
        try:
            await self.task.setup(env.live)
        except NotRunnableHere as exc:
            raise SetupError(str(exc)) from exc

    async def check(self, env: TaskEnvironment, answer: str = "") -> CheckResult:
        try:
            passed, detail = await self.task.evaluate(env.live, declares_infeasible(answer))
        finally:
            self._drop_scratch()
        return CheckResult(passed, detail)

    def _drop_scratch(self) -> None:
        """OSWorld's per-task cache folder: fresh for every attempt, gone once checked."""
        if self.task.scratch is not None:
            shutil.rmtree(self.task.scratch, ignore_errors=True)
            self.task.scratch = None


def load_osworld_suite(
    osworld_dir: Path, cache: Path | None = None, max_steps: int = DEFAULT_MAX_STEPS
) -> list[OsworldEvalTask]:
    """The official tasks that can run on this machine (with this cache), in id order."""
    tasks = load_osworld_tasks(osworld_dir, cache=cache, runnable_only=True)
    return sorted((OsworldEvalTask(task, max_steps) for task in tasks), key=lambda t: t.id)
