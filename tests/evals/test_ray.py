"""The Ray backend runs the same tasks with one desktop per actor on a local Ray instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskhand.evals.agents import OracleAgent
from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.results import read_results
from deskhand.evals.runner import evaluate
from deskhand.evals.tasks import Task

pytestmark = pytest.mark.desktop


async def test_two_tasks_on_two_ray_actors(
    tasks: dict[str, Task], env_options: EnvironmentOptions, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    chosen = [tasks["shell-sum"], tasks["site-form"]]
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
    assert sorted(streamed) == ["shell-sum", "site-form"]
    assert all(r.passed and r.attempts == 1 for r in results), results
    assert {r.id for r in read_results(tmp_path / "ray")} == {"shell-sum", "site-form"}
    # Each ran on a desktop of its own actor: the run folders say which site (port) they used.
    sites = {(Path(r.run_dir or "") / "eval-site.json").read_text() for r in results}
    assert len(sites) == 2
