"""The harness's own benchmark: throughput, reset time and memory with the oracle agent.

For each number of parallel desktops (default 1, 2 and 4) the oracle agent runs the suite
(repeated to at least `min_tasks` tasks) from a cold start, desktops included; tasks per hour
is tasks / wall time. Reset times (end the apps, restore the home, apply the setup) come from
every task; memory per desktop is the proportional set size (PSS: shared pages split between
the processes sharing them) and the plain RSS of every process of a desktop's sandbox, sampled
after each task, max over the run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskhand.evals.agents import OracleAgent
from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.results import TaskResult, percentile
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.runner import RunSettings, Worker, evaluate
from deskhand.evals.tasks import Task
from deskhand.guest import processes


@dataclass
class Memory:
    rss_mb: float
    pss_mb: float


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/{path}").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def desktop_memory(root_pid: int) -> Memory:
    """RSS and PSS of a desktop's whole process tree (its sandbox launcher and everything in it)."""
    pids = [root_pid, *processes.descendants(root_pid)]
    rss = sum(_status_kb(pid, "status", "VmRSS") for pid in pids)
    pss = sum(_status_kb(pid, "smaps_rollup", "Pss") for pid in pids)
    return Memory(rss / 1024, pss / 1024)


@dataclass
class BenchRow:
    workers: int
    tasks: int
    passed: int
    wall_s: float
    reset_p50: float
    reset_p95: float
    memory: list[Memory] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # ids of the tasks the oracle failed

    @property
    def tasks_per_hour(self) -> float:
        return self.tasks / self.wall_s * 3600 if self.wall_s else 0.0

    def to_json(self) -> dict[str, Any]:
        pss = [m.pss_mb for m in self.memory]
        rss = [m.rss_mb for m in self.memory]
        return {
            "workers": self.workers,
            "tasks": self.tasks,
            "passed": self.passed,
            "wall_s": round(self.wall_s, 2),
            "tasks_per_hour": round(self.tasks_per_hour),
            "reset_p50_s": round(self.reset_p50, 3),
            "reset_p95_s": round(self.reset_p95, 3),
            "failed": self.failed,
            "pss_mb_max": round(max(pss), 1) if pss else 0.0,
            "rss_mb_max": round(max(rss), 1) if rss else 0.0,
        }


class MeasuringWorker(Worker):
    """A worker that samples its desktop's memory after every task."""

    samples: list[Memory]

    async def attempt(self, task: RunnableTask, attempt: int) -> TaskResult:
        result = await super().attempt(task, attempt)
        desktop = self.env.desktop
        if desktop is not None:
            self.samples.append(await asyncio.to_thread(desktop_memory, desktop.process.pid))
        return result


async def bench_workers(
    tasks: Sequence[RunnableTask], workers: int, options: EnvironmentOptions, out: Path
) -> BenchRow:
    samples: list[Memory] = []

    def make(agent: Any, settings: RunSettings) -> Worker:
        worker = MeasuringWorker(agent, settings)
        worker.samples = samples
        return worker

    start = time.perf_counter()
    results = await evaluate(
        tasks, OracleAgent(), out, workers=workers, environment=options, make_worker=make
    )
    wall = time.perf_counter() - start
    resets = [r.reset_s for r in results]
    return BenchRow(
        workers=workers,
        tasks=len(results),
        passed=sum(r.passed for r in results),
        wall_s=wall,
        reset_p50=percentile(resets, 50),
        reset_p95=percentile(resets, 95),
        memory=samples,
        failed=[r.id for r in results if not r.passed],
    )


def repeated(tasks: Sequence[Task], min_tasks: int) -> list[Task]:
    """The suite repeated (ids suffixed -r2, -r3...) to at least `min_tasks` tasks."""
    with_oracle = [t for t in tasks if t.oracle]
    out: list[Task] = []
    round_ = 1
    while len(out) < min_tasks and with_oracle:
        suffix = "" if round_ == 1 else f"-r{round_}"
        out.extend(t.model_copy(update={"id": t.id + suffix}) for t in with_oracle)
        round_ += 1
    return out


async def run_bench(
    tasks: Sequence[Task],
    parallel: Sequence[int] = (1, 2, 4),
    min_tasks: int = 12,
    options: EnvironmentOptions | None = None,
) -> list[BenchRow]:
    work = repeated(tasks, min_tasks)
    rows = []
    with tempfile.TemporaryDirectory(prefix="deskhand-eval-bench-") as folder:
        for workers in parallel:
            out = Path(folder) / f"w{workers}"
            rows.append(await bench_workers(work, workers, options or EnvironmentOptions(), out))
    return rows


def table(rows: Sequence[BenchRow]) -> Any:
    from rich.table import Table

    view = Table(title="deskhand eval bench (oracle agent)")
    for name in (
        "desktops",
        "tasks",
        "passed",
        "wall s",
        "tasks/hour",
        "reset p50",
        "reset p95",
        "PSS/desktop",
        "RSS/desktop",
    ):
        view.add_column(name, justify="right")
    for row in rows:
        data = row.to_json()
        view.add_row(
            str(row.workers),
            str(row.tasks),
            str(row.passed),
            f"{row.wall_s:.1f}",
            f"{row.tasks_per_hour:,.0f}",
            f"{row.reset_p50:.2f} s",
            f"{row.reset_p95:.2f} s",
            f"{data['pss_mb_max']:.0f} MB",
            f"{data['rss_mb_max']:.0f} MB",
        )
    return view
