"""The Ray backend runs the same tasks with one desktop per actor on a local Ray instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskhand.evals.agents import OracleAgent
from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.osworld.cli import BUNDLED_TASKS
from deskhand.evals.osworld.harness import load_osworld_suite
from deskhand.evals.results import read_results
from deskhand.evals.runnable import RunnableTask, select
from deskhand.evals.runner import evaluate
from deskhand.evals.tasks import Task

pytestmark = pytest.mark.desktop
RENAME = "os/e0df059f-28a6-4169-924f-b9623e7184cc"


async def test_tasks_of_both_kinds_on_two_ray_actors(
    tasks: dict[str, Task], env_options: EnvironmentOptions, tmp_path: Path
) -> None:
    """Two built-in tasks and an OSWorld one (shipped to the actors like any task)."""
    pytest.importorskip("ray")
    [rename] = select(load_osworld_suite(BUNDLED_TASKS), [RENAME])
    chosen: list[RunnableTask] = [tasks["shell-sum"], tasks["site-form"], rename]
    streamed: list[str] = []
    results = await evaluate(
        chosen,
        OracleAgent(),
        tmp_path / "ray",
        workers=2,
        backend="ray",
        environment=env_options,
        on_result=lambda r: streamed.append(r.id),
    )
    assert sorted(streamed) == [RENAME, "shell-sum", "site-form"]
    assert all(r.passed and r.attempts == 1 for r in results), results
    assert {r.id for r in read_results(tmp_path / "ray")} == {RENAME, "shell-sum", "site-form"}
    # Each ran on a desktop of its actor: the run folders say which site (port) they used.
    sites = {(Path(r.run_dir or "") / "eval-site.json").read_text() for r in results}
    assert len(sites) == 2
