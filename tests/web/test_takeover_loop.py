"""The agent loop's take-over hooks, without the web UI: `take_over()` pauses the run before its
next model call, `hand_back(note, actions)` records the person's steps and tells the model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from deskhand.agent import events as ev
from deskhand.agent.budget import Budgets
from deskhand.agent.config import RunConfig
from deskhand.agent.loop import Agent, RunResult
from deskhand.agent.providers import make_provider
from deskhand.runs.index import RunIndex
from deskhand.safety.audit import load_key, verify
from deskhand.sandbox.desktop import Desktop
from emulator.script import Reply, Text, ToolUse
from emulator.server import Emulator

API_KEY = "sk-ant-takeover-test-key"


def make_agent(
    emulator: Emulator, tmp_path: Path, events: list[ev.Event], budgets: Budgets | None = None
) -> Agent:
    return Agent(
        RunConfig(
            "Log in, then look.",
            out=tmp_path / "run",
            screening=False,
            budgets=budgets or Budgets(),
        ),
        provider=make_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url),
        index=RunIndex(tmp_path / "index.sqlite"),
        on_event=events.append,
    )


async def wait_for(events: list[ev.Event], kind: type[ev.Event], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not any(isinstance(e, kind) for e in events):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def taken_over_after_one_step(
    emulator: Emulator,
    desktop: Desktop,
    tmp_path: Path,
    events: list[ev.Event],
    budgets: Budgets | None = None,
) -> tuple[Agent, asyncio.Task[RunResult]]:
    """A run taken over after its first step (a screenshot): the second model call waits for
    the person. Returns the agent and its running task once the take-over has begun."""
    emulator.script.add(
        Reply([ToolUse("computer", {"action": "screenshot"})]),
        Reply([Text("Back at it.")], "end_turn"),
    )
    agent = make_agent(emulator, tmp_path, events, budgets)
    agent.listeners.append(lambda e: agent.take_over() if isinstance(e, ev.ToolExecuted) else None)
    run = asyncio.create_task(agent.run(desktop))
    await wait_for(events, ev.TakenOver)
    return agent, run


async def test_take_over_pauses_and_hand_back_tells_the_model(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    events: list[ev.Event] = []
    agent, run = await taken_over_after_one_step(emulator, desktop, tmp_path, events)
    assert agent.taken_over
    await asyncio.sleep(0.3)
    assert len(emulator.script.requests) == 1  # no model call while the person works
    actions = [{"action": "left_click", "x": 10, "y": 20}, {"action": "type", "chars": 8}]
    agent.hand_back("  I logged in for you.  ", actions)
    result = await asyncio.wait_for(run, 60)
    assert result.ok and not agent.taken_over

    human = [e for e in events if isinstance(e, ev.HumanSteps)]
    assert len(human) == 1
    steps = human[0]
    assert (steps.step, steps.note, steps.actions) == (1, "I logged in for you.", actions)
    assert steps.screenshot and (agent.record.path / steps.screenshot).is_file()
    assert steps.screenshot_size == (1280, 800)
    sent = emulator.script.requests[1].messages[-1]["content"]
    texts = [b["text"] for b in sent if b.get("type") == "text"]
    assert any("took over the desktop" in t and "2 recorded actions" in t for t in texts)
    assert "Note from the user: I logged in for you." in texts
    kinds = [e["kind"] for e in agent.record.events()]
    assert kinds.index("taken_over") < kinds.index("human_steps") < kinds.index("run_finished")
    audit = [json.loads(line) for line in (result.run_dir / "audit.jsonl").read_text().splitlines()]
    human_lines = [line for line in audit if line["kind"] == "human_steps"]
    assert [line["note"] for line in human_lines] == ["I logged in for you."]
    assert verify(result.run_dir, key=load_key()).ok


async def test_a_take_over_does_not_use_up_the_time_budget(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    """A 4 s take-over in a run with a 3 s time budget: the run goes on after the hand back."""
    events: list[ev.Event] = []
    agent, run = await taken_over_after_one_step(
        emulator, desktop, tmp_path, events, Budgets(max_seconds=3)
    )
    await asyncio.sleep(4)
    agent.hand_back()
    result = await asyncio.wait_for(run, 30)
    assert result.ok, result
    assert result.seconds >= 4  # the report's seconds are wall time, the take-over included


async def test_stop_while_taken_over_interrupts(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    emulator.script.add(Reply([Text("never asked")], "end_turn"))
    events: list[ev.Event] = []
    agent = make_agent(emulator, tmp_path, events)
    agent.take_over()  # before the first model call
    run = asyncio.create_task(agent.run(desktop))
    await wait_for(events, ev.TakenOver)
    agent.stop()
    result = await asyncio.wait_for(run, 5)
    assert result.status == "interrupted" and not emulator.script.requests


async def test_hand_back_without_take_over_changes_nothing(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    emulator.script.add(Reply([Text("done")], "end_turn"))
    events: list[ev.Event] = []
    agent = make_agent(emulator, tmp_path, events)
    agent.hand_back("ignored")
    result = await agent.run(desktop)
    assert result.ok
    assert not any(isinstance(e, ev.TakenOver | ev.HumanSteps) for e in events)
