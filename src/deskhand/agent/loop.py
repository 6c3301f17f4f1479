"""The agent loop: ask the model, run the tools it calls on the desktop, repeat until it is done.

One `Agent` is one run. Every model turn and tool call becomes an event (`events.py`) that the
run record, the terminal and the caller's callbacks receive. The conversation always stays valid
for the API: every tool_use gets its tool_result, also when the run is stopped half-way, so a
run can be resumed later.

Status is honest: only a turn the model ended itself (`end_turn`) counts as done.
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from anthropic.types.beta import BetaMessage, BetaTextBlock, BetaThinkingBlock, BetaToolUseBlock

from deskhand.agent import events as ev
from deskhand.agent.budget import Budgets, Spend
from deskhand.agent.config import RunConfig
from deskhand.agent.context import ContextPolicy, prepare
from deskhand.agent.prompt import system_prompt
from deskhand.agent.providers.base import Provider, ProviderError, Retry, TurnRequest
from deskhand.agent.stuck import LoopDetector, Verdict
from deskhand.agent.toolbox import Toolbox
from deskhand.computer import GuestError
from deskhand.runs.index import RunIndex, default_index_path, default_runs_dir
from deskhand.runs.record import RunRecord, new_run_id
from deskhand.runs.recorder import Recorder
from deskhand.runs.redact import Redactor
from deskhand.safety import consent
from deskhand.safety.audit import AuditLog, load_key
from deskhand.safety.audit_trail import AuditTrail
from deskhand.safety.confirm import Confirmer, NoHuman
from deskhand.safety.egress.proxy import EgressDecision
from deskhand.safety.gate import Gate, GateResult, read_region
from deskhand.safety.inspection import ResultInspector
from deskhand.safety.policy import load_policy
from deskhand.safety.secrets import Vault
from deskhand.sandbox.backends import SandboxUnavailable
from deskhand.sandbox.desktop import Desktop, DesktopError, DesktopOptions
from deskhand.tools.computer import ScreenshotSettings
from deskhand.tools.results import ToolResult
from deskhand.tools.scaling import ScreenGeometry

EventCallback = Callable[[ev.Event], None]
EXIT_CODES: dict[ev.Status, int] = {
    "done": 0,
    "error": 1,
    "budget_exceeded": 3,
    "stuck": 4,
    "refused": 5,
    "api_error": 6,
    "auth_error": 7,
    "context_exceeded": 8,
    "interrupted": 130,
    "running": 1,
}
MAX_TRUNCATIONS = 3  # answers cut off at max_tokens in a row before the run stops
# Environment variables whose values must never reach the run record.
SECRET_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
)
INTERRUPTED = "Not run: the run was stopped before this tool call."
STOPPED_BY_GATE = "Not run: an earlier action in this turn was not approved, so the rest stopped."
CUT_OFF = (
    "Not run: your answer was cut off at the output limit ({limit} tokens) before this tool "
    "call was complete. Send it again, with less text before it."
)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_dir: Path
    status: ev.Status
    reason: str
    steps: int
    usage: ev.Usage
    cost_usd: float
    seconds: float
    final_text: str

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "status": self.status,
            "reason": self.reason,
            "steps": self.steps,
            "tokens": {
                "input": self.usage.input_tokens,
                "output": self.usage.output_tokens,
                "cache_write": self.usage.cache_creation_input_tokens,
                "cache_read": self.usage.cache_read_input_tokens,
                "total": self.usage.total,
            },
            "cost_usd": round(self.cost_usd, 6),
            "seconds": round(self.seconds, 3),
            "final_text": self.final_text,
        }


def usage_of(message: BetaMessage) -> ev.Usage:
    u = message.usage
    return ev.Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
        cache_read_input_tokens=u.cache_read_input_tokens or 0,
    )


def _texts(message: BetaMessage) -> tuple[str, str]:
    """The answer's text and its (visible) thinking."""
    text = "\n".join(b.text for b in message.content if isinstance(b, BetaTextBlock))
    thinking = "\n".join(b.thinking for b in message.content if isinstance(b, BetaThinkingBlock))
    return text.strip(), thinking.strip()


def _secrets(api_key: str | None) -> list[str]:
    """The credentials in reach of this process, to scrub from everything recorded."""
    values = [api_key or "", *(os.environ.get(name, "") for name in SECRET_VARIABLES)]
    return [value for value in values if len(value) >= 8]


def _system_note(text: str) -> dict[str, Any]:
    return {"type": "text", "text": f"<system>{text}</system>"}


@dataclass
class _Turn:
    """The tool calls of the current assistant message and the answers given so far."""

    calls: list[ev.ToolCall]
    answers: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


class Agent:
    """One run of a task. `await agent.run()` (or `run_sync`) returns a `RunResult`."""

    def __init__(
        self,
        config: RunConfig,
        *,
        provider: Provider | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        on_event: EventCallback | None = None,
        on_text: Callable[[str], None] | None = None,
        index: RunIndex | None = None,
        record: RunRecord | None = None,
        on_desktop: Callable[[Desktop], Awaitable[None]] | None = None,
        confirmer: Confirmer | None = None,
    ) -> None:
        from deskhand.agent.providers import make_provider

        consent.require()
        self.config = config
        self.provider = provider or make_provider(
            config.provider, api_key=api_key, base_url=base_url
        )
        # The vault's values may reach the desktop as typed text, and nowhere else.
        self.vault = Vault.load(config.secrets_file)
        redact = [
            *_secrets(api_key),
            *(s for s in self.provider.secrets if len(s) >= 8),
            *self.vault.values,
        ]
        if record is None:
            run_id = new_run_id()
            record = RunRecord.create(config.out or default_runs_dir() / run_id, run_id)
        record.redact = Redactor(redact)
        self.record = record
        self.index = index if index is not None else RunIndex(default_index_path())
        self.on_text = on_text
        self.on_desktop = on_desktop  # e.g. to show the desktop over VNC while the agent works
        # Without a way to ask a human, nobody can approve: gated actions are declined.
        self.confirmer: Confirmer = confirmer if confirmer and config.interactive else NoHuman()
        audit = AuditLog(
            record.path, record.run_id, key=load_key(create=True), redact=record.redact
        )
        self.listeners: list[EventCallback] = [
            Recorder(self.record, self.index),
            AuditTrail(audit, record.path),
        ]
        if on_event:
            self.listeners.append(on_event)
        self.messages: list[dict[str, Any]] = []
        self.policy: ContextPolicy = config.context
        self.detector = LoopDetector()
        self.spend = Spend(config.budgets, config.model_info.price)
        self.model_ms = 0.0
        self.tool_ms = 0.0
        self.final_text = ""
        self._turn: _Turn | None = None
        self._truncations = 0
        self._inner: asyncio.Task[tuple[ev.Status, str]] | None = None
        self._deadline: asyncio.Timeout | None = None  # the time budget's scope over the loop
        self._resumed = False
        self.stopping = False
        # Take-over: cleared while a person uses the desktop; the loop waits before its next
        # model call. hand_back() leaves the person's note and recorded actions here.
        self._at_work = asyncio.Event()
        self._at_work.set()
        self._handed_back: tuple[str, list[dict[str, Any]]] = ("", [])

    @property
    def run_id(self) -> str:
        return self.record.run_id

    # -- public ----------------------------------------------------------------------------

    @classmethod
    def resume(
        cls,
        run_dir: Path,
        *,
        instruction: str | None = None,
        budgets: Budgets | None = None,
        **options: Any,
    ) -> Agent:
        """Continue a stopped run in its own record, on a fresh desktop. Budgets count the whole
        run (steps, tokens, cost) except wall time, which counts from the resume."""
        record = RunRecord.open(run_dir)
        started = next(e for e in record.events() if e["kind"] == "run_started")
        finished = [e for e in record.events() if e["kind"] == "run_finished"]
        config = RunConfig.from_json({**started["config"], "out": str(run_dir)})
        if budgets is not None:
            config = replace(config, budgets=budgets)
        agent = cls(config, record=record, **options)
        agent.messages = record.load_conversation()
        agent._resumed = True
        if finished:
            last = finished[-1]
            agent.spend.steps = last["steps"]
            agent.spend.usage = ev.Usage(**last["usage"])
            agent.spend.cost_usd = last["cost_usd"]
        note = (
            "The run was stopped and has now been resumed on a fresh desktop: windows and "
            "anything outside /home/user from before are gone. Take a screenshot first."
        )
        agent._add_user_content(
            [_system_note(note), *([{"type": "text", "text": instruction}] if instruction else [])]
        )
        return agent

    def stop(self) -> None:
        """Stop the run as soon as possible (Ctrl-C): the current call is cancelled."""
        self.stopping = True
        if self._inner is not None:
            self._inner.cancel()

    @property
    def taken_over(self) -> bool:
        return not self._at_work.is_set()

    def take_over(self) -> None:
        """Let a person use the desktop: the run pauses before its next model call (a model
        call or the tool calls already under way finish first) and emits `TakenOver`."""
        self._at_work.clear()

    def hand_back(self, note: str = "", actions: Sequence[dict[str, Any]] = ()) -> None:
        """Give the desktop back to the model, with the person's note and what they did (for
        the record; see `HumanSteps`). The model is told the screen may have changed."""
        if self.taken_over:
            self._handed_back = (note.strip(), list(actions))
            self._at_work.set()

    async def run(self, desktop: Desktop | None = None) -> RunResult:
        """Run on `desktop`, or on a fresh sandboxed desktop started (and stopped) for it."""
        started = self.spend.started = time.monotonic()
        self._emit_started()
        try:
            if desktop is not None:
                return await self._run_on(desktop)
            async with await Desktop.start(self.desktop_options()) as fresh:
                return await self._run_on(fresh)
        except (SandboxUnavailable, DesktopError, GuestError) as exc:
            return self._finish("error", f"the desktop failed: {exc}", time.monotonic() - started)
        finally:
            await self.provider.close()

    def desktop_options(self, **extra: Any) -> DesktopOptions:
        """The desktop this run asks for (screen, apps, sandbox, egress allowlist wired to the
        run's events); `extra` adds options, e.g. a test's `egress_resolver`."""
        width, height = self.config.screen
        return DesktopOptions(
            width=width,
            height=height,
            sandbox=self.config.sandbox,
            autostart=self.config.apps,
            egress=self.config.egress_rules,
            on_egress=self._on_egress,
            **extra,
        )

    def run_sync(self, desktop: Desktop | None = None) -> RunResult:
        """`run` for code without an event loop; inside one (a notebook) it uses a thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run(desktop))
        result: list[RunResult] = []

        def target() -> None:
            result.append(asyncio.run(self.run(desktop)))

        import threading

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        return result[0]

    # -- the session -------------------------------------------------------------------------

    def _emit_started(self) -> None:
        config = self.config
        self._emit(
            ev.RunStarted(
                self.run_id,
                task=config.task,
                model=config.model,
                provider=config.provider,
                tool_version=config.tool_versions.computer,
                screen=ScreenGeometry(*config.screen).model_size,
                budgets=config.budgets.as_dict(),
                resumed=self._resumed,
                config=config.to_json(),
            )
        )

    async def _run_on(self, desktop: Desktop) -> RunResult:
        if self.on_desktop is not None:
            await self.on_desktop(desktop)
        settings = ScreenshotSettings(format=self.config.screenshot_format)
        self.toolbox = await Toolbox.create(
            desktop.computer, self.config.tool_versions, screenshots=settings, secrets=self.vault
        )
        # A run on a desktop used before starts in a fresh shell, not in what the last run left.
        await self.toolbox.bash.reset()
        self.system = [{"type": "text", "text": self._system_text()}]
        self.inspector = ResultInspector(self.vault, screening=self.config.screening)
        self.gate = Gate(
            policy=load_policy(self.config.policy),
            confirmer=self.confirmer,
            computer=desktop.computer,
            geometry=self.toolbox.computer.geometry,
            run_id=self.run_id,
            timeout_s=self.config.confirm_timeout_s,
            egress=self.config.egress_rules,
            ocr=read_region if self.config.screening else None,
        )
        if not self.messages:
            self.messages.append(
                {"role": "user", "content": [{"type": "text", "text": self.config.task}]}
            )
        self._inner = asyncio.create_task(self._guarded())
        try:
            status, reason = await asyncio.shield(self._inner)
        except asyncio.CancelledError:
            # The caller cancelled us: let the session record the interruption, then go on.
            self._inner.cancel()
            await asyncio.wait([self._inner])
            raise
        return self._finish(status, reason, self.spend.wall)

    def _system_text(self) -> str:
        suffix = "\n\n".join(
            part
            for part in (self.vault.describe_for_prompt(), self.config.system_prompt_suffix)
            if part
        )
        rules = self.config.egress_rules
        sites = rules.describe() if rules is not None else None
        return system_prompt(self.toolbox.screenshot_size, suffix=suffix, sites=sites)

    async def _guarded(self) -> tuple[ev.Status, str]:
        """The loop, with every way it can end turned into a status and a reason."""
        scope = self._deadline = asyncio.timeout_at(self.spend.deadline)
        try:
            async with scope:
                return await self._loop()
        except TimeoutError as exc:
            if scope.expired():
                return (
                    "budget_exceeded",
                    f"time budget reached ({self.config.budgets.max_seconds:g} s)",
                )
            return "error", f"an operation timed out: {exc}"
        except asyncio.CancelledError:
            return "interrupted", "stopped by the user"
        except ProviderError as exc:
            return ("auth_error" if exc.kind == "auth" else "api_error"), exc.message
        except (GuestError, DesktopError) as exc:
            return "error", f"the desktop failed: {exc}"
        except Exception as exc:  # a bug (ours or a callback's) still ends in a complete record
            self._notice(self.spend.steps, "error", traceback.format_exc())
            return "error", f"internal error: {exc!r}"
        finally:
            self._close_turn(INTERRUPTED)
            self.record.save_conversation(self.messages)

    async def _loop(self) -> tuple[ev.Status, str]:
        while True:
            if self.stopping:
                return "interrupted", "stopped by the user"
            reason = self.spend.exceeded()
            if reason:
                return "budget_exceeded", reason
            if self.taken_over:
                await self._wait_for_hand_back()
            message, calls = await self._ask_model()
            outcome = await self._handle(message.stop_reason, calls)
            self.record.save_conversation(self.messages)
            if outcome is not None:
                return outcome

    async def _handle(
        self, stop_reason: str | None, calls: list[ev.ToolCall]
    ) -> tuple[ev.Status, str] | None:
        """Act on one answer by its stop reason; a (status, reason) ends the run."""
        if stop_reason == "max_tokens" or stop_reason == "model_context_window_exceeded":
            return self._cut_off(stop_reason, calls)
        self._truncations = 0
        if stop_reason == "tool_use" or (calls and stop_reason == "end_turn"):
            if await self._run_tools(calls) == "stop":
                return "stuck", LoopDetector.message("stop")
            return None
        if stop_reason == "end_turn":
            return "done", "the model ended its turn"
        if stop_reason == "pause_turn":
            return None  # the API paused a long turn: sending it back lets the model go on
        if stop_reason == "refusal":
            return "refused", "the model declined to continue (stop_reason refusal)"
        return "api_error", f"unexpected stop_reason {stop_reason!r}"

    def _cut_off(self, stop_reason: str, calls: list[ev.ToolCall]) -> tuple[ev.Status, str] | None:
        """An answer that hit the output limit or the context window: answer its tool calls
        without running them (their input may be incomplete) and let the model go on."""
        step = self.spend.steps
        if stop_reason == "model_context_window_exceeded":
            if self.policy.keep_images == 1 and self.policy.chunk == 1:
                return "context_exceeded", "the conversation no longer fits the context window"
            self.policy = replace(self.policy, keep_images=1, chunk=1)
            note = "The context window is full: from now on only the latest screenshot is kept."
        else:
            self._truncations += 1
            if self._truncations >= MAX_TRUNCATIONS:
                return "stuck", f"{MAX_TRUNCATIONS} answers in a row were cut off at max_tokens"
            note = (
                f"Your answer was cut off at the output limit ({self.config.output_tokens} "
                "tokens). Continue, more briefly."
            )
        self._notice(step, "warning", note)
        self._turn = _Turn(calls, notes=[_system_note(note)])
        self._close_turn(CUT_OFF.format(limit=self.config.output_tokens))
        return None

    async def _wait_for_hand_back(self) -> None:
        """Paused while a person uses the desktop; then record what they did and tell the model."""
        step = self.spend.steps
        started = time.monotonic()
        self._emit(ev.TakenOver(self.run_id, step=step))
        await self._paused(self._at_work.wait())
        note, actions = self._handed_back
        computer = self.toolbox.computer
        dated = computer.spec.name is not None
        shot = await computer.run(
            computer.spec.name or "screenshot", {"action": "screenshot"} if dated else {}
        )
        image = shot.image
        saved = self.record.save_screenshot(step, f"human-{started}", image) if image else None
        self._emit(
            ev.HumanSteps(
                self.run_id,
                step=step,
                actions=actions,
                note=note,
                seconds=time.monotonic() - started,
                screenshot=saved,
                screenshot_size=(image.width, image.height) if image else None,
            )
        )
        told = (
            "The user took over the desktop and has handed it back; the screen may have "
            f"changed ({len(actions)} recorded actions). Take a screenshot before you continue."
        )
        content = [_system_note(told)]
        if note:
            content.append({"type": "text", "text": f"Note from the user: {note}"})
        self._add_user_content(content)

    async def _paused(self, waiting: Awaitable[Any]) -> None:
        """Wait with the time budget's clock stopped (a person is using the desktop)."""
        self.spend.pause()
        self._reschedule()
        try:
            await waiting
        finally:
            self.spend.resume()
            self._reschedule()

    def _reschedule(self) -> None:
        if self._deadline is not None:
            self._deadline.reschedule(self.spend.deadline)

    # -- model -------------------------------------------------------------------------------

    async def _ask_model(self) -> tuple[BetaMessage, list[ev.ToolCall]]:
        step = self.spend.steps + 1
        system, messages = prepare(self.system, self.messages, self.policy)
        max_tokens = self.config.output_tokens
        request = TurnRequest(
            model=self.config.model,
            system=system,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            tools=self.toolbox.definitions(),
            max_tokens=max_tokens,
            betas=self.toolbox.versions.betas,
            extra_body=self.config.thinking.request_fields(max_tokens),
        )

        def on_retry(retry: Retry) -> None:
            self._emit(ev.ModelRetry(self.run_id, step, retry.attempt, retry.delay_s, retry.error))

        start = time.perf_counter()
        message = await self.provider.turn(request, on_text=self.on_text, on_retry=on_retry)
        model_ms = (time.perf_counter() - start) * 1000
        self.model_ms += model_ms
        usage = usage_of(message)
        cost = self.spend.add_turn(usage)
        self._append_assistant(message)
        text, thinking = _texts(message)
        if text:
            self.final_text = text
        calls = [
            ev.ToolCall(b.id, b.name, dict(b.input) if isinstance(b.input, dict) else {})
            for b in message.content
            if isinstance(b, BetaToolUseBlock)
        ]
        self._turn = _Turn(calls) if calls else None
        self._emit(
            ev.ModelTurn(
                self.run_id,
                step=step,
                text=text,
                thinking=thinking,
                tool_calls=calls,
                stop_reason=message.stop_reason,
                usage=usage,
                cost_usd=cost,
                model_ms=model_ms,
                total_usage=self.spend.usage,
                total_cost_usd=self.spend.cost_usd,
            )
        )
        return message, calls

    def _append_assistant(self, message: BetaMessage) -> None:
        blocks = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant":
            last["content"].extend(blocks)  # the continuation of a paused turn
        else:
            self.messages.append({"role": "assistant", "content": blocks})

    # -- tools -------------------------------------------------------------------------------

    async def _run_tools(self, calls: list[ev.ToolCall]) -> Verdict:
        """Run the turn's tool calls in order through the gate; answer all of them in one user
        message. Once a call is declined or denied, the rest of the turn does not run."""
        assert self._turn is not None
        step = self.spend.steps
        worst: Verdict = "ok"
        for call in calls:
            start = time.perf_counter()
            gated = await self._gate(step, call)
            if gated is not None and not gated.run:
                result = ToolResult.from_error(gated.message)
                self._turn.answers.append(
                    self.toolbox.not_run(call.id, call.name, gated.message).block
                )
                self._record_tool(step, call, result, (time.perf_counter() - start) * 1000)
                self._close_turn(STOPPED_BY_GATE)
                return worst
            outcome = await self.toolbox.run(call.id, call.name, call.input)
            outcome = replace(outcome, result=await self._inspect(step, call, outcome.result))
            self._turn.answers.append(outcome.block)
            result = outcome.result
            self._record_tool(step, call, result, (time.perf_counter() - start) * 1000)
            image = result.image
            produced = image.data if image else f"{result.output}\0{result.error}".encode()
            verdict = self.detector.observe(call.name, call.input, produced)
            if verdict == "warn":
                self._turn.notes.append(_system_note(LoopDetector.message("warn")))
                self._notice(step, "warning", "the model is repeating itself; told it so")
            if verdict != "ok":
                worst = verdict
        self._close_turn(INTERRUPTED)
        return worst

    async def _inspect(self, step: int, call: ev.ToolCall, result: ToolResult) -> ToolResult:
        """Mask secrets and screen for prompt injection; a hit warns the model (in the result)
        and makes the gate ask before the next consequential action."""
        text_source = not self.toolbox.is_computer(call.name)
        inspection = await self.inspector.inspect(result, text_source=text_source)
        verdict = inspection.verdict
        if verdict is not None and verdict.hit:
            self.gate.escalate()
            where = "screen" if verdict.source == "screen" else "output"
            evidence = f": {verdict.evidence[:200]!r}" if verdict.evidence else ""
            self._notice(
                step,
                "warning",
                f"possible prompt injection in the {where} ({', '.join(verdict.reasons)[:200]})"
                f"{evidence}; the model was warned and the next consequential action needs "
                "approval",
            )
        return inspection.result

    async def _gate(self, step: int, call: ev.ToolCall) -> GateResult | None:
        """The gate's decision on a call (None for unknown tools, which cannot run anyway)."""
        kind, action = self.toolbox.classify(call.name, call.input)
        if kind is None:
            return None
        gated = await self.gate.check(step, call.id, call.name, kind, action, call.input)
        self._emit(gated.event(self.run_id, step, call.id, call.name, call.input))
        return gated

    def _record_tool(
        self, step: int, call: ev.ToolCall, result: ToolResult, tool_ms: float
    ) -> None:
        self.tool_ms += tool_ms
        computer = self.toolbox.is_computer(call.name)
        self._emit(
            self.record.tool_executed(
                step, call.id, call.name, call.input, result, tool_ms, computer
            )
        )

    def _close_turn(self, reason: str) -> None:
        """Answer every tool call of the current turn (unanswered ones with `reason`)."""
        turn, self._turn = self._turn, None
        if turn is None:
            return
        answered = {block["tool_use_id"] for block in turn.answers}
        for call in turn.calls:
            if call.id not in answered:
                turn.answers.append(self.toolbox.not_run(call.id, call.name, reason).block)
        self._add_user_content([*turn.answers, *turn.notes])

    def _add_user_content(self, content: Sequence[dict[str, Any]]) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "user":
            last["content"].extend(content)
        else:
            self.messages.append({"role": "user", "content": list(content)})

    # -- events ------------------------------------------------------------------------------

    def _emit(self, event: ev.Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _on_egress(self, decision: EgressDecision) -> None:
        self._emit(
            ev.EgressRequest(
                self.run_id,
                step=self.spend.steps,
                method=decision.method,
                host=decision.host,
                port=decision.port,
                allowed=decision.allowed,
                reason=decision.reason,
                bytes_up=decision.bytes_up,
                bytes_down=decision.bytes_down,
            )
        )

    def _notice(self, step: int, level: Any, message: str) -> None:
        self._emit(ev.Notice(self.run_id, step=step, level=level, message=message))

    def _finish(self, status: ev.Status, reason: str, seconds: float) -> RunResult:
        result = RunResult(
            run_id=self.run_id,
            run_dir=self.record.path,
            status=status,
            reason=reason,
            steps=self.spend.steps,
            usage=self.spend.usage,
            cost_usd=self.spend.cost_usd,
            seconds=seconds,
            final_text=self.final_text,
        )
        self._emit(
            ev.RunFinished(
                self.run_id,
                status=status,
                reason=reason,
                steps=result.steps,
                usage=result.usage,
                cost_usd=result.cost_usd,
                seconds=seconds,
                model_ms=self.model_ms,
                tool_ms=self.tool_ms,
                final_text=self.final_text,
            )
        )
        return result


async def run(config: RunConfig, **options: Any) -> RunResult:
    """Run one task on a fresh sandboxed desktop (see `Agent` for the options)."""
    return await Agent(config, **options).run()


def run_sync(config: RunConfig, **options: Any) -> RunResult:
    """`run` without async: usable from scripts and notebooks."""
    return Agent(config, **options).run_sync()
