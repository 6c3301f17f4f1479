"""The Ray backend: the same tasks, one desktop per Ray actor, results streamed back.

Each actor is an async Ray actor holding one `Worker` (one `TaskEnvironment`, so one desktop),
exactly as a local worker; the driver hands each idle actor the next task and records each
result as it arrives. Infrastructure failures inside an actor are retried there like locally;
an actor that dies (its node or process gone) is replaced and its task given to the new actor,
up to `retries` times.

Locally `ray.init()` starts a private Ray instance. On a cluster, start Ray on every node
(`ray start --head` on one, `ray start --address=HEAD:6379` on the others; each node needs
deskhand installed with bubblewrap and the desktop packages, `scripts/setup.sh`), then run
`deskhand eval ... --backend ray --ray-address HEAD:6379` (or set RAY_ADDRESS). Run folders
are written on the node that ran the task, under the same `--out` path: use a shared
filesystem for `--out` to keep the report's links working; results.jsonl and the report are
written by the driver either way.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from deskhand.evals.agents import EvalAgent
from deskhand.evals.results import TaskResult
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.runner import ResultCallback, RunSettings, Worker

ENV_VARS = ("DESKHAND_HOME", "XDG_RUNTIME_DIR")


class DesktopActor:
    """One desktop in a Ray actor process (wrapped with ray.remote at run time)."""

    def __init__(self, agent: EvalAgent, settings: RunSettings) -> None:
        self.worker = Worker(agent, settings)

    async def run(self, task: RunnableTask) -> dict[str, Any]:
        return (await self.worker.run(task)).to_json()

    async def close(self) -> None:
        await self.worker.close()

    def pid(self) -> int:
        return os.getpid()


def _init(address: str | None, workers: int) -> bool:
    """Connect to (or start) Ray; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    env = {name: os.environ[name] for name in ENV_VARS if name in os.environ}
    runtime_env = {"env_vars": env} if env else None
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        ray.init(
            num_cpus=max(workers, os.cpu_count() or 1),
            include_dashboard=False,
            runtime_env=runtime_env,
            log_to_driver=False,
            configure_logging=False,
        )
    return True


def _infra_result(task: RunnableTask, agent: EvalAgent, error: str, attempts: int) -> TaskResult:
    return TaskResult(
        id=task.id,
        passed=False,
        detail="",
        steps=0,
        seconds=0.0,
        error=error,
        category=task.category,
        skills=tuple(task.skills),
        agent=agent.name,
        status="infrastructure",
        infrastructure=True,
        attempts=attempts,
    )


async def run_ray(
    tasks: Sequence[RunnableTask],
    agent: EvalAgent,
    settings: RunSettings,
    workers: int,
    on_result: ResultCallback,
    *,
    address: str | None = None,
) -> None:
    import ray
    from ray.exceptions import RayActorError

    if not tasks:
        return
    started = _init(address, workers)
    remote: Any = ray.remote(num_cpus=1)(DesktopActor)
    pending = list(tasks)
    lost: dict[str, int] = {}
    actors: list[Any] = [
        remote.remote(agent, settings) for _ in range(max(1, min(workers, len(tasks))))
    ]
    in_flight: dict[Any, tuple[Any, RunnableTask]] = {}

    def submit(actor: Any) -> None:
        task = pending.pop(0)
        in_flight[actor.run.remote(task)] = (actor, task)

    try:
        for actor in actors:
            if pending:
                submit(actor)
        while in_flight:
            done, _ = await asyncio.to_thread(ray.wait, list(in_flight), num_returns=1)
            for ref in done:
                actor, task = in_flight.pop(ref)
                try:
                    on_result(TaskResult.from_json(ray.get(ref)))
                except RayActorError as exc:
                    actors.remove(actor)
                    actor = remote.remote(agent, settings)  # a fresh desktop elsewhere
                    actors.append(actor)
                    lost[task.id] = lost.get(task.id, 0) + 1
                    if lost[task.id] > settings.retries:
                        on_result(
                            _infra_result(task, agent, f"Ray actor lost: {exc}", lost[task.id])
                        )
                    else:
                        pending.insert(0, task)
                if pending:
                    submit(actor)
    finally:
        closing = [actor.close.remote() for actor in actors]
        await asyncio.to_thread(ray.wait, closing, num_returns=len(closing), timeout=30)
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
