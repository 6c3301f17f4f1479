"""The model agent is `deskhand run`'s own loop: the Messages-API emulator plays the oracle's
tool calls as model turns, through the official SDK, the gate and the egress proxy, on the
evaluation's desktop; the checker then passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskhand.agent.providers import RetryPolicy, make_provider
from deskhand.agent.providers.base import Provider
from deskhand.evals.agents import ModelAgent, substitute
from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.osworld.cli import BUNDLED_TASKS
from deskhand.evals.osworld.harness import FAIL_NOTE, load_osworld_suite
from deskhand.evals.runnable import select
from deskhand.evals.runner import evaluate
from deskhand.evals.tasks import Task
from emulator.script import RecordedRequest, Reply, Text, ToolUse
from emulator.server import Emulator

pytestmark = pytest.mark.desktop

TOOL_NAMES = {"computer": "computer", "bash": "bash", "editor": "str_replace_based_edit_tool"}


def oracle_turns(task: Task) -> list[Any]:
    """One model turn per oracle call; the site address is read from the task as the model got
    it (the first request), exactly as a model would copy it."""
    turns: list[Any] = []
    for call in task.oracle or []:

        def turn(request: RecordedRequest, call: Any = call) -> Reply:
            first = request.messages[0]["content"][0]["text"]
            site = first.split("http://site.test:", 1)[1].split("/", 1)[0]
            tool_input = substitute(call.input, f"http://site.test:{site}")
            return Reply([Text("Next step."), ToolUse(TOOL_NAMES[call.tool], tool_input)])

        turns.append(turn)
    return [*turns, Reply([Text("Done.")], "end_turn")]


async def test_the_model_agent_passes_through_the_emulator(
    emulator: Emulator, tasks: dict[str, Task], env_options: EnvironmentOptions, tmp_path: Path
) -> None:
    task = tasks["site-form"]
    emulator.script.add(*oracle_turns(task))

    def provider() -> Provider:
        return make_provider(
            "anthropic",
            api_key="sk-ant-eval-test-0000",
            base_url=emulator.base_url,
            retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05),
        )

    agent = ModelAgent(
        model="claude-sonnet-4-6",
        policy="permissive",
        screening=False,
        provider_factory=provider,
    )
    [result] = await evaluate([task], agent, tmp_path / "eval", environment=env_options)
    assert result.passed, result
    assert result.status == "done" and result.steps == len(task.oracle or []) + 1
    assert result.tokens > 0 and result.cost_usd > 0 and result.model_s > 0
    first = emulator.script.requests[0]
    assert "http://site.test:" in first.messages[0]["content"][0]["text"]
    assert "{site}" not in json.dumps(first.body)
    run_dir = Path(result.run_dir or "")
    assert (run_dir / "report.html").is_file() and (run_dir / "events.jsonl").is_file()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    kinds = {event["kind"] for event in events}
    assert {"run_started", "model_turn", "tool_result", "gate", "run_finished"} <= kinds
    # The egress proxy's decisions reach the run's own events.
    egress = [e for e in events if e["kind"] == "egress"]
    assert egress and all(e["allowed"] and e["host"] == "site.test" for e in egress)
    report = (tmp_path / "eval" / "report.html").read_text()
    assert "runs/site-form/report.html" in report and "tokens" in report


async def test_the_default_gate_applies_and_a_budget_ends_the_task(
    emulator: Emulator, tasks: dict[str, Task], env_options: EnvironmentOptions, tmp_path: Path
) -> None:
    task = tasks["shell-sum"].model_copy(update={"max_steps": 1})
    emulator.script.add(
        Reply([ToolUse("bash", {"command": "echo 1 > ~/sum.txt"})]),
        Reply([ToolUse("bash", {"command": "echo 2 > ~/sum.txt"})]),
    )

    def provider() -> Provider:
        return make_provider(
            "anthropic", api_key="sk-ant-eval-test-0001", base_url=emulator.base_url
        )

    agent = ModelAgent(policy="default", screening=False, provider_factory=provider)
    [result] = await evaluate([task], agent, tmp_path / "eval", environment=env_options)
    assert not result.passed and result.status == "budget_exceeded" and result.attempts == 1
    assert result.steps == 1


async def test_the_model_agent_runs_osworld_tasks_and_can_answer_fail(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`deskhand eval osworld --agent model`: OSWorld's setup, the model's bash call (the
    task's oracle, sent by the emulator as a model turn), OSWorld's evaluator; and an infeasible
    task the model declines with FAIL, as the instruction tells it to."""
    rename, bluetooth = (
        "os/e0df059f-28a6-4169-924f-b9623e7184cc",
        "os/b3d4a89c-53f2-4d6b-8b6a-541fb5d205fa",
    )
    tasks = select(load_osworld_suite(BUNDLED_TASKS), [rename, bluetooth])
    by_id = {task.id: task for task in tasks}
    [call] = by_id[rename].oracle or []
    emulator.script.add(
        Reply([ToolUse("bash", call.input)]),
        Reply([Text("Renamed the file.")], "end_turn"),
        Reply([Text("This computer has no Bluetooth to switch off.\n\nFAIL")], "end_turn"),
    )

    def provider() -> Provider:
        return make_provider(
            "anthropic", api_key="sk-ant-eval-test-0002", base_url=emulator.base_url
        )

    agent = ModelAgent(screening=False, provider_factory=provider)
    results = await evaluate(
        [by_id[rename], by_id[bluetooth]],
        agent,
        tmp_path / "eval",
        environment=EnvironmentOptions(width=1920, height=1080),
    )
    by_result = {r.id: r for r in results}
    assert {(r.id, r.passed, r.status) for r in results} == {
        (rename, True, "done"),
        (bluetooth, True, "done"),
    }, results
    assert by_result[bluetooth].answer.endswith("FAIL")
    first = emulator.script.requests[0].messages[0]["content"][0]["text"]
    assert first.endswith(FAIL_NOTE) and "todo_list_Jan_1" in first
