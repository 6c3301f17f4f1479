"""The local runner: oracle passes and null fails on every test task, near-misses fail, two
desktops in parallel, resume skips finished tasks, infrastructure failures are retried on a new
desktop and agent failures are not."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deskhand.evals.agents import AgentOutcome, NullAgent, OracleAgent, ReplayAgent
from deskhand.evals.environment import EnvironmentOptions, TaskEnvironment
from deskhand.evals.results import RESULTS_FILE, TaskResult, read_results
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.runner import RunSettings, Worker, evaluate
from deskhand.evals.tasks import Task
from deskhand.guest import processes

pytestmark = pytest.mark.desktop


def on(env: TaskEnvironment) -> Any:
    """Workers that use the shared, already started environment (saves desktop starts)."""

    def make(agent: Any, settings: RunSettings) -> Worker:
        return Worker(agent, settings, env=env)

    return make


async def test_oracle_passes_null_and_near_miss_fail_on_two_desktops(
    tasks: dict[str, Task], env_options: EnvironmentOptions, env: TaskEnvironment, tmp_path: Path
) -> None:
    suite = list(tasks.values())
    oracle = await evaluate(
        suite, OracleAgent(), tmp_path / "oracle", workers=2, environment=env_options
    )
    assert {r.id: r.passed for r in oracle} == dict.fromkeys(tasks, True), oracle
    for agent, name in ((NullAgent(), "null"), (OracleAgent(near_miss=True), "near")):
        results = await evaluate(suite, agent, tmp_path / name, make_worker=on(env))
        assert not any(r.passed for r in results), results
        assert all(r.error is None and r.attempts == 1 for r in results)
    first = next(r for r in oracle if r.id == "editor-note")
    assert first.steps == 4 and first.reset_s > 0 and first.run_dir is not None
    assert (Path(first.run_dir) / "events.jsonl").is_file()
    summary = json.loads((tmp_path / "oracle" / "summary.json").read_text())
    assert summary["rate"] == 1.0 and summary["by_category"]["terminal"]["passed"] == 1
    assert (tmp_path / "oracle" / "report.html").is_file()

    # The oracle's recorded runs replay to the same verdicts.
    replayed = await evaluate(
        suite, ReplayAgent(tmp_path / "oracle"), tmp_path / "replay", make_worker=on(env)
    )
    assert all(r.passed for r in replayed), replayed


async def test_resume_skips_finished_tasks(
    tasks: dict[str, Task], env: TaskEnvironment, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    first = [tasks["shell-sum"]]
    await evaluate(first, OracleAgent(), out, make_worker=on(env))
    (out / RESULTS_FILE).open("a").write('{"id": "torn li')  # an interrupted write
    ran: list[str] = []
    results = await evaluate(
        list(tasks.values()),
        OracleAgent(),
        out,
        make_worker=on(env),
        on_result=lambda r: ran.append(r.id),
    )
    assert sorted(ran) == ["editor-note", "site-form"]
    assert sorted(r.id for r in results) == sorted(tasks)
    assert all(r.passed for r in results)


@dataclass
class KillsTheGuestOnce:
    """Kills the desktop's guest daemon in the middle of its first task, then behaves."""

    name: str = "flaky"
    kills: int = 0

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        if self.kills == 0:
            self.kills += 1
            root = env.live.process.pid
            guest = next(
                p
                for p in processes.descendants(root)
                if b"deskhand.guest" in Path(f"/proc/{p}/cmdline").read_bytes()
            )
            os.kill(guest, signal.SIGKILL)
            await asyncio.sleep(0.2)
        return await OracleAgent().act(task, env, run_dir)


@dataclass
class WrongAgent:
    name: str = "wrong"
    calls: int = 0

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        self.calls += 1
        await env.live.computer.run(["bash", "-c", "echo 7 > ~/sum.txt"])
        return AgentOutcome(steps=1, status="done")


@dataclass
class SlowAgent:
    name: str = "slow"
    calls: int = 0

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        self.calls += 1
        await asyncio.sleep(30)
        return AgentOutcome()


async def test_infrastructure_failure_is_retried_agent_failure_is_not(
    tasks: dict[str, Task], env: TaskEnvironment, tmp_path: Path
) -> None:
    task = [tasks["shell-sum"]]
    flaky = KillsTheGuestOnce()
    [result] = await evaluate(task, flaky, tmp_path / "flaky", make_worker=on(env))
    assert result.passed and result.attempts == 2 and flaky.kills == 1, result

    wrong = WrongAgent()
    [result] = await evaluate(task, wrong, tmp_path / "wrong", make_worker=on(env))
    assert not result.passed and result.attempts == 1 and wrong.calls == 1
    assert "got '7\\n'" in result.detail

    # An agent's own exception (here: a task without an oracle) is its failure, not retried,
    # and the evaluation goes on.
    bare = task[0].model_copy(update={"oracle": None})
    [result] = await evaluate([bare], OracleAgent(), tmp_path / "bare", make_worker=on(env))
    assert not result.passed and result.attempts == 1 and result.status == "error"
    assert "has no oracle" in (result.error or "")

    slow = SlowAgent()
    [result] = await evaluate(task, slow, tmp_path / "slow", make_worker=on(env), timeout=0.5)
    assert not result.passed and result.attempts == 1 and slow.calls == 1
    assert result.error is not None and "timed out after 0.5 s" in result.error
    assert result.status == "timeout"


async def test_a_desktop_that_keeps_dying_is_reported_not_retried_forever(
    tasks: dict[str, Task], env: TaskEnvironment, tmp_path: Path
) -> None:
    class AlwaysKills(KillsTheGuestOnce):
        async def act(
            self, task: RunnableTask, env: TaskEnvironment, run_dir: Path
        ) -> AgentOutcome:
            self.kills = 0
            return await super().act(task, env, run_dir)

    out = tmp_path / "dying"
    [result] = await evaluate(
        [tasks["shell-sum"]], AlwaysKills(), out, make_worker=on(env), retries=1
    )
    assert result.infrastructure and result.attempts == 2 and not result.passed
    assert "infrastructure failure after 2 attempts" in (result.error or "")
    assert read_results(out)[0].infrastructure
    # Resuming runs it again (an infrastructure failure is not a finished task).
    again = await evaluate([tasks["shell-sum"]], OracleAgent(), out, make_worker=on(env))
    assert again[0].passed and isinstance(again[0], TaskResult)
