"""The model table (`models.toml`): default tool version, output limit, thinking modes, price."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from deskhand.agent.events import Usage

ThinkingMode = Literal["off", "extended", "adaptive"]
DEFAULT_MODEL = "claude-sonnet-4-6"
_PROVIDER_NOISE = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.|@.*$|-v\d+:\d+$|-\d{8}$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        per_token = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        )
        return per_token / 1_000_000


@dataclass(frozen=True)
class ModelInfo:
    key: str  # the table entry that matched ("default" when none did)
    tool_version: str
    editor: str
    max_tokens: int
    thinking: tuple[ThinkingMode, ...]
    price: Price | None

    @property
    def known(self) -> bool:
        return self.key != "default"


@cache
def _table() -> dict[str, Any]:
    text = resources.files("deskhand.agent").joinpath("models.toml").read_text("utf-8")
    return tomllib.loads(text)


def _base_name(model: str) -> str:
    """`us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5`."""
    previous = None
    name = model.strip().lower()
    while name != previous:
        previous, name = name, _PROVIDER_NOISE.sub("", name)
    return name


def _extends(name: str, key: str) -> bool:
    """`claude-sonnet-4-5-latest` extends `claude-sonnet-4-5`; `claude-opus-4-10` does not
    extend `claude-opus-4-1` or `claude-opus-4` (a different version number)."""
    rest = name.removeprefix(key)
    return rest != name and (rest == "" or (rest[0] == "-" and not rest[1:2].isdigit()))


def lookup(model: str) -> ModelInfo:
    table = _table()
    models: dict[str, Any] = table["models"]
    name = _base_name(model)
    key = next((k for k in sorted(models, key=len, reverse=True) if _extends(name, k)), None)
    entry = {**table["default"], **(models[key] if key else {})}
    price = entry.get("price")
    return ModelInfo(
        key=key or "default",
        tool_version=entry["tool_version"],
        editor=entry["editor"],
        max_tokens=entry["max_tokens"],
        thinking=tuple(entry["thinking"]),
        price=Price(**price) if price else None,
    )


def known_models() -> list[str]:
    return sorted(_table()["models"])
