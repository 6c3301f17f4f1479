"""Screenshot pruning and cache breakpoints: what each request carries."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from deskhand.agent.context import (
    MAX_BREAKPOINTS,
    PRUNED_TEXT,
    ContextPolicy,
    count_images,
    images_to_remove,
    prepare,
)

SYSTEM = [{"type": "text", "text": "system prompt"}]


def image(n: int) -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": f"i{n}"},
    }


def conversation(screenshots: int) -> list[dict[str, Any]]:
    """A task, then `screenshots` turns of one tool call answered with text and a screenshot."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": "go"}]}]
    for n in range(screenshots):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{n}",
                        "name": "computer",
                        "input": {"action": "screenshot"},
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"t{n}",
                        "content": [{"type": "text", "text": f"r{n}"}, image(n)],
                    }
                ],
            }
        )
    return messages


def kept_images(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        for block in message["content"]:
            for part in block.get("content", []) if block["type"] == "tool_result" else []:
                if part["type"] == "image":
                    found.append(part["source"]["data"])
    return found


def test_pruning_keeps_the_newest_and_says_what_went() -> None:
    policy = ContextPolicy(keep_images=3, chunk=3, caching=False)
    _, sent = prepare(SYSTEM, conversation(8), policy)
    # 8 images, keep 3: 5 excess, removed in a chunk of 3 -> 5 remain.
    assert kept_images(sent) == ["i3", "i4", "i5", "i6", "i7"]
    assert json.dumps(sent).count(PRUNED_TEXT) == 3


def test_the_conversation_itself_is_never_changed() -> None:
    messages = conversation(12)
    before = json.dumps(messages)
    prepare(SYSTEM, messages, ContextPolicy(keep_images=2, chunk=2))
    assert json.dumps(messages) == before


def test_no_pruning_when_disabled() -> None:
    _, sent = prepare(SYSTEM, conversation(30), ContextPolicy(keep_images=None, caching=False))
    assert count_images(sent) == 30


@given(st.integers(0, 200), st.integers(0, 20), st.integers(1, 20))
def test_removal_is_chunked_and_keeps_enough(total: int, keep: int, chunk: int) -> None:
    removed = images_to_remove(total, keep, chunk)
    assert removed % chunk == 0
    assert total - removed >= min(total, keep)
    assert total - removed < keep + chunk or total <= keep


@given(st.integers(1, 60), st.integers(1, 8), st.integers(1, 8))
def test_the_sent_prefix_changes_only_once_per_chunk(turns: int, keep: int, chunk: int) -> None:
    """Between two consecutive requests, the earlier request's messages are a prefix of the
    later one's except on the turns where another chunk of screenshots goes."""
    policy = ContextPolicy(keep_images=keep, chunk=chunk, caching=False)
    changes = 0
    previous: list[dict[str, Any]] | None = None
    for n in range(1, turns + 1):
        _, sent = prepare(SYSTEM, conversation(n), policy)
        if previous is not None and sent[: len(previous)] != previous:
            changes += 1
        previous = sent
    assert changes == images_to_remove(turns, keep, chunk) // chunk


@given(st.integers(0, 30), st.integers(0, 3))
def test_breakpoints_stay_within_the_api_limit(turns: int, cached_turns: int) -> None:
    policy = ContextPolicy(keep_images=4, chunk=2, cached_turns=cached_turns)
    system, sent = prepare(SYSTEM, conversation(turns), policy)
    marks = json.dumps([system, sent]).count('"cache_control"')
    assert marks <= MAX_BREAKPOINTS
    assert "cache_control" in system[-1]
    user_marks = sum(1 for m in sent if "cache_control" in m["content"][-1])
    assert user_marks == min(cached_turns, turns + 1)


def test_breakpoints_sit_on_the_newest_user_messages_only() -> None:
    messages = conversation(5)
    messages[2]["content"][-1]["cache_control"] = {"type": "ephemeral"}  # stale from a copy
    _, sent = prepare(SYSTEM, messages, ContextPolicy(cached_turns=2))
    marked = [i for i, m in enumerate(sent) if "cache_control" in m["content"][-1]]
    assert marked == [len(sent) - 3, len(sent) - 1]


def test_no_breakpoints_without_caching() -> None:
    system, sent = prepare(SYSTEM, conversation(3), ContextPolicy(caching=False))
    assert "cache_control" not in json.dumps([system, sent])
