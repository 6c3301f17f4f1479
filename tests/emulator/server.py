"""The emulator's HTTP side: POST /v1/messages as the official `anthropic` SDK calls it.

`Emulator` runs a FastAPI app under uvicorn in a background thread (its own event loop, so
sync and async clients both work), bound to 127.0.0.1 on a free port. Both
`client.messages.create` and `client.beta.messages.create` land here: SDK 2.x sends both to
the bare path (no `?beta=true`), the beta one with an `anthropic-beta` header when betas are
given, and its API key as `Authorization: Bearer`, not `x-api-key`. A request is answered as
the API does, in this order:
1. 401 authentication_error without `x-api-key` or `authorization`;
2. 400 invalid_request_error without `anthropic-version`, or when the body is not valid (see
   `validate`);
3. otherwise the script's next turn: a JSON message, the server-sent events of a stream
   (`stream: true`), or a scripted error. An empty script answers a 500 the SDK won't retry.

Token estimate (`estimate_input_tokens`, and the usage of every reply unless the turn sets
it). Text, the JSON of tool definitions and tool inputs, and any other block's JSON cost
ceil(chars / 4); an image costs ceil(width * height / 750) from the decoded image's size (the
vision docs' rule of thumb; no server-side downscaling is modelled, nor the API's hidden
tool-use system prompt). Output tokens are the same estimate over the reply's blocks.

Prompt caching is simulated so tests can see the effect of breakpoints: the prompt is read in
the API's order (tools, system, messages), and at every cache_control breakpoint the prefix
up to it (model included, cache_control markers excluded) is hashed and written to the cache.
The longest written prefix that ends at a breakpoint or up to 20 blocks before one is a cache
read, what lies between it and the last breakpoint is a cache write, the rest is plain input.
As with the API, a prefix shorter than `min_cacheable_tokens` is not written; unlike it,
entries never expire. Only answered requests touch the cache.

The same turns can be played through the SDK's Vertex and Bedrock clients, which move the
model from the body into the URL and add `anthropic_version` to the body (Bedrock also copies
the `anthropic-beta` header into the body as `anthropic_beta` and drops `stream`, which its
path says instead). Their requests are recorded as sent; checks and replies use the
first-party body they amount to. Each only needs an `Authorization` header (no signature or
token is verified):
- Vertex (`base_url=emulator.vertex_base_url`): POST
  `/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict`
  (JSON) and `:streamRawPredict` (server-sent events), answered as /v1/messages answers;
- Bedrock (`base_url=emulator.base_url`): POST `/model/{model}/invoke` (JSON) and
  `/model/{model}/invoke-with-response-stream`: the stream's events in AWS event-stream
  framing, each a `chunk` holding the event's JSON in base64 `bytes`, a mid-stream error an
  exception frame; errors are Bedrock's `{"message": ...}` with an `x-amzn-errortype` header.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import json
import math
import socket
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from PIL import Image, UnidentifiedImageError

from .script import (
    ApiError,
    Exchange,
    RecordedRequest,
    Reply,
    Script,
    Turn,
    cache_control_paths,
    content_blocks,
    emulator_failure,
    invalid_request,
    new_id,
)

MAX_CACHE_BREAKPOINTS = 4
MAX_IMAGE_EDGE_PX = 8000
MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
CHARS_PER_TOKEN = 4
PIXELS_PER_TOKEN = 750
# The API checks for a cache hit at up to ~20 blocks before each breakpoint.
CACHE_LOOKBACK_SEGMENTS = 20


# --- validation -------------------------------------------------------------------------


def validate(body: Any) -> str | None:
    """The API's complaint about this body, as its 400 message, or None if it would run."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request: expected a JSON object"
    checks = (
        _check_required,
        _check_roles,
        _check_block_shapes,
        _check_tool_pairing,
        _check_breakpoints,
        _check_images,
    )
    for check in checks:
        if (problem := check(body)) is not None:
            return problem
    return None


def _check_required(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return "max_tokens: Field required"
    if max_tokens < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    if not isinstance(body.get("tools", []), list):
        return "tools: Input should be a valid list"
    if not isinstance(body.get("system", ""), str | list):
        return "system: Input should be a valid string or list"
    return None


def _check_roles(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    previous = None
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            # The beta's mid-conversation system messages have placement rules we don't model.
            return f'messages.{index}: role "system" messages are not emulated'
        if role not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if not isinstance(message.get("content"), str | list):
            return f"messages.{index}.content: Field required"
        if not message["content"] and not (role == "assistant" and index == len(messages) - 1):
            return (
                f"messages.{index}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        if previous is None and role != "user":
            return 'messages: first message must use the "user" role'
        if role == previous:
            return (
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        previous = role
    return None


def _block_lists(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Every list of content blocks, with its path: system, messages, tool_result contents."""
    if isinstance(body.get("system"), list):
        yield "system", body["system"]
    for index, message in enumerate(body["messages"]):
        if isinstance(message["content"], list):
            yield f"messages.{index}.content", message["content"]
    for path, block in content_blocks(body):
        if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            yield f"{path}.content", block["content"]


def _check_block_shapes(body: dict[str, Any]) -> str | None:
    for path, blocks in _block_lists(body):
        for index, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                return f"{path}.{index}: Input should be an object with a `type`"
            # A classic trap for a tool loop: a command with no output must not become "".
            if block["type"] == "text" and not str(block.get("text", "")).strip():
                return f"{path}.{index}: text content blocks must contain non-whitespace text"
    return None


def _blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    blocks = content if isinstance(content, list) else []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") == kind]


def _leading_tool_result_ids(message: dict[str, Any] | None) -> set[str]:
    """Ids of the tool_result blocks that open a user message (the API wants them first)."""
    content = message["content"] if message is not None else None
    ids: set[str] = set()
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            break
        ids.add(str(block.get("tool_use_id")))
    return ids


def _check_tool_pairing(body: dict[str, Any]) -> str | None:
    messages: list[dict[str, Any]] = body["messages"]
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            following = messages[index + 1] if index + 1 < len(messages) else None
            answered = _leading_tool_result_ids(following)
            unanswered = [
                str(b.get("id"))
                for b in _blocks_of(message, "tool_use")
                if str(b.get("id")) not in answered
            ]
            if unanswered:
                return (
                    f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(unanswered)}. Each `tool_use` block must "
                    "have a corresponding `tool_result` block in the next message."
                )
        else:
            previous = _blocks_of(messages[index - 1], "tool_use") if index > 0 else []
            asked = {str(b.get("id")) for b in previous}
            for block in _blocks_of(message, "tool_result"):
                if str(block.get("tool_use_id")) not in asked:
                    return (
                        f"messages.{index}: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have "
                        "a corresponding `tool_use` block in the previous message."
                    )
    return None


def _check_breakpoints(body: dict[str, Any]) -> str | None:
    found = len(cache_control_paths(body))
    if found > MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return None


def _check_images(body: dict[str, Any]) -> str | None:
    for path, block in content_blocks(body):
        if block.get("type") == "image" and (problem := _image_problem(block)) is not None:
            return f"{path}.source{problem}"
    return None


def _image_problem(block: dict[str, Any]) -> str | None:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        # url and file sources would need a fetch or the Files API: nothing our client sends.
        return ": the emulator accepts only base64 image sources"
    media_type = source.get("media_type")
    if media_type not in MEDIA_TYPES:
        return ".base64.media_type: Input should be " + ", ".join(f"'{t}'" for t in MEDIA_TYPES)
    try:
        data = base64.b64decode(source["data"], validate=True)
    except (binascii.Error, TypeError):
        return ".base64.data: invalid base64 data"
    try:
        # Decoded in full: a truncated file fails here, as it does at the API.
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return ".base64.data: Could not process image"
    if image.format != MEDIA_TYPES[media_type]:
        return f".base64.data: Image does not match the provided media type {media_type}"
    if max(image.size) > MAX_IMAGE_EDGE_PX:
        return (
            ".base64.data: At least one of the image dimensions exceed max allowed size: "
            f"{MAX_IMAGE_EDGE_PX} pixels"
        )
    return None


def _image_size(source: dict[str, Any]) -> tuple[int, int]:
    """Read from the header alone: validation has already decoded the image once."""
    with Image.open(io.BytesIO(base64.b64decode(source["data"]))) as image:
        return image.size


# --- token estimate and prompt cache ------------------------------------------------------


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _json_tokens(value: Any) -> int:
    return _text_tokens(json.dumps(value, separators=(",", ":")))


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return _text_tokens(str(block.get("text", "")))
    if kind == "thinking":
        return _text_tokens(str(block.get("thinking", "")))
    if kind == "image":
        width, height = _image_size(block["source"])
        return math.ceil(width * height / PIXELS_PER_TOKEN)
    if kind == "tool_use":
        return _text_tokens(str(block.get("name", ""))) + _json_tokens(block.get("input"))
    if kind == "tool_result":
        nested = block.get("content", "")
        if isinstance(nested, str):
            return _text_tokens(nested)
        return sum(_block_tokens(b) for b in nested)
    return _json_tokens(_without_cache_control(block))


def _without_cache_control(part: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in part.items() if key != "cache_control"}


@dataclass(frozen=True)
class _Segment:
    """One cacheable piece of the prompt, in the order the API reads them."""

    key: str  # what the piece holds, without cache_control: what the prefix hash covers
    tokens: int
    breakpoint: bool


def _segment(role: str, part: Any) -> _Segment:
    if isinstance(part, str):
        return _Segment(f"{role}:{json.dumps(part)}", _text_tokens(part), breakpoint=False)
    key = json.dumps(_without_cache_control(part), sort_keys=True)
    # A tool definition has no content type, so it is counted as the JSON it is.
    return _Segment(f"{role}:{key}", _block_tokens(part), part.get("cache_control") is not None)


def _segments(body: Mapping[str, Any]) -> list[_Segment]:
    segments = [_segment("tool", tool) for tool in body.get("tools", [])]
    system = body.get("system")
    if system:
        parts = system if isinstance(system, list) else [system]
        segments += [_segment("system", part) for part in parts]
    for message in body["messages"]:
        content = message["content"]
        parts = content if isinstance(content, list) else [content]
        segments += [_segment(message["role"], part) for part in parts]
    if body.get("cache_control") is not None and segments:
        segments[-1] = _Segment(segments[-1].key, segments[-1].tokens, breakpoint=True)
    return segments


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """The whole prompt's estimated size, cached or not (body must pass `validate`)."""
    return sum(segment.tokens for segment in _segments(body))


@dataclass(frozen=True)
class _Prefix:
    """The prompt up to and including one segment."""

    digest: str
    tokens: int
    breakpoint: bool


class PromptCache:
    """Prefixes written at cache breakpoints; see the module docstring."""

    def __init__(self, min_cacheable_tokens: int) -> None:
        self._min_tokens = min_cacheable_tokens
        self._written: set[str] = set()

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        """The input side of a reply's usage; writes this prompt's breakpoint prefixes."""
        prefixes = _prefixes(body)
        read = max(
            (self._hit(prefixes[: i + 1]) for i, p in enumerate(prefixes) if p.breakpoint),
            default=0,
        )
        breakpoints = [p for p in prefixes if p.breakpoint and p.tokens >= self._min_tokens]
        written = max((p.tokens for p in breakpoints), default=read) - read
        self._written.update(p.digest for p in breakpoints)
        total = prefixes[-1].tokens
        return {
            "input_tokens": total - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }

    def _hit(self, through_breakpoint: list[_Prefix]) -> int:
        """The longest written prefix within the API's look-back window before a breakpoint,
        which is what lets a breakpoint that moves along with the conversation still hit."""
        window = through_breakpoint[-CACHE_LOOKBACK_SEGMENTS:]
        return max((p.tokens for p in window if p.digest in self._written), default=0)


def _prefixes(body: Mapping[str, Any]) -> list[_Prefix]:
    digest = hashlib.sha256(str(body["model"]).encode())
    tokens = 0
    prefixes = []
    for segment in _segments(body):
        digest.update(segment.key.encode())
        tokens += segment.tokens
        prefixes.append(_Prefix(digest.hexdigest(), tokens, segment.breakpoint))
    return prefixes


def _output_tokens(reply: Reply) -> int:
    # The API never reports 0 output tokens, even for an empty answer.
    return max(1, sum(_block_tokens(block.to_json()) for block in reply.content))


# --- answers ------------------------------------------------------------------------------


def _message(reply: Reply, body: Mapping[str, Any], usage: Mapping[str, int]) -> dict[str, Any]:
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [block.to_json() for block in reply.content],
        "stop_reason": reply.final_stop_reason,
        "stop_sequence": reply.stop_sequence,
        "stop_details": None if reply.stop_details is None else dict(reply.stop_details),
        "usage": dict(usage),
    }


def _chunks(text: str, pieces: int = 3) -> list[str]:
    """The text cut into up to `pieces` parts, wherever that falls (mid-word, mid-string)."""
    size = max(1, math.ceil(len(text) / pieces))
    return [text[start : start + size] for start in range(0, len(text), size)]


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """content_block_start, its deltas and content_block_stop, as the API streams a block."""
    kind = block["type"]
    if kind == "text":
        start = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _chunks(block["text"])]
    elif kind == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": part} for part in _chunks(block["thinking"])
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        # tool_use starts with an empty input; the JSON follows in pieces, the first one empty
        # as the API sends it, and only the pieces put together parse.
        start = {**block, "input": {}}
        pieces = ["", *_chunks(json.dumps(block["input"]))]
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": start},
    )
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _opening_events(message: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "stop_details": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}


def stream_events(message: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The server-sent events that add up to this message."""
    yield from _opening_events(message)
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    delta = {key: message[key] for key in ("stop_reason", "stop_sequence", "stop_details")}
    # message_delta usage is cumulative: the SDK overwrites its snapshot with it.
    usage = message["usage"]
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
    yield "message_stop", {"type": "message_stop"}


Events = Iterator[tuple[str, dict[str, Any]]]
_Frame = TypeVar("_Frame", str, bytes)


def _sse(events: Events, delay_s: float = 0.0) -> StreamingResponse:
    frames = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
    return StreamingResponse(
        _paced(frames, delay_s), media_type="text/event-stream", headers=_headers()
    )


async def _paced(frames: list[_Frame], delay_s: float) -> AsyncIterator[_Frame]:
    for frame in frames:
        if delay_s:
            await asyncio.sleep(delay_s)
        yield frame


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"request-id": new_id("req"), **(extra or {})}


# --- Bedrock's wire format ----------------------------------------------------------------

# Bedrock's names for the API's error types: the HTTP error's `x-amzn-errortype`, and (with a
# lower-case first letter) the `:exception-type` of an exception frame in a stream.
BEDROCK_EXCEPTIONS: Mapping[str, str] = {
    "invalid_request_error": "ValidationException",
    "authentication_error": "AccessDeniedException",
    "permission_error": "AccessDeniedException",
    "not_found_error": "ResourceNotFoundException",
    "request_too_large": "ValidationException",
    "rate_limit_error": "ThrottlingException",
    "api_error": "InternalServerException",
    "overloaded_error": "ServiceUnavailableException",
}
# An AWS event-stream header value of type string.
_AWS_STRING = 7


def _aws_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _AWS_STRING, len(raw_value))
        + raw_value
    )


def aws_event_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message of the AWS event-stream framing (what botocore's EventStreamBuffer reads):
    prelude (total length, headers length, CRC32 of those 8 bytes), headers, payload, and a
    CRC32 of everything before it."""
    encoded = b"".join(_aws_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _bedrock_chunk(data: Mapping[str, Any]) -> bytes:
    """One Messages stream event as Bedrock wraps it: a `chunk` whose `bytes` are the event's
    JSON, base64-encoded (the SSE event name is dropped: the JSON's `type` carries it)."""
    payload = {"bytes": base64.b64encode(json.dumps(data).encode()).decode()}
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return aws_event_message(headers, json.dumps(payload).encode())


def _bedrock_exception(error: ApiError) -> bytes:
    name = BEDROCK_EXCEPTIONS.get(error.type, "ModelStreamErrorException")
    headers = {
        ":exception-type": name[0].lower() + name[1:],
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return aws_event_message(headers, json.dumps({"message": error.message}).encode())


def _event_stream(frames: list[bytes], delay_s: float = 0.0) -> StreamingResponse:
    return StreamingResponse(
        _paced(frames, delay_s),
        media_type="application/vnd.amazon.eventstream",
        headers=_headers(),
    )


# --- answers by platform ------------------------------------------------------------------

Platform = Literal["anthropic", "vertex", "bedrock"]


@dataclass(frozen=True)
class _Call:
    """One Messages call as a platform carries it: `request` is what arrived (and what is
    recorded), `body` the first-party Messages body it amounts to (`model` and `stream` put
    back where the platform moved them to the URL)."""

    platform: Platform
    request: RecordedRequest
    body: Any

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


def _first_party_body(body: Any, model: str, stream: bool) -> Any:
    """A Vertex or Bedrock body with the model (and stream flag) back in it, without the
    platform's own `anthropic_version`/`anthropic_beta` fields."""
    if not isinstance(body, dict):
        return body
    moved = {k: v for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")}
    return {**moved, "model": model, "stream": stream}


class _Answerer:
    """Turns one recorded request into a response, consuming the script."""

    def __init__(self, script: Script, cache: PromptCache) -> None:
        self.script = script
        self.cache = cache

    async def answer(self, call: _Call) -> Response:
        problem = self._reject(call)
        if problem is not None:
            return self.error(call, problem)
        outcome = self._play(self.script.next_turn(), call.request)
        if isinstance(outcome, ApiError):
            return self.error(call, outcome)
        usage = {**self.cache.usage(call.body), "output_tokens": _output_tokens(outcome)}
        message = _message(outcome, call.body, {**usage, **outcome.usage})
        self.script.record(Exchange(call.request, 200, message))
        if call.stream:
            return self._stream(call, stream_events(message), outcome.delay_s)
        await asyncio.sleep(outcome.delay_s)
        return JSONResponse(message, headers=_headers())

    @staticmethod
    def _stream(call: _Call, events: Events, delay_s: float = 0.0) -> StreamingResponse:
        if call.platform == "bedrock":
            return _event_stream([_bedrock_chunk(data) for _, data in events], delay_s)
        return _sse(events, delay_s)

    @staticmethod
    def _reject(call: _Call) -> ApiError | None:
        headers = call.request.headers
        if call.platform == "anthropic":
            if "x-api-key" not in headers and "authorization" not in headers:
                return ApiError(401, "authentication_error", "x-api-key header is required")
            if "anthropic-version" not in headers:
                return invalid_request("anthropic-version: header is required")
        else:
            # Vertex wants a Google bearer token, Bedrock a SigV4 signature or a Bedrock API
            # key (also a bearer): the emulator checks only that one is there.
            if "authorization" not in headers:
                return ApiError(401, "authentication_error", "missing Authorization header")
            body = call.request.body
            if not isinstance(body, dict) or "anthropic_version" not in body:
                return invalid_request("anthropic_version: Field required")
        problem = validate(call.body)
        return None if problem is None else invalid_request(problem)

    @staticmethod
    def _play(turn: Turn | None, request: RecordedRequest) -> Reply | ApiError:
        if turn is None:
            return emulator_failure("the script has no turn left for this request")
        if isinstance(turn, Reply | ApiError):
            return turn
        try:
            return turn(request)
        except Exception as exc:
            # Surface the test's own bug in the client's error instead of a dropped connection.
            return emulator_failure(f"the scripted responder raised {exc!r}")

    def error(self, call: _Call, error: ApiError) -> Response:
        if error.mid_stream and call.stream:
            return self._broken_stream(call, error)
        if call.platform == "bedrock":
            # Bedrock's errors are `{"message": ...}`, typed by a header.
            body: dict[str, Any] = {"message": error.message}
            exception = BEDROCK_EXCEPTIONS.get(error.type, "InternalServerException")
            headers = {**error.headers, "x-amzn-errortype": exception}
        else:
            body, headers = error.body(), dict(error.headers)
        self.script.record(Exchange(call.request, error.status, body))
        return JSONResponse(body, status_code=error.status, headers=_headers(headers))

    def _broken_stream(self, call: _Call, error: ApiError) -> StreamingResponse:
        self.script.record(Exchange(call.request, 200, error.body()))
        # The prompt was read, nothing was written: no cache accounting for a broken stream.
        usage = {"input_tokens": estimate_input_tokens(call.body), "output_tokens": 1}
        skeleton = _message(Reply([]), call.body, usage)
        if call.platform == "bedrock":
            frames = [_bedrock_chunk(data) for _, data in _opening_events(skeleton)]
            return _event_stream([*frames, _bedrock_exception(error)])
        return _sse(iter([*_opening_events(skeleton), ("error", error.body())]))


VERTEX_MODEL_PATH = "/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{call}"
VERTEX_METHODS = {"streamRawPredict": True, "rawPredict": False}


def create_app(answerer: _Answerer) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        recorded = await _record(request)
        return await answerer.answer(_Call("anthropic", recorded, recorded.body))

    @app.post(VERTEX_MODEL_PATH)
    async def vertex(request: Request, call: str) -> Response:
        # `{model}:{method}`; the SDK sends `;` in a model id as %3B, which arrives decoded.
        model, _, method = call.rpartition(":")
        recorded = await _record(request)
        if method not in VERTEX_METHODS or not model:
            return answerer.error(_Call("vertex", recorded, recorded.body), _not_found(request))
        body = _first_party_body(recorded.body, model, VERTEX_METHODS[method])
        return await answerer.answer(_Call("vertex", recorded, body))

    # A Bedrock model id may be an ARN, whose `/` arrive decoded: hence `:path`.
    @app.post("/model/{model:path}/invoke-with-response-stream")
    async def bedrock_stream(request: Request, model: str) -> Response:
        recorded = await _record(request)
        body = _first_party_body(recorded.body, model, stream=True)
        return await answerer.answer(_Call("bedrock", recorded, body))

    @app.post("/model/{model:path}/invoke")
    async def bedrock(request: Request, model: str) -> Response:
        recorded = await _record(request)
        body = _first_party_body(recorded.body, model, stream=False)
        return await answerer.answer(_Call("bedrock", recorded, body))

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def elsewhere(request: Request) -> Response:
        # Recorded too, so a test sees it when the client calls an endpoint we don't emulate.
        recorded = await _record(request)
        return answerer.error(_Call("anthropic", recorded, recorded.body), _not_found(request))

    return app


def _not_found(request: Request) -> ApiError:
    return ApiError(404, "not_found_error", f"Not found: {request.url.path}")


async def _record(request: Request) -> RecordedRequest:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return RecordedRequest.redacted(
        request.method, request.url.path, request.query_params, request.headers.items(), body
    )


# --- the server ---------------------------------------------------------------------------


class Emulator:
    """The emulator on 127.0.0.1 and a free port, serving `script` from a background thread.

    Use as a context manager; `base_url` is what the SDK's `base_url` takes.
    """

    def __init__(self, script: Script | None = None, *, min_cacheable_tokens: int = 1024) -> None:
        self._min_cacheable_tokens = min_cacheable_tokens
        self._answerer = _Answerer(
            script if script is not None else Script(), PromptCache(min_cacheable_tokens)
        )
        config = uvicorn.Config(
            create_app(self._answerer),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, name="messages-emulator", daemon=True)

    @property
    def script(self) -> Script:
        return self._answerer.script

    def reset(self, script: Script | None = None) -> None:
        """Start over with `script` (default: an empty one) and an empty prompt cache, without
        restarting the server: a server's shutdown takes ~0.15 s, a reset nothing."""
        self._answerer.script = script if script is not None else Script()
        self._answerer.cache = PromptCache(self._min_cacheable_tokens)

    @property
    def base_url(self) -> str:
        host, port = self._socket.getsockname()
        return f"http://{host}:{port}"

    @property
    def vertex_base_url(self) -> str:
        """For `AnthropicVertex(base_url=...)`: Vertex's URLs start with the API version."""
        return f"{self.base_url}/v1"

    def start(self, timeout: float = 10.0) -> None:
        # Bound here, before the thread starts, so the port is known and never raced for.
        self._socket.bind(("127.0.0.1", 0))
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Messages-API emulator did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
