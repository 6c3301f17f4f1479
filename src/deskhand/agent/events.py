"""What happens during a run, as events: the one stream the recorder, the terminal, the Python
API's callbacks (and later the web UI) all read.

Every event is a frozen dataclass with a `kind`; `to_json()` gives the JSON object written as one
line of the run's `events.jsonl`. Events carry no API key and no image bytes: screenshots are
saved by the recorder and referred to by file name.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Status = Literal[
    "running",
    "done",  # the model ended its turn normally: the only success
    "budget_exceeded",
    "stuck",
    "refused",
    "api_error",
    "auth_error",
    "context_exceeded",
    "interrupted",
    "error",  # the desktop or deskhand itself failed
]


@dataclass(frozen=True)
class Usage:
    """Token counts of one model turn (or a sum of them), as the API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            *(
                a + b
                for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)
            )
        )


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    run_id: str
    time: float = field(default_factory=time.time, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    task: str
    model: str
    provider: str
    tool_version: str
    screen: tuple[int, int]
    budgets: dict[str, float | None]
    resumed: bool = False
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelRetry(Event):
    """A model call failed in a way worth retrying; the next attempt starts after `delay_s`."""

    kind: ClassVar[str] = "model_retry"
    step: int
    attempt: int
    delay_s: float
    error: str


@dataclass(frozen=True)
class ToolCall:
    """One tool_use block of a model turn."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ModelTurn(Event):
    """One answer of the model: what it said and which tools it called."""

    kind: ClassVar[str] = "model_turn"
    step: int
    text: str
    thinking: str
    tool_calls: list[ToolCall]
    stop_reason: str | None
    usage: Usage
    cost_usd: float
    model_ms: float
    total_usage: Usage
    total_cost_usd: float


@dataclass(frozen=True)
class ActionPoint:
    """Where an action landed, in the screenshot space the model sees (for drawing it)."""

    x: int
    y: int


@dataclass(frozen=True)
class ToolExecuted(Event):
    """A tool call ran (or was refused before running) and produced this result."""

    kind: ClassVar[str] = "tool_result"
    step: int
    tool_use_id: str
    name: str
    input: dict[str, Any]
    output: str | None
    error: str | None
    system: str | None
    screenshot: str | None  # file name inside the run's screenshots/ folder
    screenshot_size: tuple[int, int] | None
    points: list[ActionPoint]  # click point, or drag start and end
    tool_ms: float


@dataclass(frozen=True)
class GateDecision(Event):
    """The safety gate's decision on one tool call, and the human's answer if one was asked."""

    kind: ClassVar[str] = "gate"
    step: int
    tool_use_id: str
    name: str
    input: dict[str, Any]
    decision: Literal["allow", "confirm", "deny"]
    reason: str
    rule: str | None
    approver: str | None
    approved: bool | None
    note: str
    screen_hash: str | None
    ran: bool


@dataclass(frozen=True)
class EgressRequest(Event):
    """A request from inside the sandbox that the egress proxy let through or refused."""

    kind: ClassVar[str] = "egress"
    step: int
    method: str
    host: str
    port: int | None
    allowed: bool
    reason: str
    bytes_up: int
    bytes_down: int


@dataclass(frozen=True)
class Notice(Event):
    """Something deskhand told the model or the user (a stuck warning, a truncated answer)."""

    kind: ClassVar[str] = "notice"
    step: int
    level: Literal["info", "warning", "error"]
    message: str


@dataclass(frozen=True)
class TakenOver(Event):
    """A person took the desktop over: the run is paused before its next model call."""

    kind: ClassVar[str] = "taken_over"
    step: int


@dataclass(frozen=True)
class HumanSteps(Event):
    """The person handed the desktop back: what they did while the run was paused (clicks,
    keys, how many characters they typed but never the text), their note to the model, and the
    screen they left (a file in screenshots/, in the model's screenshot size)."""

    kind: ClassVar[str] = "human_steps"
    step: int
    actions: list[dict[str, Any]]
    note: str
    seconds: float
    screenshot: str | None
    screenshot_size: tuple[int, int] | None


@dataclass(frozen=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: Status
    reason: str
    steps: int
    usage: Usage
    cost_usd: float
    seconds: float
    model_ms: float
    tool_ms: float
    final_text: str
