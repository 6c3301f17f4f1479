"""Secret redaction and JSON normalisation for everything a run writes to disk.

The loop never puts the API key in an event on purpose; redaction is the second line of defense
against it leaking through an error message, a tool output or the model echoing it back.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
REDACTED = "[redacted]"


class Redactor:
    """Replaces each secret with "[redacted]" in strings, however deeply they are nested."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        # Empty strings are dropped: an unset environment variable must not redact everything.
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def html(self, page: str) -> str:
        """Redact a rendered page, where a secret may also appear HTML-escaped."""
        for secret in self.secrets:
            page = page.replace(secret, REDACTED).replace(html.escape(secret), REDACTED)
        return page

    def __call__(self, value: T) -> T:
        """`value` with every string redacted, keeping its shape (dicts, lists, dataclasses)."""
        if not self.secrets:
            return value
        return self._walk(value)  # type: ignore[no-any-return]

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._walk(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {
                f.name: self._walk(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if f.init
            }
            return dataclasses.replace(value, **changes)
        return value


def to_json_value(value: Any) -> Any:
    """`value` as plain JSON data: dataclasses and pydantic models (the SDK's types) become dicts,
    tuples lists, paths strings. Anything else unknown is a bug in the caller and raises."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_value(dataclasses.asdict(value))
    if isinstance(value, Path):
        return str(value)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return to_json_value(model_dump(mode="json"))
    raise TypeError(f"cannot write a {type(value).__name__} to a run record")
