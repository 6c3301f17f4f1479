"""Strict input models for the computer tool's actions, and `parse_action`.

There is one pydantic model per action, shared by every version that has the action; what a
version does differently (parameters it lacks, integer-only durations) is data in `specs.py`.
Model output is untrusted JSON, so validation is strict (no "5" for 5, no true for 1, no 1.5 for a
pixel) and every failure becomes a `ToolInputError` whose message tells the model what to fix:
which parameter, what was expected, what it sent.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import ErrorDetails

from deskhand.tools.keys import UnknownKeyError, parse_keys
from deskhand.tools.specs import ComputerToolSpec

MAX_PIXEL = 99_999  # far beyond any screenshot; keeps absurd integers out of the geometry
MAX_TYPE_CHARS = 100_000
MAX_KEY_CHARS = 200
MAX_SECONDS = 100
_PREVIEW_CHARS = 80
_PREVIEW_STRING_HEAD = 40
_MAX_REPORTED_ERRORS = 3


class ToolInputError(Exception):
    """The model sent input we cannot act on; `message` tells it what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_keys(text: str) -> str:
    try:
        parse_keys(text)
    except UnknownKeyError as exc:  # pydantic only turns ValueError into a validation error
        raise ValueError(exc.message) from None
    return text


def _check_typed_text(text: str) -> str:
    # Lone surrogates never get here: pydantic refuses them as invalid strings.
    for index, ch in enumerate(text):
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise ValueError(
                f"text contains a control character U+{ord(ch):04X} at index {index}; type only"
                " accepts printable text, newlines and tabs (press other keys with the key action)"
            )
    return text


def _check_region(region: list[int]) -> list[int]:
    x0, y0, x1, y1 = region
    if x0 >= x1 or y0 >= y1:
        raise ValueError(
            f"region {region} is empty or reversed; it must be [x0, y0, x1, y1] with"
            " x0 < x1 and y0 < y1 (top-left corner, then bottom-right corner)"
        )
    return region


Pixel = Annotated[int, Field(ge=0, le=MAX_PIXEL)]
Coordinate = Annotated[list[Pixel], Field(min_length=2, max_length=2)]
Region = Annotated[list[Pixel], Field(min_length=4, max_length=4), AfterValidator(_check_region)]
KeyCombo = Annotated[str, Field(max_length=MAX_KEY_CHARS), AfterValidator(_check_keys)]
TypedText = Annotated[
    str, Field(min_length=1, max_length=MAX_TYPE_CHARS), AfterValidator(_check_typed_text)
]
# Seconds: strict float accepts JSON integers too; the toolset's integer-only rule is in specs.
HoldSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
WaitSeconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
ScrollDirection = Literal["up", "down", "left", "right"]

_COORDINATE = "a list of two non-negative integers [x, y] in screenshot pixels"
_MODIFIERS = "a string of keys to hold during the action, e.g. 'shift' or 'ctrl+shift'"


class ActionInput(BaseModel):
    """Base of all action inputs: strict, closed (unknown parameters are errors), immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoInput(ActionInput):
    """screenshot, cursor_position, left_mouse_down, left_mouse_up: no parameters."""


class KeyInput(ActionInput):
    text: KeyCombo = Field(description="a key or key combination, e.g. 'Return' or 'ctrl+s'")
    repeat: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None, description="an integer from 1 to 100 (times to press)"
    )


class HoldKeyInput(ActionInput):
    text: KeyCombo = Field(description="a key or key combination to hold, e.g. 'shift'")
    duration: HoldSeconds = Field(
        description=f"a number of seconds, more than 0 and at most {MAX_SECONDS}"
    )


class TypeInput(ActionInput):
    text: TypedText = Field(description=f"a string of 1 to {MAX_TYPE_CHARS} characters to type")


class CoordinateInput(ActionInput):
    """mouse_move."""

    coordinate: Coordinate = Field(description=_COORDINATE)


class ClickInput(ActionInput):
    """The click family; without a coordinate the click happens at the current pointer."""

    coordinate: Coordinate | None = Field(default=None, description=_COORDINATE)
    text: KeyCombo | None = Field(default=None, description=_MODIFIERS)


class DragInput(ActionInput):
    """left_click_drag. `start_coordinate` is None only in versions that drag from the pointer."""

    start_coordinate: Coordinate | None = Field(description=_COORDINATE)
    coordinate: Coordinate = Field(description=_COORDINATE)
    text: KeyCombo | None = Field(default=None, description=_MODIFIERS)


class ScrollInput(ActionInput):
    scroll_direction: ScrollDirection = Field(description="one of 'up', 'down', 'left', 'right'")
    scroll_amount: Annotated[int, Field(ge=0, le=100)] = Field(
        description="an integer from 0 to 100 (wheel clicks)"
    )
    coordinate: Coordinate | None = Field(default=None, description=_COORDINATE)
    text: KeyCombo | None = Field(default=None, description=_MODIFIERS)


class WaitInput(ActionInput):
    duration: WaitSeconds = Field(description=f"a number of seconds from 0 to {MAX_SECONDS}")


class ZoomInput(ActionInput):
    region: Region = Field(
        description="a list of four non-negative integers [x0, y0, x1, y1] in screenshot pixels"
    )


ACTION_MODELS: dict[str, type[ActionInput]] = {
    "key": KeyInput,
    "hold_key": HoldKeyInput,
    "type": TypeInput,
    "cursor_position": NoInput,
    "mouse_move": CoordinateInput,
    "left_mouse_down": NoInput,
    "left_mouse_up": NoInput,
    "left_click": ClickInput,
    "left_click_drag": DragInput,
    "right_click": ClickInput,
    "middle_click": ClickInput,
    "double_click": ClickInput,
    "triple_click": ClickInput,
    "scroll": ScrollInput,
    "wait": WaitInput,
    "screenshot": NoInput,
    "zoom": ZoomInput,
}


def preview(value: object) -> str:
    """A short JSON-like rendering of a received value for error messages (never huge)."""
    text = _render(value, depth=0)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _render(value: object, depth: int) -> str:
    if isinstance(value, str):
        if len(value) <= _PREVIEW_STRING_HEAD:
            return _quote(value)
        return f"{_quote(value[:_PREVIEW_STRING_HEAD])}… ({len(value)} characters)"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() < 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple | dict):
        return _render_container(value, depth)
    return f"a {type(value).__name__}"


def _quote(text: str) -> str:
    # Escape lone surrogates too: the message must survive UTF-8 encoding in the API request.
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


def _render_container(
    value: list[object] | tuple[object, ...] | dict[object, object], depth: int
) -> str:
    if depth >= 2:
        return "[…]" if not isinstance(value, dict) else "{…}"
    if isinstance(value, dict):
        items = [
            f"{_render(k, depth + 1)}: {_render(v, depth + 1)}" for k, v in list(value.items())[:5]
        ]
        more = ", …" if len(value) > 5 else ""
        return "{" + ", ".join(items) + more + "}"
    items = [_render(v, depth + 1) for v in list(value[:5])]
    more = ", …" if len(value) > 5 else ""
    return "[" + ", ".join(items) + more + "]"


@dataclass(frozen=True)
class _Context:
    """What an error message needs to know about the call being parsed."""

    spec: ComputerToolSpec
    action: str
    model: type[ActionInput]

    def accepted(self) -> list[str]:
        return [
            name
            for name in self.model.model_fields
            if self.spec.not_accepted_reason(self.action, name) is None
        ]

    def accepts_phrase(self) -> str:
        params = self.accepted()
        if not params:
            return f"{self.action} takes no parameters"
        return f"{self.action} accepts: {', '.join(params)}"

    def expected(self, param: str) -> str:
        field = self.model.model_fields.get(param)
        description = field.description if field is not None else None
        return description or "a valid value"

    def error(self, text: str) -> ToolInputError:
        return ToolInputError(f"Invalid input for {self.action} ({self.spec.api_type}): {text}")


def parse_action(
    spec: ComputerToolSpec,
    name_or_action: str,
    raw_input: object,
    *,
    offered: tuple[str, ...] | None = None,
) -> tuple[str, ActionInput]:
    """Validate one tool_use input and return (action name, parsed model).

    For dated tools `name_or_action` is the tool_use name ("computer") and the action comes from
    the input's `action` field; for the toolset it is the member name. `offered` restricts the
    actions to those served to the model (default: `spec.offered_actions()`). Any problem raises
    ToolInputError with a message for the model; nothing else escapes.
    """
    actions = spec.offered_actions() if offered is None else offered
    params = _as_params(raw_input)
    if spec.kind == "dated":
        if name_or_action != spec.name:
            raise ToolInputError(
                f"Unknown tool {preview(name_or_action)}; this computer tool is named {spec.name!r}"
            )
        action, params = _pop_action(spec, params, actions)
    else:
        action = name_or_action
    _check_action(spec, action, actions)
    ctx = _Context(spec, action, ACTION_MODELS[action])
    data = _apply_version_rules(ctx, params)
    try:
        return action, ctx.model.model_validate(data)
    except ValidationError as exc:
        raise _explain(ctx, params, exc) from None


def _as_params(raw_input: object) -> dict[str, object]:
    if not isinstance(raw_input, Mapping):
        raise ToolInputError(f"Tool input must be a JSON object; got {preview(raw_input)}")
    params: dict[str, object] = {}
    for key, value in raw_input.items():
        if not isinstance(key, str):
            raise ToolInputError(f"Parameter names must be strings; got {preview(key)}")
        params[key] = value
    return params


def _pop_action(
    spec: ComputerToolSpec, params: dict[str, object], actions: tuple[str, ...]
) -> tuple[str, dict[str, object]]:
    valid = ", ".join(actions)
    if "action" not in params:
        raise ToolInputError(f"Missing 'action'; valid actions for {spec.api_type}: {valid}")
    action = params.pop("action")
    if not isinstance(action, str):
        raise ToolInputError(f"'action' must be a string, one of: {valid}; got {preview(action)}")
    return action, params


def _check_action(spec: ComputerToolSpec, action: str, actions: tuple[str, ...]) -> None:
    valid = ", ".join(actions)
    if action in actions:
        return
    shown = preview(action)
    if action in spec.actions:
        raise ToolInputError(f"Action {shown} is disabled for this tool; valid actions: {valid}")
    if action in ACTION_MODELS:
        raise ToolInputError(
            f"Action {shown} is not available in {spec.api_type}; valid actions: {valid}"
        )
    raise ToolInputError(f"Unknown action {shown}; valid actions for {spec.api_type}: {valid}")


def _apply_version_rules(ctx: _Context, params: dict[str, object]) -> dict[str, object]:
    """Refuse what this version lacks, treat null optionals as absent, fill version gaps."""
    data: dict[str, object] = {}
    fields = ctx.model.model_fields
    for param, value in params.items():
        field = fields.get(param)
        reason = ctx.spec.not_accepted_reason(ctx.action, param)
        if value is None and field is not None and (reason or not field.is_required()):
            continue  # null means "not given"
        if reason is not None:
            raise ctx.error(
                f"{param} is not accepted by {ctx.action} in {ctx.spec.api_type} ({reason})"
            )
        if value is None and field is not None:
            raise ctx.error(f"{param} is required: expected {ctx.expected(param)}; got null")
        if param in ctx.spec.integer_params and isinstance(value, float):
            raise ctx.error(
                f"{param} must be a whole number of seconds in {ctx.spec.api_type};"
                f" got {preview(value)}"
            )
        data[param] = value
    for param, field in fields.items():
        if field.is_required() and ctx.spec.not_accepted_reason(ctx.action, param) is not None:
            data[param] = None  # e.g. the 2024 drag starts wherever the pointer is
    return data


def _explain(ctx: _Context, params: Mapping[str, object], exc: ValidationError) -> ToolInputError:
    errors = exc.errors(include_url=False)
    messages = [_explain_one(ctx, params, error) for error in errors[:_MAX_REPORTED_ERRORS]]
    if len(errors) > _MAX_REPORTED_ERRORS:
        messages.append(f"and {len(errors) - _MAX_REPORTED_ERRORS} more problems")
    # Deduplicate while keeping order: a list with two bad items reports the list once.
    return ctx.error("; ".join(dict.fromkeys(messages)))


def _explain_one(ctx: _Context, params: Mapping[str, object], error: ErrorDetails) -> str:
    loc = error["loc"]
    param = str(loc[0]) if loc else ""
    kind = error["type"]
    if kind == "missing":
        return f"{param} is required: expected {ctx.expected(param)}"
    if kind == "extra_forbidden":
        return f"{preview(param)} is not a parameter of {ctx.action}; {ctx.accepts_phrase()}"
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        return message if message.startswith(param) else f"{param}: {message}"
    received = preview(params.get(param))
    where = "".join(f"[{part}]" for part in loc[1:])
    detail = f"{param}{where}: {error['msg']}" if where else error["msg"]
    return f"{param} must be {ctx.expected(param)}; got {received} ({detail})"
