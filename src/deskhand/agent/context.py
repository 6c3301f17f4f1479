"""What the model is sent each turn: screenshot pruning and prompt-cache breakpoints.

The conversation itself keeps everything; these functions build the request's copy.

Pruning keeps the most recent screenshots and replaces older ones with a short text. It removes
them in chunks: the number removed is rounded down to a multiple of `chunk`, so the request's
prefix stays byte-identical (and cached) for `chunk` turns at a time and changes only when
another chunk goes. The reference demo instead disables pruning whenever caching is on, so its
context grows by a screenshot every step.

Breakpoints go on the system prompt (which caches the tools too: they come first) and on the
last block of the most recent user messages: the newest one writes the cache for the next turn,
the one before it reads what the previous turn wrote.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PRUNED_TEXT = "[an older screenshot was removed here to save context]"
EPHEMERAL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4


@dataclass(frozen=True)
class ContextPolicy:
    # Measured with the emulator (docs/benchmarks.md): a chunk as large as `keep_images` halves
    # the cache rewrites of a smaller one and bounds the context at 2 * keep_images screenshots.
    keep_images: int | None = 10  # None: never prune
    chunk: int = 10
    caching: bool = True
    cached_turns: int = 2  # user messages with a breakpoint (plus one on the system prompt)

    def __post_init__(self) -> None:
        if self.keep_images is not None and self.keep_images < 0:
            raise ValueError("keep_images must be 0 or more")
        if self.chunk < 1:
            raise ValueError("chunk must be at least 1")
        if not 0 <= self.cached_turns < MAX_BREAKPOINTS:
            raise ValueError(f"cached_turns must be within 0..{MAX_BREAKPOINTS - 1}")


Message = dict[str, Any]


def _tool_result_images(messages: list[Message]) -> Iterator[tuple[list[Any], int]]:
    """(content list, index) of every image inside a tool_result, oldest first."""
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            inner = block.get("content") if block.get("type") == "tool_result" else None
            if isinstance(inner, list):
                for index, part in enumerate(inner):
                    if part.get("type") == "image":
                        yield inner, index


def count_images(messages: list[Message]) -> int:
    return sum(1 for _ in _tool_result_images(messages))


def images_to_remove(total: int, keep: int, chunk: int) -> int:
    excess = total - keep
    return 0 if excess <= 0 else excess - excess % chunk


def prune_images(messages: list[Message], keep: int, chunk: int) -> list[Message]:
    """A copy of `messages` with all but the newest screenshots replaced by a short text."""
    pruned = copy.deepcopy(messages)
    remove = images_to_remove(count_images(pruned), keep, chunk)
    for content, index in list(_tool_result_images(pruned))[:remove]:
        content[index] = {"type": "text", "text": PRUNED_TEXT}
    return pruned


def _strip_cache_control(messages: list[Message]) -> None:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                block.pop("cache_control", None)


def _mark_recent_user_messages(messages: list[Message], count: int) -> None:
    marked = 0
    for message in reversed(messages):
        if marked == count:
            return
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list) and content:
            content[-1]["cache_control"] = dict(EPHEMERAL)
            marked += 1


def prepare(
    system: list[dict[str, Any]], messages: list[Message], policy: ContextPolicy
) -> tuple[list[dict[str, Any]], list[Message]]:
    """The system blocks and messages to send this turn, per `policy`."""
    system_copy = copy.deepcopy(system)
    if policy.keep_images is not None:
        sent = prune_images(messages, policy.keep_images, policy.chunk)
    else:
        sent = copy.deepcopy(messages)
    _strip_cache_control(sent)
    if policy.caching:
        if system_copy:
            system_copy[-1]["cache_control"] = dict(EPHEMERAL)
        _mark_recent_user_messages(sent, policy.cached_turns)
    return system_copy, sent
