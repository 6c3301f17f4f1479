"""The model providers against the real Messages-API emulator, through the real SDK clients."""

from __future__ import annotations

import asyncio
import email.utils
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic.types.beta import BetaMessage

from deskhand.agent.providers import (
    AnthropicProvider,
    ProviderError,
    Retry,
    RetryPolicy,
    TurnRequest,
    make_provider,
)
from deskhand.agent.providers.errors import NO_CREDENTIALS
from deskhand.agent.providers.retry import retry_after
from emulator.script import (
    ApiError,
    Reply,
    Text,
    ToolUse,
    authentication_failed,
    invalid_request,
    overloaded,
    rate_limited,
)
from emulator.server import Emulator

API_KEY = "sk-ant-provider-test-key-must-not-leak"
MODEL = "claude-emulated-1"
SYSTEM: list[Any] = [{"type": "text", "text": "You drive a desktop."}]
HELLO: list[Any] = [{"role": "user", "content": "Open the file manager."}]
COMPUTER_TOOLSET: dict[str, Any] = {"type": "computer_toolset_20260801"}
BETAS = ["computer-use-2025-11-24", "context-management-2025-06-27"]
CLICK = ToolUse("left_click", {"coordinate": [640, 400]}, id="toolu_click", toolset_name="computer")
# Environment the SDK reads credentials and settings from: cleared so the host's never leak in.
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_FEDERATION_RULE_ID",
    "ANTHROPIC_ORGANIZATION_ID",
    "ANTHROPIC_IDENTITY_TOKEN",
    "ANTHROPIC_IDENTITY_TOKEN_FILE",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "CLOUD_ML_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # No profile on disk either (an ANTHROPIC_CONFIG_DIR without one is an error to the SDK,
    # a home without one is not), and no instance metadata lookups for AWS credentials.
    monkeypatch.delenv("ANTHROPIC_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class Sleeps:
    """An instant `sleep` that remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def provider(emulator: Emulator, sleeps: Sleeps) -> AsyncIterator[AnthropicProvider]:
    made = make_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url, sleep=sleeps)
    yield made
    await made.close()


def request(**changes: Any) -> TurnRequest:
    fields: dict[str, Any] = {
        "model": MODEL,
        "system": SYSTEM,
        "messages": HELLO,
        "tools": [COMPUTER_TOOLSET],
        "max_tokens": 256,
        **changes,
    }
    return TurnRequest(**fields)


async def failure_of(provider: AnthropicProvider, **turn: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await provider.turn(request(), **turn)
    return caught.value


def free_port() -> int:
    """A port nothing listens on (bound, read and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- streaming ----------------------------------------------------------------------------


async def test_text_streams_to_on_text_and_the_message_comes_back(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    emulator.script.add(Reply([Text("The file manager is open now.")]))
    chunks: list[str] = []
    message = await provider.turn(request(tools=[]), on_text=chunks.append)

    assert isinstance(message, BetaMessage)
    assert len(chunks) > 1
    assert "".join(chunks) == "The file manager is open now."
    assert message.stop_reason == "end_turn"
    (sent,) = emulator.script.requests
    assert (sent.path, sent.stream) == ("/v1/messages", True)
    assert sent.body["system"] == SYSTEM
    # Neither betas nor an empty tool list are sent when there are none.
    assert "anthropic-beta" not in sent.headers
    assert "tools" not in sent.body


async def test_tool_use_of_a_toolset_comes_back_with_betas_and_extra_body(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    emulator.script.add(Reply([Text("Clicking."), CLICK]))
    message = await provider.turn(
        request(betas=BETAS, extra_body={"context_management": {"edits": []}})
    )

    tool_use = message.content[1]
    assert tool_use.type == "tool_use"
    assert (tool_use.id, tool_use.name, tool_use.toolset_name) == (
        "toolu_click",
        "left_click",
        "computer",
    )
    assert tool_use.input == {"coordinate": [640, 400]}
    assert message.stop_reason == "tool_use"
    (sent,) = emulator.script.requests
    assert sent.betas == BETAS
    assert sent.body["tools"] == [COMPUTER_TOOLSET]
    assert sent.body["context_management"] == {"edits": []}


# --- retries ------------------------------------------------------------------------------


async def test_rate_limit_and_overloads_are_retried_and_reported(
    emulator: Emulator, provider: AnthropicProvider, sleeps: Sleeps
) -> None:
    emulator.script.add(
        rate_limited(), overloaded(), overloaded(mid_stream=True), Reply([Text("Done.")])
    )
    retries: list[Retry] = []
    chunks: list[str] = []
    message = await provider.turn(request(), on_text=chunks.append, on_retry=retries.append)

    assert "".join(chunks) == "Done."
    assert message.content[0].type == "text"
    assert [r.attempt for r in retries] == [1, 2, 3]
    assert "429 rate_limit_error" in retries[0].error
    assert "529 overloaded_error" in retries[1].error
    assert "overloaded_error mid-stream" in retries[2].error
    # The server's retry-after-ms (1 ms) is honoured; the mid-stream error has no hint, so
    # the third wait is the backoff's: 1 s * 2**2 with equal jitter.
    assert [r.delay_s for r in retries[:2]] == [0.001, 0.001]
    assert 2.0 <= retries[2].delay_s <= 4.0
    assert sleeps.delays == [r.delay_s for r in retries]
    assert len(emulator.script.requests) == 4


async def test_exhausted_retries_are_an_api_error_after_backoff(
    emulator: Emulator, sleeps: Sleeps
) -> None:
    provider = make_provider(
        "anthropic", api_key=API_KEY, base_url=emulator.base_url, max_attempts=3, sleep=sleeps
    )
    emulator.script.add(*[ApiError(503, "api_error", "Internal server error")] * 3)
    retries: list[Retry] = []
    error = await failure_of(provider, on_retry=retries.append)
    await provider.close()

    assert error.kind == "api"
    assert "503 api_error: Internal server error" in error.message
    assert "gave up after 3 attempts" in error.message
    assert len(retries) == 2 and len(emulator.script.requests) == 3
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0


async def test_connection_failures_are_retried(sleeps: Sleeps) -> None:
    provider = make_provider(
        "anthropic",
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=2,
        sleep=sleeps,
    )
    error = await failure_of(provider)
    await provider.close()

    assert error.kind == "api"
    assert "connection failed" in error.message
    assert len(sleeps.delays) == 1


async def test_a_failure_the_server_marks_final_is_not_retried(
    emulator: Emulator, provider: AnthropicProvider, sleeps: Sleeps
) -> None:
    # An empty script answers a 500 with `x-should-retry: false`.
    error = await failure_of(provider)

    assert error.kind == "api"
    assert "no turn left" in error.message
    assert sleeps.delays == []


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "2"}) == 2.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": soon}) or 0) <= 30
    # As in the SDK, 0 and nonsense are no hint: backoff applies.
    assert retry_after({"retry-after-ms": "0", "retry-after": "soon"}) is None
    assert retry_after({"retry-after": "-3"}) is None


def test_backoff_grows_to_its_cap_and_follows_bounded_hints() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = [policy.delay(retry, None, rng) for retry in range(1, 9)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(15.0 <= delay <= 30.0 for delay in delays[5:])
    assert policy.delay(1, 12.0, rng) == 12.0
    assert policy.delay(1, 3600.0, rng) == policy.max_retry_after_s


# --- failures that retrying cannot fix ----------------------------------------------------


async def test_rejected_credentials_are_an_auth_error_that_never_shows_the_key(
    emulator: Emulator, provider: AnthropicProvider, sleeps: Sleeps
) -> None:
    # A server that echoes the key it was sent: the message must still not contain it.
    emulator.script.add(ApiError(401, "authentication_error", f"invalid x-api-key {API_KEY}"))
    error = await failure_of(provider)

    assert error.kind == "auth"
    assert API_KEY not in error.message and API_KEY not in str(error)
    assert "401 authentication_error" in error.message
    assert "ANTHROPIC_API_KEY" in error.message
    assert "\n" not in error.message
    assert sleeps.delays == []


async def test_authentication_failed_is_not_retried(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    emulator.script.add(authentication_failed())
    error = await failure_of(provider)

    assert error.kind == "auth"
    assert len(emulator.script.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        invalid_request("messages.0.content: Field required"),
        ApiError(404, "not_found_error", "model: claude-emulated-1"),
        ApiError(413, "request_too_large", "Request exceeds the maximum allowed size"),
    ],
)
async def test_refused_requests_are_bad_requests_with_the_api_message(
    emulator: Emulator, provider: AnthropicProvider, sleeps: Sleeps, answer: ApiError
) -> None:
    emulator.script.add(answer)
    error = await failure_of(provider)

    assert error.kind == "bad_request"
    assert answer.message in error.message
    assert f"{answer.status} {answer.type}" in error.message
    assert sleeps.delays == []


async def test_an_invalid_conversation_is_a_bad_request(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    assistant_first: list[Any] = [{"role": "assistant", "content": "Hi"}]
    with pytest.raises(ProviderError) as caught:
        await provider.turn(request(messages=assistant_first))

    assert caught.value.kind == "bad_request"
    assert 'first message must use the "user" role' in caught.value.message


async def test_bugs_in_callbacks_are_not_disguised(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    emulator.script.add(Reply([Text("Hello")]))

    def broken(text: str) -> None:
        raise KeyError(text)

    with pytest.raises(KeyError):
        await provider.turn(request(), on_text=broken)


# --- missing credentials and configuration -------------------------------------------------


def test_a_missing_api_key_is_one_clear_line() -> None:
    with pytest.raises(ProviderError) as caught:
        make_provider("anthropic")

    assert caught.value.kind == "auth"
    assert caught.value.message == (
        "No API key: set ANTHROPIC_API_KEY (https://console.anthropic.com/settings/keys) "
        "or choose --provider bedrock|vertex"
    )
    # Nothing chained: the CLI can print it as it is.
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_the_sdk_environment_is_honoured(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "an-oauth-token-from-the-environment")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    provider = make_provider("anthropic")
    emulator.script.add(Reply([Text("Hi")]))
    await provider.turn(request())
    await provider.close()

    (sent,) = emulator.script.requests
    assert "authorization" in sent.headers


def test_bedrock_without_region_or_credentials_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ProviderError) as no_region:
        make_provider("bedrock")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(ProviderError) as no_credentials:
        make_provider("bedrock")

    assert no_region.value.kind == "auth"
    assert "AWS_REGION" in no_region.value.message
    assert no_credentials.value.kind == "auth"
    assert no_credentials.value.message == NO_CREDENTIALS["bedrock"]


async def test_vertex_without_region_or_project_says_what_to_set(emulator: Emulator) -> None:
    with pytest.raises(ProviderError) as no_region:
        make_provider("vertex")
    assert no_region.value.kind == "auth"
    assert "CLOUD_ML_REGION" in no_region.value.message

    provider = make_provider(
        "vertex", api_key="ya29.vertex-token", base_url=emulator.vertex_base_url, region="us"
    )
    # The project is resolved at the first call, before anything is sent.
    error = await failure_of(provider)
    await provider.close()
    assert error.kind == "auth"
    assert "ANTHROPIC_VERTEX_PROJECT_ID" in error.message
    assert emulator.script.requests == []


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'openai': choose one of anthropic, bedrock, vertex"):
        make_provider("openai")


# --- cancellation -------------------------------------------------------------------------


async def test_cancelling_a_slow_stream_stops_at_once(
    emulator: Emulator, provider: AnthropicProvider
) -> None:
    # 10 blocks of 5 events at 0.1 s each: a 5 s answer.
    slow = Reply([Text(f"Part {n} of a slow answer.") for n in range(10)], delay_s=0.1)
    emulator.script.add(slow, Reply([Text("Still working.")]))
    started = asyncio.Event()
    task = asyncio.create_task(provider.turn(request(), on_text=lambda _: started.set()))
    await asyncio.wait_for(started.wait(), timeout=5)

    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 1.0
    # The stream was closed, not left hanging: the next turn goes through.
    message = await asyncio.wait_for(provider.turn(request()), timeout=5)
    assert message.content[0].type == "text"


async def test_cancelling_during_a_backoff_stops_at_once(emulator: Emulator) -> None:
    provider = make_provider(
        "anthropic",
        api_key=API_KEY,
        base_url=emulator.base_url,
        retry=RetryPolicy(base_delay_s=20.0),
    )
    emulator.script.add(ApiError(503, "api_error", "Internal server error"))
    retried = asyncio.Event()
    task = asyncio.create_task(provider.turn(request(), on_retry=lambda _: retried.set()))
    await asyncio.wait_for(retried.wait(), timeout=5)

    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 1.0
    await provider.close()


# --- Vertex AI and Amazon Bedrock ---------------------------------------------------------


@pytest.fixture
async def vertex(emulator: Emulator, sleeps: Sleeps) -> AsyncIterator[AnthropicProvider]:
    made = make_provider(
        "vertex",
        api_key="ya29.vertex-access-token",
        base_url=emulator.vertex_base_url,
        region="us-east5",
        project_id="deskhand-test",
        sleep=sleeps,
    )
    yield made
    await made.close()


@pytest.fixture
def bedrock_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    yield


@pytest.fixture
async def bedrock(
    emulator: Emulator, sleeps: Sleeps, bedrock_keys: None
) -> AsyncIterator[AnthropicProvider]:
    # Credentials and region from the environment, found by boto3 as in real use.
    made = make_provider("bedrock", base_url=emulator.base_url, sleep=sleeps)
    yield made
    await made.close()


async def test_vertex_streams_a_tool_use_turn(
    emulator: Emulator, vertex: AnthropicProvider
) -> None:
    emulator.script.add(Reply([Text("Clicking."), CLICK]))
    chunks: list[str] = []
    message = await vertex.turn(
        request(model="claude-sonnet-4-5@20250929", betas=BETAS), on_text=chunks.append
    )

    assert "".join(chunks) == "Clicking."
    assert message.content[1].type == "tool_use"
    assert message.content[1].toolset_name == "computer"
    (sent,) = emulator.script.requests
    assert sent.path == (
        "/v1/projects/deskhand-test/locations/us-east5/publishers/anthropic/models/"
        "claude-sonnet-4-5@20250929:streamRawPredict"
    )
    # The model moves into the URL; betas stay a header on Vertex.
    assert "model" not in sent.body and "anthropic_version" in sent.body
    assert sent.betas == BETAS and "anthropic_beta" not in sent.body


async def test_vertex_retries_an_overload(
    emulator: Emulator, vertex: AnthropicProvider, sleeps: Sleeps
) -> None:
    emulator.script.add(overloaded(mid_stream=True), Reply([Text("Done.")]))
    message = await vertex.turn(request(model="claude-sonnet-4-5@20250929"))

    assert message.content[0].type == "text"
    assert len(sleeps.delays) == 1


async def test_bedrock_streams_a_tool_use_turn(
    emulator: Emulator, bedrock: AnthropicProvider
) -> None:
    emulator.script.add(Reply([Text("Clicking."), CLICK]))
    chunks: list[str] = []
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    message = await bedrock.turn(request(model=model, betas=BETAS), on_text=chunks.append)

    assert "".join(chunks) == "Clicking."
    tool_use = message.content[1]
    assert tool_use.type == "tool_use" and tool_use.toolset_name == "computer"
    assert tool_use.input == {"coordinate": [640, 400]}
    (sent,) = emulator.script.requests
    assert sent.path == f"/model/{model}/invoke-with-response-stream"
    assert sent.stream
    # Bedrock takes the betas in the body (the SDK copies the header there).
    assert sent.body["anthropic_beta"] == BETAS
    assert "model" not in sent.body and "stream" not in sent.body


async def test_bedrock_retries_a_mid_stream_exception_and_a_throttle(
    emulator: Emulator, bedrock: AnthropicProvider
) -> None:
    emulator.script.add(overloaded(mid_stream=True), rate_limited(), Reply([Text("Done.")]))
    retries: list[Retry] = []
    message = await bedrock.turn(request(model="anthropic.claude-x"), on_retry=retries.append)

    assert message.content[0].type == "text"
    assert "serviceUnavailableException mid-stream: Overloaded" in retries[0].error
    assert "429 ThrottlingException" in retries[1].error


async def test_bedrock_access_denied_is_an_auth_error(
    emulator: Emulator, bedrock: AnthropicProvider
) -> None:
    emulator.script.add(ApiError(403, "permission_error", "You don't have access to the model"))
    error = await failure_of(bedrock)

    assert error.kind == "auth"
    assert "403 AccessDeniedException: You don't have access to the model" in error.message
    assert "AWS" in error.message
    assert "wJalrXUtnFEMI" not in error.message
