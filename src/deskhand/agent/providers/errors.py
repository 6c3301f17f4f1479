"""What a failed model call means: retry it, or give up with which `ProviderError` kind.

Everything here reads what the SDK raised; nothing is sent anywhere. Messages are one line and
carry the API's own explanation, never request headers (where the credentials are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
import httpx2

from .base import ErrorKind
from .retry import retry_after

Platform = Literal["anthropic", "bedrock", "vertex"]

LABELS: Mapping[Platform, str] = {
    "anthropic": "Anthropic API",
    "bedrock": "Amazon Bedrock",
    "vertex": "Vertex AI",
}
# What to check when the platform refuses the credentials.
AUTH_HINTS: Mapping[Platform, str] = {
    "anthropic": (
        "check ANTHROPIC_API_KEY (https://console.anthropic.com/settings/keys) "
        "or ANTHROPIC_AUTH_TOKEN"
    ),
    "bedrock": (
        "check your AWS credentials and AWS_REGION, and that the model is enabled for this "
        "account in the Bedrock console"
    ),
    "vertex": (
        "check `gcloud auth application-default login`, ANTHROPIC_VERTEX_PROJECT_ID and "
        "CLOUD_ML_REGION, and that the model is enabled in Vertex AI Model Garden"
    ),
}
NO_CREDENTIALS: Mapping[Platform, str] = {
    "anthropic": (
        "No API key: set ANTHROPIC_API_KEY (https://console.anthropic.com/settings/keys) "
        "or choose --provider bedrock|vertex"
    ),
    "bedrock": (
        "No AWS credentials for Amazon Bedrock: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or AWS_BEARER_TOKEN_BEDROCK), and AWS_REGION"
    ),
    "vertex": (
        "No Google credentials for Vertex AI: run `gcloud auth application-default login` "
        "and set CLOUD_ML_REGION and ANTHROPIC_VERTEX_PROJECT_ID"
    ),
}

# Error types (the API's, and Bedrock's stream exceptions) that no retry can fix.
_AUTH_TYPES = frozenset({"authentication_error", "permission_error", "accessDeniedException"})
_REFUSED_TYPES = frozenset(
    {"invalid_request_error", "not_found_error", "request_too_large", "validationException"}
)
_RETRIED_STATUSES = frozenset({408, 409, 429})
_AUTH_STATUSES = frozenset({401, 403})
# The SDK's own RuntimeError/ValueError when Vertex or Bedrock cannot find credentials or a
# project before sending anything (SDK 2.11 wording).
_SDK_CREDENTIAL_PROBLEM = re.compile(r"Could not resolve|No project_id")
MAX_MESSAGE_CHARS = 400


@dataclass(frozen=True)
class Failure:
    """One failed attempt, judged."""

    kind: ErrorKind
    message: str
    retryable: bool
    retry_after_s: float | None = None


class IncompleteStream(Exception):
    """The answer's stream ended cleanly but before `message_stop`: a cut the server hid."""


def classify(exc: Exception, platform: Platform) -> Failure | None:
    """How to handle `exc`, or None if it is no API failure (a bug: let it propagate)."""
    label = LABELS[platform]
    if isinstance(exc, anthropic.APIStatusError):
        return _status_failure(exc, platform)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        # The SDK wraps what breaks before the answer starts; what breaks while it streams
        # comes straight from the HTTP library.
        return Failure("api", f"{label}: connection failed: {_describe(exc)}", retryable=True)
    if isinstance(exc, IncompleteStream):
        return Failure("api", f"{label}: the answer's stream ended early", retryable=True)
    if type(exc).__name__ == "MissingDependencyError":
        # The SDK's "pip install anthropic[bedrock]"-style advice says it all.
        return Failure("auth", f"{label}: {_describe(exc)}", retryable=False)
    if _is_credential_problem(exc):
        return Failure("auth", f"{NO_CREDENTIALS[platform]} ({_describe(exc)})", retryable=False)
    if isinstance(exc, anthropic.APIError):
        return Failure("api", f"{label}: {_describe(exc)}", retryable=False)
    return None


def _status_failure(exc: anthropic.APIStatusError, platform: Platform) -> Failure:
    status, label = exc.status_code, LABELS[platform]
    # Bedrock names its error in a header ("ThrottlingException:<namespace>"), not the body.
    amzn_type = exc.response.headers.get("x-amzn-errortype", "").partition(":")[0]
    error_type = exc.type or amzn_type
    if status == 200:
        # An `error` event after the stream began (e.g. overloaded mid-answer): the SDK
        # raises it with the stream's 200, and never retries it itself.
        message = f"{label}: {error_type or 'error'} mid-stream: {_api_message(exc)}"
        return _by_type(error_type, platform, message)
    detail = f"{' '.join(filter(None, (str(status), error_type)))}: {_api_message(exc)}"
    if status in _AUTH_STATUSES:
        message = f"{label} rejected the credentials ({detail}): {AUTH_HINTS[platform]}"
        return Failure("auth", message, retryable=False)
    transient = status in _RETRIED_STATUSES or status >= 500
    retryable = transient
    # The API's own verdict wins (the test emulator uses it to mark its failures final).
    verdict = exc.response.headers.get("x-should-retry")
    if verdict in ("true", "false"):
        retryable = verdict == "true"
    hint = retry_after(exc.response.headers) if retryable else None
    kind: ErrorKind = "api" if transient or retryable else "bad_request"
    return Failure(kind, f"{label}: {detail}", retryable, hint)


def _by_type(error_type: str, platform: Platform, message: str) -> Failure:
    if error_type in _AUTH_TYPES:
        return Failure("auth", f"{message}: {AUTH_HINTS[platform]}", retryable=False)
    if error_type in _REFUSED_TYPES:
        return Failure("bad_request", message, retryable=False)
    return Failure("api", message, retryable=True)


def _api_message(exc: anthropic.APIStatusError) -> str:
    """The explanation in the body: `error.message` (API, Vertex), `message` (Bedrock)."""
    body = exc.body
    message = exc.api_message or _body_field(body, "message") or _body_field(body, "Message")
    return _one_line(message or exc.message)


def _body_field(body: object, name: str) -> str | None:
    value: Any = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _is_credential_problem(exc: Exception) -> bool:
    """Credentials missing on the client side: google-auth and botocore errors (optional
    dependencies, so matched by module), and the SDK's own complaints."""
    module = type(exc).__module__
    if module.startswith(("google.auth", "botocore")):
        return True
    return isinstance(exc, RuntimeError | ValueError) and bool(
        _SDK_CREDENTIAL_PROBLEM.search(str(exc))
    )


def _describe(exc: BaseException) -> str:
    return _one_line(str(exc) or type(exc).__name__)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"


def scrub(message: str, secrets: Iterable[str | None]) -> str:
    """`message` with every secret replaced: a server may echo what it was sent."""
    for secret in secrets:
        # Short values are no secrets worth the false hits (a region, "test").
        if secret and len(secret) >= 8:
            message = message.replace(secret, "[redacted]")
    return message
