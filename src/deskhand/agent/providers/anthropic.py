"""Claude through the official SDK: the Anthropic API, Amazon Bedrock or Google Vertex AI.

All three SDK clients share the beta Messages surface, so one provider class streams them all;
only building the client and finding credentials differ. The SDK resolves credentials,
base URLs and its other settings from the environment itself (ANTHROPIC_API_KEY,
ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL, profiles, AWS_*, CLOUD_ML_REGION, ...): we pass on
only what the caller gave explicitly, then check that it found some credentials, so a missing
key is a one-line `ProviderError` at start-up instead of a failure at the first step.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any, cast, get_args

import anthropic
from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex, omit
from anthropic.resources.beta.messages import AsyncMessages as AsyncBetaMessages
from anthropic.types.beta import BetaMessage, BetaToolUnionParam

from .base import ProviderError, RetryCallback, TextCallback, TurnRequest
from .base import Retry as RetryReport
from .errors import NO_CREDENTIALS, IncompleteStream, Platform, classify, scrub
from .retry import RetryPolicy

Client = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex
Sleep = Callable[[float], Awaitable[None]]

PROVIDERS: tuple[Platform, ...] = get_args(Platform)
# Client attributes that may hold a secret, to keep out of every message we raise.
_SECRET_ATTRIBUTES = (
    "api_key",
    "auth_token",
    "aws_secret_key",
    "aws_session_token",
    "access_token",
)
_SECRET_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


class AnthropicProvider:
    """A `Provider` over one SDK client, which it owns (and closes)."""

    def __init__(
        self,
        client: Client,
        *,
        name: Platform = "anthropic",
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        # Our retry loop is the only one (see retry.py): the SDK's would stack on it.
        self._client: Client = (
            client if client.max_retries == 0 else client.with_options(max_retries=0)
        )
        # Bedrock's and Vertex's beta resources borrow the first-party methods (`stream =
        # FirstPartyAPI.stream`), which the type checker can't bind to their own class.
        self._messages = cast(AsyncBetaMessages, self._client.beta.messages)
        self.name: str = name
        self._platform: Platform = name
        self._retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    @property
    def secrets(self) -> list[str]:
        """The credentials the client holds, so that nothing records them."""
        names = ("api_key", "auth_token", "aws_secret_key", "aws_session_token", "access_token")
        values = (getattr(self._client, name, None) for name in names)
        return [value for value in values if isinstance(value, str) and value]

    async def turn(
        self,
        request: TurnRequest,
        *,
        on_text: TextCallback | None = None,
        on_retry: RetryCallback | None = None,
    ) -> BetaMessage:
        """Stream one answer, retrying what is worth retrying.

        A retry after a stream broke mid-answer streams the answer again from its start, so
        `on_text` may get the broken attempt's first words, then `on_retry`, then the new
        answer. CancelledError (a BaseException) is never caught: it closes the stream on
        its way out."""
        attempts = self._retry.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._stream(request, on_text)
            except Exception as exc:
                delay, message = self._judge(exc, attempt)
            if on_retry is not None:
                on_retry(RetryReport(attempt=attempt, delay_s=delay, error=message))
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def close(self) -> None:
        await self._client.close()

    async def _stream(self, request: TurnRequest, on_text: TextCallback | None) -> BetaMessage:
        finished = False
        async with self._messages.stream(
            model=request.model,
            max_tokens=request.max_tokens,
            messages=request.messages,
            # Empty lists are left out rather than sent: `[]` is not "none" to every backend.
            system=request.system or omit,
            tools=cast(list[BetaToolUnionParam], request.tools) or omit,
            betas=request.betas or omit,
            extra_body=request.extra_body or None,
        ) as stream:
            async for event in stream:
                if event.type == "text" and on_text is not None:
                    on_text(event.text)
                elif event.type == "message_stop":
                    finished = True
            if not finished:
                raise IncompleteStream
            return await stream.get_final_message()

    def _judge(self, exc: Exception, attempt: int) -> tuple[float, str]:
        """The delay before the next attempt and why, or the ProviderError to give up with."""
        failure = classify(exc, self._platform)
        if failure is None:
            raise exc
        message = scrub(failure.message, self._secrets())
        # `from None`: the SDK's exception quotes the raw response, which may echo a
        # credential, and a printed traceback would show it.
        if not failure.retryable:
            raise ProviderError(failure.kind, message) from None
        if attempt >= self._retry.max_attempts:
            gave_up = f"{message} (gave up after {attempt} attempts)"
            raise ProviderError("api", gave_up) from None
        return self._retry.delay(attempt, failure.retry_after_s, self._rng), message

    def _secrets(self) -> list[str | None]:
        held = [getattr(self._client, name, None) for name in _SECRET_ATTRIBUTES]
        return [
            *(value for value in held if isinstance(value, str)),
            *(os.environ.get(name) for name in _SECRET_VARIABLES),
        ]


def make_provider(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_attempts: int = RetryPolicy.max_attempts,
    retry: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    **client_options: Any,
) -> AnthropicProvider:
    """The provider called `name`: "anthropic", "bedrock" or "vertex".

    `api_key` is the API key (Anthropic), a Bedrock API key, or an OAuth access token
    (Vertex); `client_options` go to the SDK client as they are (e.g. `timeout`, `aws_region`,
    `aws_profile`, `region`, `project_id`). `retry` overrides `max_attempts`.
    Raises ValueError for an unknown name, ProviderError("auth") when no credentials are found.
    """
    builders: dict[str, Callable[[dict[str, Any]], Client]] = {
        "anthropic": _anthropic_client,
        "bedrock": _bedrock_client,
        "vertex": _vertex_client,
    }
    if name not in builders:
        raise ValueError(f"unknown provider {name!r}: choose one of {', '.join(PROVIDERS)}")
    options: dict[str, Any] = {"max_retries": 0, **client_options}
    if api_key:
        options["access_token" if name == "vertex" else "api_key"] = api_key
    if base_url:
        options["base_url"] = base_url
    policy = retry if retry is not None else RetryPolicy(max_attempts=max_attempts)
    client = builders[name](options)
    return AnthropicProvider(client, name=cast(Platform, name), retry=policy, sleep=sleep)


def _anthropic_client(options: dict[str, Any]) -> AsyncAnthropic:
    try:
        client = AsyncAnthropic(**options)
    except (ValueError, anthropic.AnthropicError) as exc:
        # e.g. a profile named by ANTHROPIC_PROFILE that does not exist.
        raise ProviderError("auth", f"Anthropic API credentials: {exc}") from None
    # The SDK's whole chain (arguments, environment, profiles, workload identity) found none.
    if client.api_key is None and client.auth_token is None and client.credentials is None:
        raise ProviderError("auth", NO_CREDENTIALS["anthropic"])
    return client


def _bedrock_client(options: dict[str, Any]) -> AsyncAnthropicBedrock:
    try:
        client = AsyncAnthropicBedrock(**options)
    except ValueError as exc:
        # No region anywhere, or both an API key and AWS keys.
        raise ProviderError("auth", f"Amazon Bedrock: {exc}") from None
    if client.api_key is None and not _aws_credentials_found(client):
        raise ProviderError("auth", NO_CREDENTIALS["bedrock"])
    return client


def _aws_credentials_found(client: AsyncAnthropicBedrock) -> bool:
    """What the SDK will sign with, looked up as it will look it up: a boto3 session."""
    if client.aws_access_key and client.aws_secret_key:
        return True
    # boto3 ships no type information; the SDK imports it the same lazy way.
    boto3: Any = importlib.import_module("boto3")
    try:
        session = boto3.Session(profile_name=client.aws_profile, region_name=client.aws_region)
        return session.get_credentials() is not None
    except Exception as exc:  # botocore's ProfileNotFound and friends: name the cause
        raise ProviderError("auth", f"{NO_CREDENTIALS['bedrock']} ({exc})") from None


def _vertex_client(options: dict[str, Any]) -> AsyncAnthropicVertex:
    try:
        # Google credentials and the project are resolved at the first call (a blocking
        # lookup the SDK runs in a thread); failures then become ProviderError("auth").
        return AsyncAnthropicVertex(**options)
    except ValueError as exc:
        raise ProviderError("auth", f"{NO_CREDENTIALS['vertex']} ({exc})") from None
