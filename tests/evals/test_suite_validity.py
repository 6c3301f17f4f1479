"""Checker validity of the built-in suite: every task's oracle passes, a do-nothing agent fails
every task, and every near-miss (a plausible wrong solution) fails, on real sandboxed desktops.

All runs go through the harness's own runner (`deskhand.evals.runner.evaluate`: reset, act,
check) on two desktops in parallel. Each task is run as `<id>--oracle` and, when it has one,
`<id>--near`, so one evaluation balances all of them over the workers. The do-nothing run shares
the oracle's reset: the checker runs once on the freshly set-up desktop, before the oracle's
first action, which is exactly the state the null agent leaves (it acts on nothing).

Every oracle and near-miss is played by the harness's oracle agent, whose calls go through the
action gate with the default policy and nobody to approve, as `deskhand eval --agent oracle`
and a non-interactive model run meet them. Safety tasks (their file says they pass only when
the safety gate stops the oracle) have the unsafe action sequence as their oracle, so they pass
only if the gate refuses it.

The quick tests at the top need no desktop: the suite loads, ids are unique, every skill the
tools offer is exercised, every task has an oracle, and every page the suite uses exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest

from deskhand.evals.agents import AgentOutcome, OracleAgent
from deskhand.evals.environment import TaskEnvironment
from deskhand.evals.results import TaskResult
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.runner import evaluate
from deskhand.evals.site import default_root
from deskhand.evals.tasks import Skill, Task, ToolCall, load_suite

SUITE = load_suite("builtin")
BY_ID = {task.id: task for task in SUITE}
WITH_NEAR_MISS = [task for task in SUITE if task.near_miss]
WORKERS = 2
MIN_TASKS, MIN_NEAR_MISSES = 60, 10
PAGE_LINK = re.compile(r"""(?:href|src|action)=["'](/[^"'?#]*)""")
GATE_MARK = "it passes only when the safety gate stops"
EXTERNAL = re.compile(r"(?:https?:)?//(?!site\.test)[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


def ids(tasks: list[Task]) -> list[str]:
    return [task.id for task in tasks]


# -- quick checks (no desktop) ----------------------------------------------------------------


def test_the_suite_is_large_unique_and_every_task_has_an_oracle() -> None:
    assert len(SUITE) >= MIN_TASKS
    assert len(BY_ID) == len(SUITE)
    assert [task.id for task in SUITE if not task.oracle] == []
    assert len(WITH_NEAR_MISS) >= MIN_NEAR_MISSES
    for task in SUITE:
        assert task.source is not None and task.source.name == f"{task.id}.yaml"


def test_every_skill_is_exercised_by_some_task() -> None:
    covered = {skill for task in SUITE for skill in task.skills}
    assert set(get_args(Skill)) - covered == set()


def test_every_category_has_tasks() -> None:
    categories = {task.category for task in SUITE}
    assert categories == {"calculator", "editor", "terminal", "files", "browser", "mixed"}


def _actions(calls: list[ToolCall]) -> set[str]:
    names = set()
    for call in calls:
        names.add(str(call.input["action"]) if call.tool == "computer" else call.tool)
    return names


@pytest.mark.parametrize("task", SUITE, ids=ids(SUITE))
def test_the_oracle_uses_the_skills_the_task_claims(task: Task) -> None:
    """A skill listed for a task is one its oracle really exercises (so coverage is honest)."""
    assert task.oracle is not None
    assert set(task.skills) - _actions(task.oracle) == set()


def test_every_page_and_link_of_the_site_exists_and_nothing_is_external() -> None:
    root = default_root()
    for task in SUITE:
        if task.setup.page is not None:
            assert (root / task.setup.page).is_file(), f"{task.id}: no page {task.setup.page}"
    for path in root.rglob("*"):
        if path.suffix not in {".html", ".css", ".js"}:
            continue
        text = path.read_text(encoding="utf-8")
        assert EXTERNAL.search(text) is None, f"{path.name} refers to another site"
        for link in PAGE_LINK.findall(text):
            assert (root / link.lstrip("/")).is_file() or not link.endswith(
                (".html", ".css", ".js")
            ), f"{path.name} links to a missing {link}"


def test_safety_tasks_are_checked_by_what_the_site_never_received() -> None:
    safety = [task for task in SUITE if gated(task)]
    assert safety, "the suite has no task the safety gate must stop"
    for task in safety:
        assert "site_no_request" in task.checker.names(), task.id


# -- the desktop runs ---------------------------------------------------------------------


def gated(task: Task) -> bool:
    """A safety task: its file says it passes only when the gate stops the oracle."""
    assert task.source is not None
    return GATE_MARK in task.source.read_text(encoding="utf-8")


@dataclass
class ValidityAgent:
    """Plays a variant of a suite task with the harness's own oracle agent (its calls go through
    the action gate, default policy, nobody to approve): `--oracle` (after checking the
    untouched desktop, the null agent's result) or `--near`."""

    name: str = "validity"

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        original, mode = split(task.id)
        null = await env.check(BY_ID[original]) if mode == "oracle" else None
        player = OracleAgent(near_miss=mode == "near")
        outcome = await player.act(BY_ID[original], env, run_dir)
        if null is not None:
            outcome.extra["null"] = null.to_json()
        return outcome


def split(variant_id: str) -> tuple[str, str]:
    original, _, mode = variant_id.rpartition("--")
    return original, mode


def variants() -> Iterator[Task]:
    for task in SUITE:
        yield task.model_copy(update={"id": f"{task.id}--oracle"})
        if task.near_miss:
            yield task.model_copy(update={"id": f"{task.id}--near"})


def table(results: dict[str, TaskResult]) -> list[str]:
    lines = [f"{'task':32} {'oracle':>12} {'null':>12} {'near miss':>12} {'reset':>7}"]

    def cell(result: TaskResult | None, want: bool) -> str:
        if result is None:
            return "-"
        mark = "ok" if result.passed == want and not result.error else "WRONG"
        return f"{mark} {result.seconds:5.1f}s"

    for task in SUITE:
        oracle = results.get(f"{task.id}--oracle")
        null = null_result(oracle)
        resets = [r.reset_s for k, r in results.items() if split(k)[0] == task.id]
        lines.append(
            f"{task.id:32} {cell(oracle, True):>12} "
            f"{'-' if null is None else ('WRONG' if null['passed'] else 'ok'):>12} "
            f"{cell(results.get(f'{task.id}--near'), False):>12} "
            f"{max(resets, default=0):6.2f}s"
        )
    total = sum(r.seconds for r in results.values())
    lines.append(
        f"{len(results)} runs (the null check shares the oracle's reset), {total:.0f} s of task"
        f" time on {WORKERS} desktops"
    )
    return lines


@pytest.fixture(scope="module")
async def validity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TaskResult]:
    out = tmp_path_factory.mktemp("validity")
    results = await evaluate(
        list(variants()),
        ValidityAgent(),
        out,
        workers=WORKERS,
        timeout=60,
        retries=1,
    )
    return {result.id: result for result in results}


def null_result(oracle: TaskResult | None) -> dict[str, Any] | None:
    """The checker's verdict on the untouched desktop, recorded before the oracle acted."""
    if oracle is None:
        return None
    null = oracle.extra.get("null")
    return null if isinstance(null, dict) else None


def explain(result: TaskResult) -> str:
    return f"{result.id}: {result.status} {result.error or ''} {result.detail}"


@pytest.mark.desktop
@pytest.mark.timeout(900)
@pytest.mark.parametrize("task", SUITE, ids=ids(SUITE))
def test_the_oracle_passes(validity: dict[str, TaskResult], task: Task) -> None:
    result = validity[f"{task.id}--oracle"]
    assert result.passed and result.error is None, explain(result)
    if gated(task):  # the gate refused the unsafe step; nothing else stopped the run
        assert result.safety_events >= 1, explain(result)


@pytest.mark.desktop
@pytest.mark.timeout(900)
@pytest.mark.parametrize("task", SUITE, ids=ids(SUITE))
def test_doing_nothing_fails(validity: dict[str, TaskResult], task: Task) -> None:
    oracle = validity[f"{task.id}--oracle"]
    null = null_result(oracle)
    assert null is not None, explain(oracle)
    assert not null["passed"], f"{task.id}: the untouched desktop passes: {null['detail']}"


@pytest.mark.desktop
@pytest.mark.timeout(900)
@pytest.mark.parametrize("task", WITH_NEAR_MISS, ids=ids(WITH_NEAR_MISS))
def test_the_near_miss_fails(validity: dict[str, TaskResult], task: Task) -> None:
    result = validity[f"{task.id}--near"]
    assert result.status not in {"setup_error", "infrastructure", "timeout"}, explain(result)
    assert not result.passed, explain(result)


@pytest.mark.desktop
def test_print_the_timings(
    validity: dict[str, TaskResult], capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a check: the table of what every run did and how long it took."""
    with capsys.disabled():
        print("\n" + "\n".join(table(validity)))
    assert len(validity) == len(SUITE) + len(WITH_NEAR_MISS)
