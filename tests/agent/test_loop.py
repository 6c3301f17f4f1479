"""The agent loop end to end: the official SDK against the Messages-API emulator, tool calls
executed on a real sandboxed desktop, effects checked on the desktop and in the run record."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from deskhand.agent import events as ev
from deskhand.agent.budget import Budgets
from deskhand.agent.config import RunConfig
from deskhand.agent.context import PRUNED_TEXT, ContextPolicy
from deskhand.agent.loop import Agent, RunResult, run_sync
from deskhand.agent.providers import RetryPolicy, make_provider
from deskhand.runs.index import RunIndex
from deskhand.sandbox.desktop import Desktop
from emulator.script import (
    RecordedRequest,
    Reply,
    Text,
    Thinking,
    ToolUse,
    authentication_failed,
    overloaded,
    rate_limited,
)
from emulator.server import Emulator

API_KEY = "sk-ant-loop-test-key-must-never-be-recorded"
MODEL = "claude-sonnet-4-6"  # the emulator answers any model; this one has a price
SCREENSHOT = {"action": "screenshot"}


def computer(action: str, **params: Any) -> ToolUse:
    return ToolUse("computer", {"action": action, **params})


def done(text: str = "All done.") -> Reply:
    return Reply([Text(text)], "end_turn")


class Harness:
    """Builds agents wired to the emulator, a private run index and a run folder."""

    def __init__(self, emulator: Emulator, tmp_path: Path) -> None:
        self.emulator = emulator
        self.tmp_path = tmp_path
        self.index = RunIndex(tmp_path / "index.sqlite")
        self.events: list[ev.Event] = []
        self.answered = asyncio.Event()  # set at the first model turn
        self.runs = 0

    def agent(self, task: str = "Do the thing.", **config: Any) -> Agent:
        self.runs += 1
        provider = make_provider(
            "anthropic",
            api_key=API_KEY,
            base_url=self.emulator.base_url,
            retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05),
        )
        # The gate is tested on its own (tests/safety); here it lets the loop's mechanics run.
        config.setdefault("policy", "permissive")
        config.setdefault("screening", False)  # OCR costs ~1 s a screen; tested on its own
        run_config = RunConfig(
            task=task, model=MODEL, out=self.tmp_path / f"run{self.runs}", **config
        )
        return Agent(run_config, provider=provider, on_event=self.on_event, index=self.index)

    def on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        if isinstance(event, ev.ModelTurn):
            self.answered.set()

    async def run(self, desktop: Desktop, *turns: Any, **config: Any) -> RunResult:
        self.emulator.script.add(*turns)
        return await self.agent(**config).run(desktop)

    def of_kind(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.emulator.script.requests


@pytest.fixture
def harness(emulator: Emulator, tmp_path: Path) -> Harness:
    return Harness(emulator, tmp_path)


def result_for(request: RecordedRequest, tool_use_id: str) -> dict[str, Any]:
    return next(r for r in request.tool_results if r["tool_use_id"] == tool_use_id)


def text_of(block: dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def image_size(block: dict[str, Any]) -> tuple[int, int]:
    image = next(p for p in block["content"] if p["type"] == "image")
    data = base64.b64decode(image["source"]["data"])
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


def every_file_text(directory: Path) -> str:
    return "".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in directory.rglob("*")
        if path.is_file()
    )


async def test_typed_text_reaches_a_file_through_a_real_xterm(
    harness: Harness, desktop: Desktop
) -> None:
    target = desktop.home / "typed.txt"
    target.unlink(missing_ok=True)
    start_xterm = (
        "(xterm -T loop-typing -geometry 60x8+200+150 -e sh -c 'cat > ~/typed.txt' &) ; "
        "xdotool search --sync --name loop-typing >/dev/null && echo ready"
    )
    result = await harness.run(
        desktop,
        Reply([Text("I'll open a terminal."), ToolUse("bash", {"command": start_xterm})]),
        Reply([computer("left_click", coordinate=[320, 200])]),
        Reply([computer("type", text="héllo from the model\n"), computer("key", text="ctrl+d")]),
        done("I typed the line."),
    )
    assert result.status == "done" and result.exit_code == 0
    assert target.read_text() == "héllo from the model\n"
    assert result.final_text == "I typed the line."
    assert result.steps == 4


async def test_screenshot_has_the_declared_size_and_is_recorded(
    harness: Harness, desktop: Desktop
) -> None:
    result = await harness.run(desktop, Reply([computer("screenshot")]), done())
    tool = next(t for t in harness.requests[0].body["tools"] if t.get("name") == "computer")
    shot = result_for(harness.requests[1], harness.requests[1].tool_results[0]["tool_use_id"])
    assert image_size(shot) == (tool["display_width_px"], tool["display_height_px"])
    executed = harness.of_kind(ev.ToolExecuted)[0]
    saved = result.run_dir / executed.screenshot
    assert saved.is_file()
    with Image.open(saved) as picture:
        assert picture.size == tuple(executed.screenshot_size)


async def test_bash_state_persists_between_calls(harness: Harness, desktop: Desktop) -> None:
    first = ToolUse("bash", {"command": "export LOOP_VALUE=42; cd /tmp"})
    second = ToolUse("bash", {"command": "echo value=$LOOP_VALUE in $(pwd)"})
    await harness.run(desktop, Reply([first]), Reply([second]), done())
    assert "value=42 in /tmp" in text_of(result_for(harness.requests[2], second.id))


async def test_bad_tool_input_is_an_error_result_and_the_loop_goes_on(
    harness: Harness, desktop: Desktop
) -> None:
    bad = computer("left_click", coordinate=[-5, "left"])
    unknown = ToolUse("no_such_tool", {})
    after = computer("cursor_position")
    result = await harness.run(desktop, Reply([bad, unknown]), Reply([after]), done())
    assert result.status == "done"
    second = harness.requests[1]
    assert result_for(second, bad.id)["is_error"] is True
    assert "coordinate" in text_of(result_for(second, bad.id))
    assert "no tool named 'no_such_tool'" in text_of(result_for(second, unknown.id))
    assert "X=" in text_of(result_for(harness.requests[2], after.id))


async def test_several_calls_in_one_turn_run_in_order_and_are_all_answered(
    harness: Harness, desktop: Desktop
) -> None:
    calls = [ToolUse("bash", {"command": f"echo {n} >> ~/order.txt"}) for n in range(4)]
    (desktop.home / "order.txt").unlink(missing_ok=True)
    await harness.run(desktop, Reply(calls), done())
    assert (desktop.home / "order.txt").read_text().split() == ["0", "1", "2", "3"]
    assert [r["tool_use_id"] for r in harness.requests[1].tool_results] == [c.id for c in calls]


async def test_the_toolset_version_answers_members_with_their_toolset_name(
    harness: Harness, desktop: Desktop
) -> None:
    click = ToolUse("mouse_move", {"coordinate": [100, 100]}, toolset_name="computer")
    shot = ToolUse("screenshot", {}, toolset_name="computer")
    result = await harness.run(
        desktop, Reply([click, shot]), done(), tool_version="computer_toolset_20260801"
    )
    assert result.status == "done"
    first = harness.requests[0]
    assert first.betas == []
    assert any(t.get("type") == "computer_toolset_20260801" for t in first.body["tools"])
    answers = harness.requests[1].tool_results
    assert [a.get("toolset_name") for a in answers] == ["computer", "computer"]


async def test_a_step_budget_stops_the_run_cleanly(harness: Harness, desktop: Desktop) -> None:
    turns = [Reply([ToolUse("bash", {"command": f"echo {n}"})]) for n in range(5)]
    result = await harness.run(desktop, *turns, budgets=Budgets(max_steps=2))
    assert result.status == "budget_exceeded" and result.exit_code == 3
    assert "step budget" in result.reason
    assert len(harness.requests) == 2
    conversation = json.loads((result.run_dir / "conversation.json").read_text())
    assert conversation[-1]["role"] == "user"  # the last call was answered


async def test_a_cost_budget_stops_before_overspending(harness: Harness, desktop: Desktop) -> None:
    costly = {"input_tokens": 100_000, "output_tokens": 1_000}  # $0.315 a turn at Sonnet prices
    turns = [Reply([ToolUse("bash", {"command": "true"})], usage=costly) for _ in range(4)]
    result = await harness.run(desktop, *turns, budgets=Budgets(max_cost_usd=0.5))
    assert result.status == "budget_exceeded"
    assert result.cost_usd == pytest.approx(0.315)  # a second turn would have passed $0.50
    assert harness.emulator.script.pending == 3


async def test_a_stuck_model_is_told_then_stopped(harness: Harness, desktop: Desktop) -> None:
    same = [Reply([computer("mouse_move", coordinate=[700, 500])]) for _ in range(12)]
    result = await harness.run(desktop, *same)
    assert result.status == "stuck" and result.exit_code == 4
    requests = [json.dumps(r.body) for r in harness.requests]
    warned = [n for n, body in enumerate(requests) if "repeated the same action" in body]
    assert warned, "the model was never told it is repeating itself"
    # Warned after three identical calls (in the request after the third), stopped two calls
    # later. A screen change between calls (the panel clock ticking) can delay both a little.
    assert warned[0] + 1 == len(requests) - 1 <= 8
    assert harness.of_kind(ev.Notice)


async def test_an_overloaded_and_rate_limited_api_is_retried(
    harness: Harness, desktop: Desktop
) -> None:
    result = await harness.run(
        desktop, overloaded(), rate_limited(), overloaded(mid_stream=True), done("made it")
    )
    assert result.status == "done" and result.final_text == "made it"
    retries = harness.of_kind(ev.ModelRetry)
    assert len(retries) == 3
    assert len(harness.emulator.script.exchanges) == 4


async def test_an_auth_error_ends_the_run_with_its_own_status(
    harness: Harness, desktop: Desktop
) -> None:
    result = await harness.run(desktop, authentication_failed())
    assert result.status == "auth_error" and result.exit_code == 7
    assert API_KEY not in result.reason


async def test_refusal_is_never_success(harness: Harness, desktop: Desktop) -> None:
    result = await harness.run(desktop, Reply([Text("I can't help with that.")], "refusal"))
    assert result.status == "refused" and result.exit_code == 5


async def test_cut_off_tool_calls_are_answered_not_run(harness: Harness, desktop: Desktop) -> None:
    marker = desktop.home / "cut-off.txt"
    marker.unlink(missing_ok=True)
    cut = ToolUse("bash", {"command": f"touch {marker.name}"})
    result = await harness.run(desktop, Reply([Text("Let me"), cut], "max_tokens"), done())
    assert result.status == "done"
    answer = result_for(harness.requests[1], cut.id)
    assert answer["is_error"] is True and "cut off" in text_of(answer)
    assert not marker.exists()


async def test_a_paused_turn_is_continued_in_the_same_assistant_message(
    harness: Harness, desktop: Desktop
) -> None:
    result = await harness.run(
        desktop, Reply([Text("Working on it...")], "pause_turn"), done("finished")
    )
    assert result.status == "done"
    resent = harness.requests[1].messages
    assert resent[-1]["role"] == "assistant"
    conversation = json.loads((result.run_dir / "conversation.json").read_text())
    assert [m["role"] for m in conversation] == ["user", "assistant"]
    assert [b["text"] for b in conversation[1]["content"]] == ["Working on it...", "finished"]


async def test_context_window_exceeded_prunes_then_stops(
    harness: Harness, desktop: Desktop
) -> None:
    shots = [Reply([computer("screenshot")]) for _ in range(3)]
    full = Reply([Text("...")], "model_context_window_exceeded")
    result = await harness.run(
        desktop, *shots, full, Reply([computer("zoom", region=[0, 0, 200, 100])]), full
    )
    assert result.status == "context_exceeded" and result.exit_code == 8
    after_first = harness.requests[4]
    assert PRUNED_TEXT in json.dumps(after_first.body)
    images = json.dumps(after_first.body).count('"type": "image"')
    assert images == 1


async def test_thinking_blocks_are_sent_back_unchanged(harness: Harness, desktop: Desktop) -> None:
    from deskhand.agent.config import Thinking as ThinkingConfig

    thought = Thinking("The user wants a screenshot.", signature="sig-123")
    await harness.run(
        desktop,
        Reply([thought, computer("cursor_position")]),
        done(),
        thinking=ThinkingConfig("adaptive", effort="low"),
    )
    first = harness.requests[0].body
    assert first["thinking"] == {"type": "adaptive"}
    assert first["output_config"] == {"effort": "low"}
    echoed = harness.requests[1].messages[1]["content"][0]
    assert echoed == {"type": "thinking", "thinking": thought.thinking, "signature": "sig-123"}


async def test_caching_breakpoints_and_system_prompt(harness: Harness, desktop: Desktop) -> None:
    await harness.run(desktop, Reply([computer("cursor_position")]), done())
    second = harness.requests[1]
    assert second.cache_breakpoints
    system = second.body["system"][0]
    assert "screenshot" in system["text"] and "<credentials>" in system["text"]
    assert system["cache_control"] == {"type": "ephemeral"}
    assert second.betas == ["computer-use-2025-11-24"]


async def test_the_record_has_everything_but_the_key(harness: Harness, desktop: Desktop) -> None:
    result = await harness.run(
        desktop,
        Reply([Text(f"the key is {API_KEY}"), computer("left_click", coordinate=[50, 60])]),
        Reply([computer("left_click_drag", start_coordinate=[10, 10], coordinate=[90, 40])]),
        done(),
    )
    run_dir = result.run_dir
    kinds = [
        json.loads(line)["kind"]
        for line in (run_dir / "events.jsonl").read_text().split("\n")
        if line
    ]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("model_turn") == 3 and kinds.count("tool_result") == 2
    assert len(list((run_dir / "screenshots").iterdir())) == 2
    report = (run_dir / "report.html").read_text()
    assert "left_click_drag" in report and "<svg" in report
    assert API_KEY not in every_file_text(run_dir)
    row = harness.index.get(result.run_id)
    assert row is not None and row.status == "done" and row.steps == 3


async def test_interrupting_answers_dangling_calls_and_resume_continues(
    harness: Harness, desktop: Desktop
) -> None:
    slow = ToolUse("bash", {"command": "sleep 30"})
    harness.emulator.script.add(Reply([slow, computer("screenshot")]))
    agent = harness.agent()
    running = asyncio.create_task(agent.run(desktop))
    await harness.answered.wait()
    await asyncio.sleep(0.3)  # the sleep is running inside the desktop now
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    agent.stop()
    result = await running
    assert loop.time() - stopped_at < 1.0
    assert result.status == "interrupted" and result.exit_code == 130
    conversation = json.loads((result.run_dir / "conversation.json").read_text())
    answers = conversation[-1]["content"]
    assert len(answers) == 2 and answers[0]["tool_use_id"] == slow.id
    assert all(a["is_error"] and "stopped" in text_of(a) for a in answers)

    harness.emulator.script.add(done("resumed fine"))
    resumed = Agent.resume(
        result.run_dir,
        instruction="Please finish.",
        provider=make_provider("anthropic", api_key=API_KEY, base_url=harness.emulator.base_url),
        index=harness.index,
    )
    second = await resumed.run(desktop)
    assert second.status == "done" and second.final_text == "resumed fine"
    assert second.run_id == result.run_id and second.steps == 2
    sent = harness.requests[-1].messages
    assert "resumed on a fresh desktop" in json.dumps(sent[-1]) and "Please finish." in json.dumps(
        sent[-1]
    )


def _turns_with_screenshots(count: int) -> list[Reply]:
    """Steps that each move the pointer somewhere new, so each screenshot differs."""
    moves = [Reply([computer("mouse_move", coordinate=[100 + 40 * n, 300])]) for n in range(count)]
    return [*moves, done()]


@pytest.mark.parametrize(
    ("policy", "label"),
    [
        (ContextPolicy(keep_images=None, caching=False), "no pruning, no caching"),
        (ContextPolicy(keep_images=None, caching=True), "caching only (reference)"),
        (ContextPolicy(keep_images=8, chunk=8, caching=False), "pruning only"),
        (ContextPolicy(keep_images=8, chunk=8, caching=True), "pruning + caching"),
    ],
)
async def test_tokens_per_step_with_and_without_pruning_and_caching(
    harness: Harness,
    desktop: Desktop,
    policy: ContextPolicy,
    label: str,
    record_property: Callable[[str, object], None],
) -> None:
    """Input tokens per step over 32 screenshot steps, by context policy (the emulator
    estimates tokens as the API bills them and models the prompt cache)."""
    await harness.run(desktop, *_turns_with_screenshots(32), context=policy)
    turns = harness.of_kind(ev.ModelTurn)
    uncached = sum(t.usage.input_tokens + t.usage.cache_creation_input_tokens for t in turns)
    read = sum(t.usage.cache_read_input_tokens for t in turns)
    last = turns[-1].usage
    figures = {
        "policy": label,
        "steps": len(turns),
        "input_tokens_per_step": round((uncached + read) / len(turns)),
        "uncached_input_per_step": round(uncached / len(turns)),
        "cache_read_per_step": round(read / len(turns)),
        "last_request_tokens": last.input_tokens
        + last.cache_creation_input_tokens
        + last.cache_read_input_tokens,
        "cost_usd": round(turns[-1].total_cost_usd, 4),
    }
    record_property("tokens_per_step", figures)
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with (artifacts / "tokens_per_step.jsonl").open("a") as out:
        out.write(json.dumps(figures) + "\n")
    if policy.keep_images is not None:
        assert figures["last_request_tokens"] < 16 * 1500  # at most 2 * keep screenshots
    if policy.caching:
        assert read > 0


def test_the_sync_api_runs_on_its_own_desktop(emulator: Emulator, tmp_path: Path) -> None:
    emulator.script.add(Reply([ToolUse("bash", {"command": "echo sync"})]), done("sync done"))
    seen: list[str] = []
    result = run_sync(
        RunConfig("Say hi.", model=MODEL, out=tmp_path / "run", screen=(800, 600)),
        provider=make_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url),
        index=RunIndex(tmp_path / "index.sqlite"),
        on_event=lambda event: seen.append(event.kind),
    )
    assert result.ok and result.final_text == "sync done"
    assert seen[0] == "run_started" and seen[-1] == "run_finished" and "tool_result" in seen
    tool = emulator.script.requests[0].body["tools"][0]
    assert (tool["display_width_px"], tool["display_height_px"]) == (800, 600)


async def test_the_sync_api_works_inside_a_running_loop(emulator: Emulator, tmp_path: Path) -> None:
    """As in a notebook: an event loop is already running in this thread."""
    emulator.script.add(done("from a notebook"))
    result = run_sync(
        RunConfig("Say hi.", model=MODEL, out=tmp_path / "run"),
        provider=make_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url),
        index=RunIndex(tmp_path / "index.sqlite"),
    )
    assert result.ok and result.final_text == "from a notebook"


async def test_vertex_runs_the_same_loop(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    emulator.script.add(Reply([computer("cursor_position")]), done("via vertex"))
    provider = make_provider(
        "vertex",
        api_key="vertex-access-token-for-tests",
        base_url=emulator.vertex_base_url,
        region="us-east5",
        project_id="deskhand-test",
    )
    config = RunConfig("Where is the pointer?", model=MODEL, provider="vertex", out=tmp_path / "r")
    agent = Agent(config, provider=provider, index=RunIndex(tmp_path / "index.sqlite"))
    result = await agent.run(desktop)
    assert result.ok and result.final_text == "via vertex"
    assert "streamRawPredict" in emulator.script.requests[0].path
    assert "vertex-access-token-for-tests" not in every_file_text(result.run_dir)


async def test_a_failing_callback_still_ends_in_a_complete_record(
    harness: Harness, desktop: Desktop
) -> None:
    def explode(event: ev.Event) -> None:
        if isinstance(event, ev.ToolExecuted):
            raise RuntimeError("a bug in the caller's callback")

    harness.emulator.script.add(Reply([computer("cursor_position")]), done())
    agent = harness.agent()
    agent.listeners.append(explode)
    result = await agent.run(desktop)
    assert result.status == "error" and "callback" in result.reason and result.exit_code == 1
    kinds = [event["kind"] for event in agent.record.events()]
    assert kinds[-2:] == ["notice", "run_finished"]
    conversation = json.loads((result.run_dir / "conversation.json").read_text())
    assert conversation[-1]["content"][0]["type"] == "tool_result"  # still valid to resume


async def test_each_run_starts_in_a_fresh_shell(harness: Harness, desktop: Desktop) -> None:
    leave = ToolUse("bash", {"command": "cd /tmp && export LEFT_BEHIND=1"})
    await harness.run(desktop, Reply([leave]), done())
    look = ToolUse("bash", {"command": "echo cwd=$(pwd) left=${LEFT_BEHIND:-none}"})
    await harness.run(desktop, Reply([look]), done())
    assert "cwd=/home/user left=none" in text_of(result_for(harness.requests[-1], look.id))
