"""Input events: the low-level vocabulary the host sends to the guest's input injector.

The host's computer tool turns every API action into a list of these; the guest replays the list
in order through XTEST. Keys travel as X keysyms (resolved from names on the host), so nothing the
model types is ever interpreted by a shell or a key-name parser inside the sandbox.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SLEEP_SECONDS = 100.0
MAX_TEXT_CHARS = 100_000
MAX_EVENTS = 10_000  # per input.apply request


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Move(_Event):
    """Move the pointer to absolute screen pixel (x, y)."""

    kind: Literal["move"] = "move"
    x: int = Field(ge=0)
    y: int = Field(ge=0)


class Button(_Event):
    """Press or release a pointer button: 1 left, 2 middle, 3 right, 4-7 wheel."""

    kind: Literal["button"] = "button"
    button: int = Field(ge=1, le=7)
    down: bool


class Key(_Event):
    """Press or release the key that produces `keysym` (remapping a spare keycode if none does)."""

    kind: Literal["key"] = "key"
    keysym: int = Field(gt=0, le=0x1FFFFFFF)
    down: bool


class Text(_Event):
    """Type a string: each character is pressed and released; '\\n' is Return and '\\t' is Tab."""

    kind: Literal["text"] = "text"
    text: str = Field(max_length=MAX_TEXT_CHARS)


class Sleep(_Event):
    """Pause between events (hold_key durations, drag pacing)."""

    kind: Literal["sleep"] = "sleep"
    seconds: float = Field(ge=0, le=MAX_SLEEP_SECONDS)


InputEvent = Annotated[Move | Button | Key | Text | Sleep, Field(discriminator="kind")]
