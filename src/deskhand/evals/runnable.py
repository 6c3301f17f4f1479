"""What the runner, the environment, the agents and the gym need of a task.

Two kinds of task satisfy it: the built-in format's `Task` (`evals.tasks`, YAML files) and
OSWorld's tasks (`evals.osworld.harness.OsworldEvalTask`). Each sets itself up on a reset
desktop and checks the final state its own way; everything else (reset, agents, timeouts,
retries, results, reports) is shared.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from deskhand.evals.checkers import CheckResult
    from deskhand.evals.environment import TaskEnvironment
    from deskhand.evals.tasks import ToolCall


class RunnableTask(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def skills(self) -> Sequence[str]: ...

    @property
    def max_steps(self) -> int: ...

    @property
    def oracle(self) -> Sequence[ToolCall] | None:
        """A scripted solution: tool calls in the API's input format."""

    @property
    def near_miss(self) -> Sequence[ToolCall] | None:
        """A plausible wrong solution the checker must fail."""

    @property
    def oracle_answer(self) -> str:
        """What the oracle says when it is done (its final message), e.g. OSWorld's FAIL."""

    def instruction_for(self, site_url: str) -> str: ...

    async def prepare(self, env: TaskEnvironment) -> None:
        """Set the task up on a desktop the environment has just reset; SetupError if the task
        cannot be set up on a healthy desktop."""

    async def check(self, env: TaskEnvironment, answer: str = "") -> CheckResult:
        """The checker's verdict on the desktop's state and the agent's final message."""


T = TypeVar("T", bound=RunnableTask)


def select(tasks: Sequence[T], patterns: Sequence[str]) -> list[T]:
    """The tasks whose id matches one of the glob patterns (all of them without patterns)."""
    if not patterns:
        return list(tasks)
    return [t for t in tasks if any(fnmatch.fnmatchcase(t.id, p) for p in patterns)]
