"""Agents the harness can evaluate: `oracle`, `null`, `replay RUN` and `model`.

An agent acts on a `TaskEnvironment` that has already been reset for the task and returns an
`AgentOutcome`; the harness runs the checker afterwards. Scripted agents (oracle, replay) send
their tool calls through the same safety gate (with nobody to approve: "ask" means no) and the
same `Toolbox` the agent loop uses, and record them as a run (`events.jsonl` with `gate` and
`tool_result` lines, so `replay` can play any recorded run again). The `model` agent is
`deskhand.agent.loop.Agent` itself: the same loop, budgets and safety gate as `deskhand run`,
on the environment's desktop.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deskhand.agent import events as ev
from deskhand.agent.toolbox import Toolbox, ToolOutcome, ToolVersions
from deskhand.computer import GuestConnectionLost
from deskhand.evals.environment import InfrastructureError, TaskEnvironment
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.tasks import SITE_PLACEHOLDER, ToolCall
from deskhand.runs.record import RunRecord, new_run_id
from deskhand.safety.confirm import NoHuman
from deskhand.safety.gate import Gate, read_region
from deskhand.safety.policy import DEFAULT_POLICY, load_policy
from deskhand.tools.computer import ScreenshotSettings

DEFAULT_TOOL_VERSION = "computer_20251124"
# Written into every run directory: the site's address during that run, so a replay on another
# desktop (another port) can point the same calls at its own site.
SITE_FILE = "eval-site.json"
AGENT_NAMES = ("oracle", "null", "replay", "model")


@dataclass
class AgentOutcome:
    steps: int = 0
    status: str = "done"  # the agent's own verdict: done, budget_exceeded, error, ...
    reason: str = ""
    run_dir: Path | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    model_s: float = 0.0
    tool_s: float = 0.0
    safety_events: int = 0
    answer: str = ""  # the agent's final message (OSWorld's FAIL declares a task infeasible)
    extra: dict[str, Any] = field(default_factory=dict)


class EvalAgent(Protocol):
    name: str

    async def act(
        self, task: RunnableTask, env: TaskEnvironment, run_dir: Path
    ) -> AgentOutcome: ...


def note_site(run_dir: Path, site_url: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SITE_FILE).write_text(json.dumps({"site_url": site_url}) + "\n")


def recorded_site(run_dir: Path) -> str | None:
    try:
        value = json.loads((run_dir / SITE_FILE).read_text())["site_url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) and value else None


def retarget(value: Any, old: str, new: str) -> Any:
    """Every occurrence of the old site address in a tool input replaced by the new one."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [retarget(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: retarget(item, old, new) for key, item in value.items()}
    return value


def substitute(value: Any, site_url: str) -> Any:
    """`{site}` replaced by the site's URL in every string of a tool input."""
    if isinstance(value, str):
        return value.replace(SITE_PLACEHOLDER, site_url)
    if isinstance(value, list):
        return [substitute(item, site_url) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, site_url) for key, item in value.items()}
    return value


class ScriptedRun:
    """Tool calls run through the safety gate and a Toolbox on the environment's desktop,
    recorded as a run. A call the gate refuses is recorded with the gate's message as its
    error and counted as a safety event; the script goes on, as a model would."""

    def __init__(self, env: TaskEnvironment, run_dir: Path, toolbox: Toolbox, gate: Gate) -> None:
        self.env = env
        self.toolbox = toolbox
        self.gate = gate
        self.record = RunRecord.create(run_dir, new_run_id())
        note_site(run_dir, env.site_url)
        self.steps = 0
        self.tool_s = 0.0
        self.refused = 0
        self.started = time.monotonic()

    @classmethod
    async def open(
        cls, env: TaskEnvironment, run_dir: Path, version: str, policy: str = DEFAULT_POLICY
    ) -> ScriptedRun:
        computer = env.live.computer
        toolbox = await Toolbox.create(
            computer, ToolVersions.for_computer(version), screenshots=ScreenshotSettings()
        )
        gate = Gate(
            policy=load_policy(policy),
            confirmer=NoHuman(),
            computer=computer,
            geometry=toolbox.computer.geometry,
            egress=env.egress_rules(),
            ocr=read_region,
        )
        return cls(env, run_dir, toolbox, gate)

    def tool_name(self, tool: str) -> str:
        return {"bash": self.toolbox.bash.name, "editor": self.toolbox.editor.name}.get(tool, tool)

    async def call(self, name: str, tool_input: dict[str, Any]) -> None:
        self.steps += 1
        tool_id = f"toolu_{self.steps:04d}"
        start = time.perf_counter()
        try:
            outcome = await self._gated(tool_id, name, tool_input)
        except GuestConnectionLost as exc:
            raise InfrastructureError(f"the guest was lost: {exc}") from exc
        elapsed = time.perf_counter() - start
        self.tool_s += elapsed
        computer = self.toolbox.is_computer(name)
        self.record.append(
            self.record.tool_executed(
                self.steps, tool_id, name, tool_input, outcome.result, elapsed * 1000, computer
            )
        )

    async def _gated(self, tool_id: str, name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        kind, action = self.toolbox.classify(name, tool_input)
        if kind is not None:
            gated = await self.gate.check(self.steps, tool_id, name, kind, action, tool_input)
            self.record.append(
                gated.event(self.record.run_id, self.steps, tool_id, name, tool_input)
            )
            if not gated.run:
                self.refused += 1
                return self.toolbox.not_run(tool_id, name, gated.message)
        return await self.toolbox.run(tool_id, name, tool_input)

    def outcome(self, answer: str = "") -> AgentOutcome:
        """Finish the record (its final message is `answer`) and say what happened."""
        self.record.append(
            ev.RunFinished(
                self.record.run_id,
                status="done",
                reason="the script ended",
                steps=self.steps,
                usage=ev.Usage(),
                cost_usd=0.0,
                seconds=time.monotonic() - self.started,
                model_ms=0.0,
                tool_ms=self.tool_s * 1000,
                final_text=answer,
            )
        )
        extra: dict[str, Any] = {}
        with contextlib.suppress(Exception):  # the report is a convenience, not the result
            extra["report"] = str(self.record.write_report())
        return AgentOutcome(
            steps=self.steps,
            run_dir=self.record.path,
            tool_s=self.tool_s,
            safety_events=self.refused,
            answer=answer,
            extra=extra,
        )


@dataclass
class OracleAgent:
    """Plays the task's oracle (or, with `near_miss=True`, its near-miss) tool calls, then
    gives the oracle's final answer."""

    near_miss: bool = False
    tool_version: str = DEFAULT_TOOL_VERSION
    policy: str = DEFAULT_POLICY
    name: str = "oracle"

    def calls(self, task: RunnableTask) -> Sequence[ToolCall]:
        calls = task.near_miss if self.near_miss else task.oracle
        if calls is None:
            kind = "near_miss" if self.near_miss else "oracle"
            raise ValueError(f"task {task.id} has no {kind}")
        return calls

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        calls = self.calls(task)
        run = await ScriptedRun.open(env, run_dir, self.tool_version, self.policy)
        for call in calls:
            await run.call(run.tool_name(call.tool), substitute(call.input, env.site_url))
        return run.outcome("" if self.near_miss else task.oracle_answer)


@dataclass
class NullAgent:
    """Does nothing: every checker must fail on the untouched setup."""

    name: str = "null"

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        return AgentOutcome(steps=0, run_dir=None)


def recorded_run(run_dir: Path) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """The tool calls of a recorded run, in order, and its final message (events.jsonl)."""
    events = run_dir / "events.jsonl"
    if not events.is_file():
        raise FileNotFoundError(f"{run_dir} has no events.jsonl: not a run directory")
    calls, answer = [], ""
    for line in events.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("kind") == "tool_result":
            calls.append((str(event["name"]), dict(event["input"])))
        elif event.get("kind") == "run_finished":
            answer = str(event.get("final_text", answer))
    return calls, answer


@dataclass
class ReplayAgent:
    """Replays a recorded run's tool calls and final message. `source` is one run directory,
    or a folder of an evaluation (`<out>/runs/<task id>/`), where each task finds its own run."""

    source: Path
    tool_version: str = DEFAULT_TOOL_VERSION
    policy: str = DEFAULT_POLICY
    name: str = "replay"

    def run_for(self, task: RunnableTask) -> Path:
        per_task = self.source / "runs" / task.id
        if (per_task / "events.jsonl").is_file():
            return per_task
        return self.source

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        source = self.run_for(task)
        calls, answer = recorded_run(source)
        old_site = recorded_site(source)
        run = await ScriptedRun.open(env, run_dir, self.tool_version, self.policy)
        for name, tool_input in calls:
            if old_site is not None:
                tool_input = retarget(tool_input, old_site, env.site_url)
            await run.call(name, tool_input)
        return run.outcome(answer)


ProviderFactory = Callable[[], Any]


@dataclass
class ModelAgent:
    """`deskhand.agent.loop.Agent` on the environment's desktop (same loop and gate as
    `deskhand run`). The task's max_steps is the step budget; the run is non-interactive (the
    gate's "ask" is a refusal); the egress allowlist names the local site."""

    model: str = "claude-sonnet-4-6"
    provider: str = "anthropic"
    tool_version: str | None = None
    policy: str = DEFAULT_POLICY
    screening: bool = True
    max_seconds: float = 600.0
    max_cost_usd: float | None = None
    api_key: str | None = None
    base_url: str | None = None
    provider_factory: ProviderFactory | None = None  # e.g. a test's emulator-backed provider
    name: str = "model"

    def config(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> Any:
        from deskhand.agent.budget import Budgets
        from deskhand.agent.config import RunConfig

        assert env.site is not None
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        allowlist = run_dir.parent / f".{run_dir.name}-egress.toml"
        allowlist.write_text(
            f'[egress]\nallow = ["site.test", "127.0.0.1"]\nports = [{env.site.port}]\n'
        )
        width, height = env.options.width, env.options.height
        return RunConfig(
            task=task.instruction_for(env.site_url),
            model=self.model,
            provider=self.provider,
            tool_version=self.tool_version,
            screen=(width, height),
            budgets=Budgets(
                max_steps=task.max_steps,
                max_seconds=self.max_seconds,
                max_cost_usd=self.max_cost_usd,
            ),
            policy=self.policy,
            interactive=False,
            egress_config=allowlist if env.options.sandbox else None,
            screening=self.screening,
            out=run_dir,
        )

    async def act(self, task: RunnableTask, env: TaskEnvironment, run_dir: Path) -> AgentOutcome:
        from deskhand.agent.loop import Agent
        from deskhand.runs.index import RunIndex

        events: list[ev.Event] = []
        agent = Agent(
            self.config(task, env, run_dir),
            provider=self.provider_factory() if self.provider_factory else None,
            api_key=self.api_key,
            base_url=self.base_url,
            index=RunIndex(run_dir.parent / "index.sqlite"),
            on_event=events.append,
        )
        note_site(agent.record.path, env.site_url)
        env.egress_listener = agent.desktop_options().on_egress
        try:
            result = await agent.run(env.live)
        finally:
            env.egress_listener = None
        finished = [e for e in events if isinstance(e, ev.RunFinished)]
        last = finished[-1] if finished else None
        with_report = result.run_dir / "report.html"
        return AgentOutcome(
            steps=result.steps,
            status=result.status,
            reason=result.reason,
            run_dir=result.run_dir if result.run_dir.exists() else None,
            tokens=result.usage.total,
            cost_usd=result.cost_usd,
            model_s=(last.model_ms / 1000) if last else 0.0,
            tool_s=(last.tool_ms / 1000) if last else 0.0,
            safety_events=safety_events(events),
            answer=result.final_text,
            extra={"report": str(with_report)} if with_report.exists() else {},
        )


def safety_events(events: Sequence[ev.Event]) -> int:
    """Gate decisions other than allow, blocked requests and screening warnings."""
    count = 0
    for event in events:
        asked = isinstance(event, ev.GateDecision) and event.decision != "allow"
        blocked = isinstance(event, ev.EgressRequest) and not event.allowed
        warned = isinstance(event, ev.Notice) and "prompt injection" in event.message
        count += asked or blocked or warned
    return count


def make_agent(
    name: str,
    *,
    replay: Path | None = None,
    model: str = "claude-sonnet-4-6",
    provider: str = "anthropic",
    policy: str = DEFAULT_POLICY,
    **model_options: Any,
) -> EvalAgent:
    """The agent called `name`; `policy` is the action gate's for every agent but null (a
    PolicyError, a ValueError, if it names no policy)."""
    if name != "null":
        load_policy(policy)
    if name == "oracle":
        return OracleAgent(policy=policy)
    if name == "null":
        return NullAgent()
    if name == "replay":
        if replay is None:
            raise ValueError("the replay agent needs a run directory (--replay RUN)")
        return ReplayAgent(replay, policy=policy)
    if name == "model":
        return ModelAgent(model=model, provider=provider, policy=policy, **model_options)
    raise ValueError(f"unknown agent {name!r}; known: {', '.join(AGENT_NAMES)}")
