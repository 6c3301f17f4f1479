"""The runs `deskhand serve` is running: each an `Agent` on its own sandboxed desktop, with its
event stream, its approvals waiting for a person, take-over state and the desktop's VNC socket.

Everything runs on the server's event loop; the page hears about it through `Hub` messages.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from deskhand.agent import events as ev
from deskhand.agent.config import RunConfig
from deskhand.agent.loop import Agent, RunResult
from deskhand.framebuf import NAME
from deskhand.runs.redact import to_json_value
from deskhand.safety.confirm import Answer, ConfirmRequest
from deskhand.safety.gate import REGION_HALF_HEIGHT, REGION_HALF_WIDTH
from deskhand.sandbox.desktop import Desktop
from deskhand.web.rfb import HumanRecorder

Control = Literal["agent", "requested", "human"]
FAILED = {"error", "api_error", "auth_error", "refused", "context_exceeded"}


def badge(status: str, *, waiting: bool = False, control: Control = "agent") -> str:
    """The runs list's badge for a run's status: running, needs approval, taken over, done,
    failed, stuck, over budget, stopped."""
    if status == "running":
        if waiting:
            return "needs approval"
        return "taken over" if control != "agent" else "running"
    if status == "budget_exceeded":
        return "over budget"
    if status == "interrupted":
        return "stopped"
    if status in FAILED:
        return "failed"
    return status  # done, stuck


class Hub:
    """Fans messages out to every connected page (one queue per WebSocket)."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self.queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.queues.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a page that stopped reading: it reloads on reconnect
                self.queues.discard(queue)


@dataclass
class Pending:
    """An approval waiting for a person."""

    id: str
    run_id: str
    request: ConfirmRequest
    future: asyncio.Future[Answer]
    asked: float = field(default_factory=time.time)
    timeout_s: float = 120.0

    def to_json(self) -> dict[str, Any]:
        crop = self.request.crop_png
        return {
            "crop_target": _crop_target(crop),
            "id": self.id,
            "run_id": self.run_id,
            "step": self.request.step,
            "summary": self.request.summary,
            "reason": self.request.reason,
            "rule": self.request.rule,
            "crop": f"data:image/png;base64,{base64.b64encode(crop).decode()}" if crop else None,
            "asked": self.asked,
            "deadline": self.asked + self.timeout_s,
        }


def _crop_target(png: bytes | None) -> list[float] | None:
    """Where the action's target sits in the gate's crop, as fractions (the centre, unless the
    crop was cut by a screen edge: then the target is not known and no mark is drawn)."""
    if not png:
        return None
    with Image.open(io.BytesIO(png)) as image:
        size = image.size
    return [0.5, 0.5] if size == (2 * REGION_HALF_WIDTH, 2 * REGION_HALF_HEIGHT) else None


class WebConfirmer:
    """The gate's channel to the page: each request waits in the run's queue until a person
    answers. The gate's own timeout cancels the wait (then the action is declined)."""

    def __init__(self, live: LiveRun) -> None:
        self.live = live

    async def ask(self, request: ConfirmRequest) -> Answer:
        loop = asyncio.get_running_loop()
        pending = Pending(
            secrets.token_hex(8),
            self.live.run_id,
            request,
            loop.create_future(),
            timeout_s=self.live.config.confirm_timeout_s,
        )
        self.live.approvals[pending.id] = pending
        self.live.changed()
        self.live.hub.publish({"type": "approval", "approval": pending.to_json()})
        try:
            return await pending.future
        finally:
            self.live.approvals.pop(pending.id, None)
            self.live.hub.publish(
                {"type": "approval_closed", "id": pending.id, "run_id": self.live.run_id}
            )
            self.live.changed()


class LiveRun:
    """One run started from the page."""

    def __init__(self, config: RunConfig, hub: Hub, make_agent: Callable[..., Agent]) -> None:
        self.config = config
        self.hub = hub
        self.approvals: dict[str, Pending] = {}
        self.events: list[dict[str, Any]] = []
        self.status: str = "running"
        self.reason = ""
        self.control: Control = "agent"
        self.desktop: Desktop | None = None
        self.vnc: tuple[Path, str] | None = None  # the sandbox's VNC socket and its password
        self.recorder = HumanRecorder()
        self.taken_over_at = 0.0
        self.result: RunResult | None = None
        self.started = time.time()
        self.steps = 0
        self.cost_usd = 0.0
        self.agent = make_agent(
            config,
            on_event=self._on_event,
            on_text=self._on_text,
            confirmer=WebConfirmer(self),
            on_desktop=self._on_desktop,
        )
        self.run_id = self.agent.run_id
        self.task: asyncio.Task[RunResult] | None = None
        self.ended = False

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"run {self.run_id}")

    async def _run(self) -> RunResult:
        try:
            self.result = await self.agent.run()
            return self.result
        finally:
            self.ended = True
            if self.result is None:  # the run raised instead of finishing: say so
                self.status, self.reason = "error", "the run ended unexpectedly"
            self.desktop = None
            self.vnc = None
            self.control = "agent"
            self.changed()

    async def _on_desktop(self, desktop: Desktop) -> None:
        # Not view-only: the bridge (rfb.py) drops input unless a person has taken over.
        name, password = await desktop.computer.start_vnc(view_only=False)
        if not NAME.fullmatch(name.removesuffix(".sock")):
            raise RuntimeError(f"the guest named an unexpected VNC socket {name!r}")
        self.desktop = desktop
        self.vnc = (desktop.paths.sockets / name, password)
        self.hub.publish({"type": "desktop", "run_id": self.run_id, "ready": True})
        self.changed()

    @property
    def finished(self) -> bool:
        return self.task is not None and self.task.done()

    def stop(self) -> None:
        self.agent.stop()
        for pending in list(self.approvals.values()):
            if not pending.future.done():
                pending.future.set_result(Answer(False, "web", "the run was stopped"))

    def take_over(self) -> None:
        if self.status != "running" or self.control != "agent":
            return
        self.control = "requested"
        self.recorder.take()
        self.agent.take_over()
        self.changed()

    def hand_back(self, note: str) -> None:
        """Give the desktop back; before the agent has paused this just cancels the take-over."""
        if self.control == "agent":
            return
        if self.control == "requested":
            note = ""
        self.control = "agent"
        self.agent.hand_back(note, self.recorder.take())
        self.changed()

    def input_allowed(self) -> bool:
        """The bridge's question before passing a key or a click to the desktop."""
        return self.control == "human" and not self.ended

    def answer(self, approval_id: str, answer: Answer) -> bool:
        pending = self.approvals.get(approval_id)
        if pending is None or pending.future.done():
            return False
        pending.future.set_result(answer)
        return True

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: ev.Event) -> None:
        data = self.agent.record.redact(to_json_value(event.to_json()))
        data["seq"] = len(self.events)
        self.events.append(data)
        if isinstance(event, ev.ModelTurn):
            self.steps, self.cost_usd = event.step, event.total_cost_usd
        elif isinstance(event, ev.TakenOver):
            self.control = "human"
            self.taken_over_at = time.time()
            self.recorder.take()
        elif isinstance(event, ev.RunFinished):
            # Finished for the page now; the desktop is torn down afterwards (a few seconds).
            self.ended = True
            self.control = "agent"
            self.status, self.reason = event.status, event.reason
            self.steps, self.cost_usd = event.steps, event.cost_usd
        self.hub.publish({"type": "event", "run_id": self.run_id, "event": data})
        if isinstance(event, ev.ModelTurn | ev.TakenOver | ev.HumanSteps | ev.RunFinished):
            self.changed()

    def _on_text(self, text: str) -> None:
        text = self.agent.record.redact.text(text)  # as the record would (per chunk)
        self.hub.publish({"type": "text", "run_id": self.run_id, "text": text})

    def changed(self) -> None:
        self.hub.publish({"type": "run", "run": self.summary()})

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "task": self.config.task,
            "model": self.config.model,
            "provider": self.config.provider,
            "status": self.status,
            "reason": self.reason,
            "badge": badge(self.status, waiting=bool(self.approvals), control=self.control),
            "control": self.control,
            "live": not self.ended,
            "desktop": self.vnc is not None,
            "steps": self.steps,
            "cost_usd": self.cost_usd,
            "started": self.started,
            "approvals": [p.to_json() for p in self.approvals.values()],
            "screen": list(self.config.screen),
        }


class Runs:
    """Every run started by this server, by id."""

    def __init__(self, make_agent: Callable[..., Agent]) -> None:
        self.hub = Hub()
        self.make_agent = make_agent
        self.live: dict[str, LiveRun] = {}

    def start(self, config: RunConfig) -> LiveRun:
        live = LiveRun(config, self.hub, self.make_agent)
        self.live[live.run_id] = live
        live.start()
        live.changed()
        return live

    async def stop_all(self) -> None:
        for live in self.live.values():
            live.stop()
        tasks = [live.task for live in self.live.values() if live.task is not None]
        if tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, timeout=10)
