"""Fixtures of the evaluation-harness tests: the test tasks and site, one shared environment,
and the Messages-API emulator (for the model agent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deskhand.evals.environment import EnvironmentOptions, TaskEnvironment
from deskhand.evals.tasks import Task, load_suite
from emulator.conftest import emulator, emulator_server

__all__ = ["emulator", "emulator_server"]

HERE = Path(__file__).parent
TASKS_DIR = HERE / "tasks"
SITE_DIR = HERE / "site"


@pytest.fixture(scope="session")
def tasks() -> dict[str, Task]:
    return {task.id: task for task in load_suite(TASKS_DIR)}


@pytest.fixture(scope="session")
def env_options() -> EnvironmentOptions:
    return EnvironmentOptions(site_root=SITE_DIR)


@pytest.fixture(scope="session")
async def env(env_options: EnvironmentOptions) -> AsyncIterator[TaskEnvironment]:
    """One task environment (desktop + site) shared by the tests that reset it themselves."""
    async with TaskEnvironment(env_options) as environment:
        yield environment
