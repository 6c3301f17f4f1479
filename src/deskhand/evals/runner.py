"""Run an agent over tasks: N desktops in parallel (asyncio, or one per Ray actor).

    results = await evaluate(tasks, OracleAgent(), Path("out"), workers=2)

Each worker owns one `TaskEnvironment` and takes tasks from a shared queue. Per task: reset,
the agent acts (under a timeout), the checker runs. Failures of the infrastructure (the desktop
or its guest died, a reset could not run) restart the worker's desktop and retry the task, up
to `retries` times; failures of the agent (wrong result, timeout, budget) are results, never
retried. Each result is appended to `results.jsonl` as it finishes, so an interrupted
evaluation resumes where it stopped: a rerun with the same `--out` skips finished tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskhand.computer import GuestError
from deskhand.evals.agents import AgentOutcome, EvalAgent
from deskhand.evals.environment import (
    EnvironmentOptions,
    InfrastructureError,
    SetupError,
    TaskEnvironment,
)
from deskhand.evals.results import (
    TaskResult,
    append_result,
    finished_ids,
    read_results,
    summarize,
    write_summary,
)
from deskhand.evals.runnable import RunnableTask
from deskhand.sandbox.desktop import DesktopError

DEFAULT_TIMEOUT = 900.0
DEFAULT_RETRIES = 2
ResultCallback = Callable[[TaskResult], None]


@dataclass
class RunSettings:
    out: Path
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    environment: EnvironmentOptions = field(default_factory=EnvironmentOptions)


def _result(task: RunnableTask, agent: EvalAgent, **values: Any) -> TaskResult:
    return TaskResult(
        id=task.id, category=task.category, skills=tuple(task.skills), agent=agent.name, **values
    )


class Worker:
    """One desktop running tasks one after the other, retrying infrastructure failures."""

    def __init__(
        self, agent: EvalAgent, settings: RunSettings, env: TaskEnvironment | None = None
    ) -> None:
        """`env`: an environment the caller started and keeps (not stopped by `close`)."""
        self.agent = agent
        self.settings = settings
        self.env = env or TaskEnvironment(settings.environment)
        self.owns_env = env is None
        self.started = env is not None and env.desktop is not None

    async def _ensure(self) -> None:
        if not self.started:
            await self.env.start()
            self.started = True

    async def close(self) -> None:
        if self.owns_env:
            await self.env.stop()
            self.started = False

    async def _discard(self) -> None:
        """Stop a broken desktop; the next attempt starts a new one."""
        await self.env.stop()
        self.started = False

    async def run(self, task: RunnableTask) -> TaskResult:
        last = ""
        for attempt in range(1, self.settings.retries + 2):
            try:
                await self._ensure()
                return await self.attempt(task, attempt)
            except SetupError as exc:
                if await self.env.healthy():
                    return self.task_defect(task, "setup_error", str(exc), attempt)
                last = f"{type(exc).__name__}: {exc}"
                await self._discard()
            except (InfrastructureError, DesktopError, GuestError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                await self._discard()
        return _result(
            task,
            self.agent,
            passed=False,
            detail="",
            steps=0,
            seconds=0.0,
            error=f"infrastructure failure after {self.settings.retries + 1} attempts: {last}",
            infrastructure=True,
            attempts=self.settings.retries + 1,
            status="infrastructure",
        )

    def task_defect(
        self, task: RunnableTask, status: str, error: str, attempt: int, steps: int = 0
    ) -> TaskResult:
        """A task whose setup or checker fails on a healthy desktop (status `setup_error` or
        `check_error`): a defect of the task, not retried."""
        return _result(
            task,
            self.agent,
            passed=False,
            detail="",
            steps=steps,
            seconds=0.0,
            error=error,
            status=status,
            attempts=attempt,
        )

    def run_dir(self, task: RunnableTask) -> Path:
        path = self.settings.out / "runs" / task.id
        if path.exists():
            shutil.rmtree(path)  # an interrupted or failed earlier attempt
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    async def attempt(self, task: RunnableTask, attempt: int) -> TaskResult:
        start = time.monotonic()
        reset = await self.env.reset(task)  # InfrastructureError propagates: retried
        run_dir = self.run_dir(task)
        outcome, error = await self._act(task, run_dir)
        failed = error is not None or outcome.status == "error"
        if failed and not await self.env.healthy():
            raise InfrastructureError(error or outcome.reason)
        try:
            check = await self.env.check(task, outcome.answer)
        except InfrastructureError:
            raise
        except Exception as exc:
            if not await self.env.healthy():
                raise InfrastructureError(f"{type(exc).__name__}: {exc}") from exc
            error = f"the checker failed: {type(exc).__name__}: {exc}"
            return self.task_defect(task, "check_error", error, attempt, outcome.steps)
        return _result(
            task,
            self.agent,
            passed=check.passed and error is None,
            detail=check.detail,
            steps=outcome.steps,
            seconds=round(time.monotonic() - start, 3),
            error=error,
            run_dir=str(outcome.run_dir) if outcome.run_dir else None,
            status=outcome.status,
            attempts=attempt,
            reset_s=round(reset.total, 3),
            model_s=round(outcome.model_s, 3),
            tool_s=round(outcome.tool_s, 3),
            tokens=outcome.tokens,
            cost_usd=outcome.cost_usd,
            safety_events=outcome.safety_events,
            answer=outcome.answer,
            extra=outcome.extra,
        )

    async def _act(self, task: RunnableTask, run_dir: Path) -> tuple[AgentOutcome, str | None]:
        """The agent's outcome and an error; an exception of the agent's own (a bug, a missing
        replay file, a task without an oracle) is its failure, not the harness's."""
        try:
            async with asyncio.timeout(self.settings.timeout):
                return await self.agent.act(task, self.env, run_dir), None
        except TimeoutError:
            kept = run_dir if run_dir.exists() else None
            return AgentOutcome(status="timeout", run_dir=kept), (
                f"timed out after {self.settings.timeout:g} s"
            )
        except (InfrastructureError, DesktopError, GuestError):
            raise
        except Exception as exc:
            if not await self.env.healthy():
                raise InfrastructureError(f"{type(exc).__name__}: {exc}") from exc
            kept = run_dir if run_dir.exists() else None
            return AgentOutcome(status="error", run_dir=kept), f"{type(exc).__name__}: {exc}"


async def run_one(worker: Worker, task: RunnableTask) -> TaskResult:
    return await worker.run(task)


async def run_local(
    tasks: Sequence[RunnableTask],
    agent: EvalAgent,
    settings: RunSettings,
    workers: int,
    on_result: ResultCallback,
    make_worker: Callable[[EvalAgent, RunSettings], Worker] = Worker,
) -> None:
    queue: asyncio.Queue[RunnableTask] = asyncio.Queue()
    for task in tasks:
        queue.put_nowait(task)

    async def work() -> None:
        worker = make_worker(agent, settings)
        try:
            while True:
                try:
                    task = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                on_result(await run_one(worker, task))
        finally:
            await worker.close()

    count = max(1, min(workers, len(tasks)))
    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(work())


class Progress:
    """A rich progress bar with the live success rate (or nothing, for --json)."""

    def __init__(self, total: int, done: int, passed: int, show: bool) -> None:
        self.total, self.done, self.passed = total, done, passed
        self.bar: Any = None
        if show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("[bold]eval"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
            )
            self.task_id = self.bar.add_task(self._text(), total=total, completed=done)

    def _text(self) -> str:
        rate = self.passed / self.done if self.done else 0.0
        return f"passed {self.passed}/{self.done} ({rate:.0%})"

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, result: TaskResult) -> None:
        self.done += 1
        self.passed += result.passed
        if self.bar is not None:
            mark = "[green]✓" if result.passed else "[red]✗"
            self.bar.console.print(
                f"{mark}[/] {result.id} ({result.seconds:.1f} s) {result.detail[:90]}"
            )
            self.bar.update(self.task_id, completed=self.done, description=self._text())


async def evaluate(
    tasks: Sequence[RunnableTask],
    agent: EvalAgent,
    out: Path,
    *,
    workers: int = 1,
    backend: str = "local",
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    environment: EnvironmentOptions | None = None,
    progress: bool = False,
    ray_address: str | None = None,
    on_result: ResultCallback | None = None,
    make_worker: Callable[[EvalAgent, RunSettings], Worker] = Worker,
    meta: dict[str, Any] | None = None,
) -> list[TaskResult]:
    """Run `tasks` (skipping those already finished in `out`) and write the summary and the
    HTML report; returns every result of the evaluation, earlier ones included."""
    out.mkdir(parents=True, exist_ok=True)
    settings = RunSettings(out, timeout, retries, environment or EnvironmentOptions())
    done = finished_ids(out)
    todo = [t for t in tasks if t.id not in done]
    earlier = [r for r in read_results(out) if r.id in done]
    with Progress(len(tasks), len(earlier), sum(r.passed for r in earlier), progress) as bar:

        def record(result: TaskResult) -> None:
            append_result(out, result)
            bar.update(result)
            if on_result is not None:
                on_result(result)

        if backend == "local":
            await run_local(todo, agent, settings, workers, record, make_worker)
        elif backend == "ray":
            from deskhand.evals.ray_backend import run_ray

            await run_ray(todo, agent, settings, workers, record, address=ray_address)
        else:
            raise ValueError(f"unknown backend {backend!r}: local or ray")
    wanted = {t.id for t in tasks}
    results = [r for r in read_results(out) if r.id in wanted]
    finish(
        out,
        results,
        **{"agent": agent.name, "backend": backend, "workers": workers, **(meta or {})},
    )
    return results


def finish(out: Path, results: Sequence[TaskResult], **meta: Any) -> dict[str, Any]:
    from deskhand.evals.report import write_report

    summary = summarize(results, **meta)
    write_summary(out, summary)
    with contextlib.suppress(OSError):
        write_report(out, summary, results)
    return summary
