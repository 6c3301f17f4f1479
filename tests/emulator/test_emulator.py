"""The Messages-API emulator, driven only through the official `anthropic` SDK."""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types.beta import BetaMessage
from PIL import Image

from .script import (
    REDACTED,
    ApiError,
    RecordedRequest,
    Reply,
    StopReason,
    Text,
    Thinking,
    ToolUse,
    authentication_failed,
    overloaded,
    rate_limited,
)
from .server import Emulator, estimate_input_tokens

API_KEY = "sk-ant-emulator-test-key-do-not-leak"
MODEL = "claude-emulated-1"
HELLO: list[Any] = [{"role": "user", "content": "Hello there"}]
CLICK = ToolUse(
    "left_click",
    {"coordinate": [640, 400], "text": "a string long enough to be cut mid-value"},
    id="toolu_click",
    toolset_name="computer",
)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emulator.base_url, api_key=API_KEY) as sdk:
        yield sdk


@pytest.fixture
async def async_client(emulator: Emulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=emulator.base_url, api_key=API_KEY) as sdk:
        yield sdk


def png_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 64).save(buffer, fmt)
    return buffer.getvalue()


def png_base64(width: int, height: int, fmt: str = "PNG") -> str:
    return base64.b64encode(png_bytes(width, height, fmt)).decode()


def image_block(data: str, media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def only_request(emulator: Emulator) -> RecordedRequest:
    (request,) = emulator.script.requests
    return request


# --- replies, JSON and streamed -----------------------------------------------------------


def test_create_returns_the_scripted_message(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("Hi! How can I help?")]))
    message = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "Hi! How can I help?")
    ]
    assert (message.model, message.stop_reason) == (MODEL, "end_turn")
    assert message.usage.input_tokens == math.ceil(len("Hello there") / 4)
    assert message.usage.output_tokens == math.ceil(len("Hi! How can I help?") / 4)
    assert message.id.startswith("msg_")
    request = only_request(emulator)
    assert (request.method, request.path, request.stream) == ("POST", "/v1/messages", False)
    assert request.body == {"model": MODEL, "max_tokens": 64, "messages": HELLO}
    assert "anthropic-version" in request.headers


def test_beta_create_plays_a_toolset_tool_use(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("Clicking."), CLICK]))
    message = client.beta.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=HELLO,
        tools=[{"type": "computer_toolset_20260801"}],
        betas=["computer-use-2025-11-24", "context-management-2025-06-27"],
    )

    tool_use = message.content[1]
    assert tool_use.type == "tool_use"
    assert (tool_use.id, tool_use.name, tool_use.toolset_name) == (
        "toolu_click",
        "left_click",
        "computer",
    )
    assert tool_use.input == dict(CLICK.input)
    assert message.stop_reason == "tool_use"
    request = only_request(emulator)
    assert request.betas == ["computer-use-2025-11-24", "context-management-2025-06-27"]
    assert request.body["tools"] == [{"type": "computer_toolset_20260801"}]
    # SDK 2.x marks the beta surface by the header alone: no `?beta=true` any more.
    assert request.query == {}


def test_stream_sends_the_api_event_sequence(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("Hello"), CLICK]))
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=64, messages=HELLO, stream=True
    ) as response:
        events = [sse.event for sse in anthropic.Stream.raw_events(response.http_response)]

    block = ["content_block_start", "content_block_delta", "content_block_stop"]
    collapsed = [e for i, e in enumerate(events) if i == 0 or events[i - 1] != e]
    assert collapsed == ["message_start", "ping", *block, *block, "message_delta", "message_stop"]
    assert events.count("content_block_delta") >= 6


def test_beta_stream_accumulates_every_block_type(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    reply = Reply([Thinking("The button is at the centre."), Text("Clicking it now."), CLICK])
    emulator.script.add(reply, reply)
    plain = client.beta.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_message()

    assert {**streamed.to_dict(), "id": ""} == {**plain.to_dict(), "id": ""}
    assert [b.type for b in streamed.content] == ["thinking", "text", "tool_use"]
    assert streamed.content[0].to_dict() == Thinking("The button is at the centre.").to_json()
    # The input JSON came in several pieces, cut wherever they fell.
    assert kinds.count("input_json") >= 3
    assert streamed.usage.output_tokens == plain.usage.output_tokens > 1


def test_stream_usage_includes_cache_counts(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(
        Reply([Text("ok")], usage={"cache_read_input_tokens": 900, "input_tokens": 12})
    )
    with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        usage = stream.get_final_message().usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (12, 900)
    assert usage.cache_creation_input_tokens == 0


async def test_async_client_create_and_stream(
    emulator: Emulator, async_client: anthropic.AsyncAnthropic
) -> None:
    emulator.script.add(Reply([Text("first")]), overloaded(), Reply([CLICK]))
    message = await async_client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    async with async_client.beta.messages.stream(
        model=MODEL, max_tokens=64, messages=HELLO
    ) as stream:
        final = await stream.get_final_message()

    assert message.content[0].type == "text"
    assert final.content[0].to_dict() == CLICK.to_json()
    assert [e.status for e in emulator.script.exchanges] == [200, 529, 200]
    assert emulator.script.requests[0].headers["x-stainless-async"].startswith("async")


# --- the tool loop ------------------------------------------------------------------------


def test_tool_use_round_trip_with_an_image_result(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    def echo_result_id(request: RecordedRequest) -> Reply:
        return Reply([Text(f"saw {request.tool_results[0]['tool_use_id']}")])

    emulator.script.add(Reply([ToolUse("screenshot", toolset_name="computer")]), echo_result_id)
    first = client.beta.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    tool_use = first.content[0]
    assert tool_use.type == "tool_use"
    screenshot = png_base64(750, 100)
    result = {
        "type": "tool_result",
        "tool_use_id": tool_use.id,
        "toolset_name": "computer",
        "content": [image_block(screenshot)],
    }
    messages: list[Any] = [
        *HELLO,
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {"role": "user", "content": [result]},
    ]
    second = client.beta.messages.create(model=MODEL, max_tokens=64, messages=messages)

    assert second.content[0].to_dict() == {"type": "text", "text": f"saw {tool_use.id}"}
    sent = emulator.script.requests[1]
    assert sent.messages[1]["content"][0]["toolset_name"] == "computer"
    assert sent.tool_results == [result]
    # A 750x100 image costs 100 tokens; the rest is the text and the tool_use JSON.
    assert second.usage.input_tokens == estimate_input_tokens(sent.body)
    assert 100 < second.usage.input_tokens < 140


def test_a_raising_responder_fails_the_call_without_retries(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    def broken(request: RecordedRequest) -> Reply:
        raise KeyError("tool_results")

    emulator.script.add(broken)
    with pytest.raises(anthropic.InternalServerError, match="responder raised KeyError"):
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert len(emulator.script.exchanges) == 1


def test_an_exhausted_script_fails_the_call_without_retries(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    with pytest.raises(anthropic.InternalServerError, match="no turn left"):
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert len(emulator.script.exchanges) == 1


# --- stop reasons -------------------------------------------------------------------------

REFUSAL = {"type": "refusal", "category": "cyber", "explanation": "Not this."}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "stop_reason", ["pause_turn", "max_tokens", "refusal", "model_context_window_exceeded"]
)
def test_stop_reasons_reach_the_client(
    emulator: Emulator, client: anthropic.Anthropic, stop_reason: StopReason, stream: bool
) -> None:
    details = REFUSAL if stop_reason == "refusal" else None
    emulator.script.add(
        Reply([Text("Partial answ")], stop_reason=stop_reason, stop_details=details)
    )
    message: BetaMessage
    if stream:
        with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as events:
            message = events.get_final_message()
    else:
        message = client.beta.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert message.stop_reason == stop_reason
    stop_details = message.stop_details.to_dict() if message.stop_details else None
    assert stop_details == details
    assert message.content[0].to_dict() == {"type": "text", "text": "Partial answ"}


# --- validation ---------------------------------------------------------------------------

TOOL_USE_TURN = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}],
}


def tool_result(tool_use_id: str = "toolu_1", content: Any = "done") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}


def after_tool_use(*blocks: dict[str, Any]) -> list[Any]:
    return [*HELLO, TOOL_USE_TURN, {"role": "user", "content": list(blocks)}]


def with_image(data: str, media_type: str = "image/png") -> list[Any]:
    return after_tool_use(tool_result(content=[image_block(data, media_type)]))


CACHED_TEXT = {"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}
INVALID_REQUESTS: dict[str, tuple[dict[str, Any], str]] = {
    "assistant first": (
        {"messages": [{"role": "assistant", "content": "Hi"}]},
        'first message must use the "user" role',
    ),
    "two user turns": ({"messages": [*HELLO, *HELLO]}, "roles must alternate"),
    "unanswered tool_use": (
        {"messages": after_tool_use({"type": "text", "text": "go on"})},
        "messages.1: `tool_use` ids were found without `tool_result` blocks",
    ),
    "tool_result after text": (
        {"messages": after_tool_use({"type": "text", "text": "here:"}, tool_result())},
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
    ),
    "unknown tool_result id": (
        {"messages": after_tool_use(tool_result(), tool_result("toolu_2"))},
        "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2",
    ),
    "empty tool output": (
        {"messages": after_tool_use(tool_result(content=[{"type": "text", "text": ""}]))},
        "messages.2.content.0.content.0: text content blocks must contain non-whitespace text",
    ),
    "five breakpoints": (
        {"messages": HELLO, "system": [CACHED_TEXT] * 5},
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "bmp image": (
        {"messages": with_image(png_base64(8, 8, "BMP"), "image/bmp")},
        "messages.2.content.0.content.0.source.base64.media_type: Input should be",
    ),
    "not base64": ({"messages": with_image("not base64!")}, "invalid base64 data"),
    "not an image": (
        {"messages": with_image(base64.b64encode(b"hello").decode())},
        "Could not process image",
    ),
    "truncated image": (
        {"messages": with_image(base64.b64encode(png_bytes(64, 64)[:-40]).decode())},
        "Could not process image",
    ),
    "png sent as jpeg": (
        {"messages": with_image(png_base64(8, 8), "image/jpeg")},
        "Image does not match the provided media type image/jpeg",
    ),
    "system message": (
        {"messages": [*HELLO, {"role": "system", "content": "be brief"}]},
        'messages.1: role "system" messages are not emulated',
    ),
}


@pytest.mark.parametrize(("fields", "complaint"), INVALID_REQUESTS.values(), ids=INVALID_REQUESTS)
def test_invalid_requests_get_400_and_keep_the_turn(
    emulator: Emulator, client: anthropic.Anthropic, fields: dict[str, Any], complaint: str
) -> None:
    emulator.script.add(Reply([Text("never sent")]))
    with pytest.raises(anthropic.BadRequestError, match="invalid_request_error") as caught:
        client.beta.messages.create(model=MODEL, max_tokens=64, **fields)

    assert complaint in caught.value.message
    assert emulator.script.pending == 1
    assert [exchange.status for exchange in emulator.script.exchanges] == [400]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"model": MODEL, "messages": HELLO}, "max_tokens: Field required"),
        ({"max_tokens": 8, "messages": HELLO}, "model: Field required"),
        ({"model": MODEL, "max_tokens": 8}, "messages: at least one message is required"),
    ],
)
def test_missing_fields_get_400(
    emulator: Emulator, client: anthropic.Anthropic, body: dict[str, Any], complaint: str
) -> None:
    # The SDK's typed methods won't send these, so post the raw body through the client.
    with pytest.raises(anthropic.BadRequestError, match=complaint):
        client.post("/v1/messages", body=body, cast_to=BetaMessage)


def test_an_unknown_endpoint_is_a_recorded_404(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-emulated-1")
    assert only_request(emulator).path == "/v1/models/claude-emulated-1"


# --- errors and retries -------------------------------------------------------------------


def test_rate_limit_and_overload_are_retried_until_the_reply(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(rate_limited(), overloaded(), Reply([Text("finally")]))
    started = time.monotonic()
    message = client.with_options(max_retries=2).messages.create(
        model=MODEL, max_tokens=64, messages=HELLO
    )

    assert message.content[0].to_dict() == {"type": "text", "text": "finally"}
    exchanges = emulator.script.exchanges
    assert [e.status for e in exchanges] == [429, 529, 200]
    assert [e.request.headers["x-stainless-retry-count"] for e in exchanges] == ["0", "1", "2"]
    # retry-after-ms: 1 replaced the SDK's backoff (0.375 s and up per retry).
    assert time.monotonic() - started < 0.7


def test_errors_surface_once_retries_run_out(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(overloaded(), overloaded(), rate_limited())
    with pytest.raises(anthropic.OverloadedError) as overload:
        client.with_options(max_retries=1).messages.create(
            model=MODEL, max_tokens=64, messages=HELLO
        )
    with pytest.raises(anthropic.RateLimitError):
        client.with_options(max_retries=0).messages.create(
            model=MODEL, max_tokens=64, messages=HELLO
        )

    assert overload.value.status_code == 529
    assert overload.value.body == overloaded().body()
    assert [e.status for e in emulator.script.exchanges] == [529, 529, 429]


def test_authentication_error_is_not_retried(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(authentication_failed(), Reply([Text("unreachable")]))
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert [e.status for e in emulator.script.exchanges] == [401]


def test_overload_mid_stream_raises_while_reading(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(overloaded(mid_stream=True))
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error") as caught,
        client.beta.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream,
    ):
        stream.get_final_message()

    # The HTTP status was 200, so the SDK raises the base class and does not retry.
    assert caught.value.status_code == 200
    assert [exchange.status for exchange in emulator.script.exchanges] == [200]


def test_scripted_error_headers_reach_the_client(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(
        ApiError(503, "api_error", "try later", {"x-should-retry": "false", "retry-after": "9"})
    )
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "9"
    assert caught.value.response.headers["request-id"].startswith("req_")
    assert len(emulator.script.exchanges) == 1  # x-should-retry: false overrode the 5xx retry


# --- credentials --------------------------------------------------------------------------


def test_credentials_are_redacted_in_the_recording(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("one")]), Reply([Text("two")]))
    client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    # The x-api-key header of older SDKs and of raw HTTP clients.
    keyed: dict[str, str | anthropic.Omit] = {"x-api-key": API_KEY, "Authorization": anthropic.omit}
    client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, extra_headers=keyed)

    first, second = emulator.script.requests
    assert first.headers["authorization"] == REDACTED
    assert (second.headers["x-api-key"], "authorization" in second.headers) == (REDACTED, False)
    assert API_KEY not in repr(emulator.script.exchanges)


def test_a_request_without_credentials_is_rejected(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("never sent")]))
    with pytest.raises(anthropic.AuthenticationError, match="x-api-key header is required"):
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=HELLO,
            extra_headers={"Authorization": anthropic.omit},
        )
    assert emulator.script.pending == 1


# --- prompt caching -----------------------------------------------------------------------

LONG_RULES = "Follow the rules. " * 300  # 5,400 chars: 1,350 tokens, above the 1,024 minimum


def cached_system(text: str) -> list[Any]:
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]


def usage_of(client: anthropic.Anthropic, system: list[Any], messages: list[Any]) -> Any:
    message = client.messages.create(model=MODEL, max_tokens=64, system=system, messages=messages)
    return message.usage


def test_prompt_cache_writes_then_reads_a_breakpoint_prefix(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(*[Reply([Text("ok")])] * 4)
    longer = [*HELLO, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "More"}]
    rules = math.ceil(len(LONG_RULES) / 4)

    written = usage_of(client, cached_system(LONG_RULES), HELLO)
    read = usage_of(client, cached_system(LONG_RULES), longer)
    changed = usage_of(client, cached_system(LONG_RULES + "!"), HELLO)
    short = usage_of(client, cached_system("Short rules."), HELLO)

    hello = math.ceil(len("Hello there") / 4)
    assert (written.cache_creation_input_tokens, written.cache_read_input_tokens) == (rules, 0)
    assert written.input_tokens == hello
    assert (read.cache_creation_input_tokens, read.cache_read_input_tokens) == (0, rules)
    assert read.input_tokens == hello + 1 + 1  # "ok" and "More"
    assert changed.cache_creation_input_tokens == rules + 1
    # Below the minimum cacheable length nothing is cached, as at the API.
    assert (short.cache_creation_input_tokens, short.cache_read_input_tokens) == (0, 0)


def test_a_breakpoint_that_moves_with_the_conversation_still_hits(
    emulator: Emulator, client: anthropic.Anthropic
) -> None:
    emulator.script.add(Reply([Text("ok")]), Reply([Text("ok")]))
    # Top-level cache_control marks the last block, so the breakpoint moves every turn.
    first: list[Any] = [{"role": "user", "content": LONG_RULES}]
    second = [*first, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "More"}]
    for messages in (first, second):
        client.beta.messages.create(
            model=MODEL, max_tokens=64, messages=messages, cache_control={"type": "ephemeral"}
        )

    rules = math.ceil(len(LONG_RULES) / 4)
    usages = [exchange.response["usage"] for exchange in emulator.script.exchanges]
    assert [(u["cache_creation_input_tokens"], u["cache_read_input_tokens"]) for u in usages] == [
        (rules, 0),
        (2, rules),  # found by looking back from the new breakpoint; "ok" + "More" written
    ]
    assert [u["input_tokens"] for u in usages] == [0, 0]
    assert emulator.script.requests[1].cache_breakpoints == ["cache_control"]
