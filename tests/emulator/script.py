"""Scripted model turns, and the record of every request the emulator received.

A test writes a `Script`: a queue of turns, each one of
- `Reply`: a model message (`Text`, `Thinking` and `ToolUse` blocks, a stop reason, optional
  usage numbers that override the emulator's estimate, an optional `delay_s` per event);
- `ApiError`: an Anthropic error answer (HTTP status, error type, headers such as
  `retry-after-ms` or `x-should-retry`), or, with `mid_stream=True` on a streaming request,
  a 200 whose stream breaks off with an `error` event after `message_start`, as the API's
  does when it overloads mid-answer;
- a `Responder`: a callable that gets the `RecordedRequest` and returns a `Reply` or an
  `ApiError`, to answer from what the client sent (e.g. echo the last tool_result id).

Each request that passes the emulator's checks takes the next turn; a request the emulator
rejects (bad headers, invalid body, unknown path) takes none, as the real API rejects it
before the model runs. Every request, accepted or not, is recorded as an `Exchange`: the
request (headers with credentials redacted, path, query, JSON body), the status and the JSON
the emulator answered (for a stream: the message its events add up to).
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]
ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
]

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization"})


def new_id(prefix: str) -> str:
    """An id shaped like the API's (`msg_…`, `toolu_…`, `req_…`)."""
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Text:
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str = "emulator-signature"

    def to_json(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": self.thinking, "signature": self.signature}


@dataclass(frozen=True)
class ToolUse:
    """A tool call; `toolset_name` marks a member of a toolset (e.g. "computer")."""

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_id("toolu"))
    toolset_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        block = {"type": "tool_use", "id": self.id, "name": self.name, "input": dict(self.input)}
        # The API sends `toolset_name` only on toolset members.
        return block if self.toolset_name is None else {**block, "toolset_name": self.toolset_name}


Block = Text | Thinking | ToolUse


@dataclass(frozen=True)
class Reply:
    """One model message. `stop_reason` defaults to "tool_use" if it calls a tool."""

    content: Sequence[Block]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    # e.g. {"type": "refusal", "category": "cyber", "explanation": "..."} with a refusal.
    stop_details: Mapping[str, Any] | None = None
    # Keys of the API's usage object (input_tokens, cache_read_input_tokens, ...) that replace
    # the emulator's estimate.
    usage: Mapping[str, int] = field(default_factory=dict)
    # Seconds to wait before each event of a stream (before a JSON answer: once), to play a
    # slow model, e.g. for a client that must give up or cancel mid-answer.
    delay_s: float = 0.0

    @property
    def final_stop_reason(self) -> StopReason:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.content) else "end_turn"


@dataclass(frozen=True)
class ApiError:
    """An error answer: `{"type": "error", "error": {"type": ..., "message": ...}}`."""

    status: int
    type: ErrorType
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    # On a streaming request: answer 200, start the message, then send an `error` event.
    mid_stream: bool = False

    def body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}


# The SDK ignores a retry-after of 0 and falls back to its exponential backoff (0.375 s and
# up), so the scripted retry hints ask for 1 ms to keep the tests fast.
FAST_RETRY = {"retry-after-ms": "1"}


def rate_limited(
    message: str = "Number of request tokens has exceeded your rate limit.",
) -> ApiError:
    return ApiError(429, "rate_limit_error", message, {**FAST_RETRY, "retry-after": "1"})


def overloaded(*, mid_stream: bool = False) -> ApiError:
    return ApiError(529, "overloaded_error", "Overloaded", FAST_RETRY, mid_stream=mid_stream)


def authentication_failed() -> ApiError:
    return ApiError(401, "authentication_error", "invalid x-api-key")


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def emulator_failure(message: str) -> ApiError:
    """A 500 that the SDK must not retry: the test itself is wrong, retrying cannot help."""
    return ApiError(500, "api_error", f"emulator: {message}", {"x-should-retry": "false"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names; credentials replaced by REDACTED
    body: Any  # the parsed JSON, None if the body was not JSON

    @classmethod
    def redacted(
        cls,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Iterable[tuple[str, str]],
        body: Any,
    ) -> RecordedRequest:
        kept = {
            name.lower(): REDACTED if name.lower() in SECRET_HEADERS else value
            for name, value in headers
        }
        return cls(method, path, dict(query), kept, body)

    @property
    def betas(self) -> list[str]:
        header = self.headers.get("anthropic-beta", "")
        return [beta.strip() for beta in header.split(",") if beta.strip()]

    @property
    def stream(self) -> bool:
        # Bedrock says it in the path: its SDK client moves `stream` out of the body.
        if self.path.endswith("/invoke-with-response-stream"):
            return True
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return messages if isinstance(messages, list) else []

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last message."""
        content = self.messages[-1].get("content") if self.messages else None
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    @property
    def cache_breakpoints(self) -> list[str]:
        """Where the request puts cache_control, as API-style paths ("messages.2.content.0")."""
        return cache_control_paths(self.body)


@dataclass(frozen=True)
class Exchange:
    request: RecordedRequest
    status: int
    response: Mapping[str, Any]


Responder = Callable[[RecordedRequest], Reply | ApiError]
Turn = Reply | ApiError | Responder


class Script:
    """The turns still to play and the exchanges so far; safe to use from any thread."""

    def __init__(self, turns: Iterable[Turn] = ()) -> None:
        self._lock = threading.Lock()
        self._turns: deque[Turn] = deque(turns)
        self._exchanges: list[Exchange] = []

    def add(self, *turns: Turn) -> None:
        with self._lock:
            self._turns.extend(turns)

    def next_turn(self) -> Turn | None:
        with self._lock:
            return self._turns.popleft() if self._turns else None

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._turns)

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    @property
    def requests(self) -> list[RecordedRequest]:
        return [exchange.request for exchange in self.exchanges]


def content_blocks(body: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every content block of system and messages, tool_result contents included, with its
    API-style path. Malformed parts are skipped: validation reports them."""
    system = body.get("system")
    if isinstance(system, list):
        yield from _blocks("system", system)
    messages = body.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            yield from _blocks(f"messages.{index}.content", content)


def _blocks(path: str, blocks: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        yield f"{path}.{index}", block
        nested = block.get("content")
        if block.get("type") == "tool_result" and isinstance(nested, list):
            yield from _blocks(f"{path}.{index}.content", nested)


def cache_control_paths(body: Any) -> list[str]:
    """Every cache_control breakpoint: tools, system and message blocks, and the top-level
    `cache_control` (automatic caching, which marks the last cacheable block)."""
    if not isinstance(body, dict):
        return []
    tools = body.get("tools")
    paths = [
        f"tools.{index}"
        for index, tool in enumerate(tools if isinstance(tools, list) else [])
        if isinstance(tool, dict) and tool.get("cache_control") is not None
    ]
    paths += [
        path for path, block in content_blocks(body) if block.get("cache_control") is not None
    ]
    if body.get("cache_control") is not None:
        paths.append("cache_control")
    return paths
