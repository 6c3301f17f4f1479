"""The one interface every model provider implements, over Anthropic content blocks.

A provider turns a `TurnRequest` into one streamed model answer. It owns retries (it reports each
through `on_retry`) and turns every failure into a `ProviderError` with a `kind` the loop maps to
a run status. It never touches the desktop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from anthropic.types.beta import BetaMessage, BetaMessageParam, BetaTextBlockParam

ErrorKind = Literal[
    "auth",  # no or bad credentials: retrying will not help
    "bad_request",  # the request was refused (invalid, too large, not found)
    "api",  # overloaded, rate-limited, network or server errors that outlived the retries
]


class ProviderError(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass(frozen=True)
class TurnRequest:
    model: str
    system: list[BetaTextBlockParam]
    messages: list[BetaMessageParam]
    tools: list[dict[str, Any]]
    max_tokens: int
    betas: list[str] = field(default_factory=list)
    # Extra top-level request fields, e.g. {"thinking": {...}, "output_config": {...}}.
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retry:
    attempt: int  # 1 for the first retry
    delay_s: float
    error: str


TextCallback = Callable[[str], None]
RetryCallback = Callable[[Retry], None]


class Provider(Protocol):
    name: str  # "anthropic", "bedrock", "vertex"

    @property
    def secrets(self) -> list[str]:
        """Credential values in use: the run record scrubs them from everything it writes."""
        ...

    async def turn(
        self,
        request: TurnRequest,
        *,
        on_text: TextCallback | None = None,
        on_retry: RetryCallback | None = None,
    ) -> BetaMessage:
        """Stream one answer; `on_text` gets text deltas as they arrive."""
        ...

    async def close(self) -> None: ...
