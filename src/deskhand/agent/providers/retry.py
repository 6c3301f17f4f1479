"""When to try a model call again: exponential backoff with jitter, or the server's own hint.

The SDK's retries are switched off (`max_retries=0`) so that this is the only retry policy: the
SDK does not retry an `error` event that arrives mid-stream, nor a connection that breaks
while the answer streams, and two stacked policies would multiply their attempts.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # calls in all, the first one included
    base_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 30.0
    # A server's retry-after is followed up to this long: a run that waits longer than a
    # minute between steps looks hung, and the next attempt will ask again anyway.
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def delay(self, retry: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first)."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * self.factor ** (retry - 1))
        # "Equal jitter": clients that failed together spread out, yet none retries at once.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's wait hint in seconds, if it sent a usable one.

    `retry-after-ms` (the API's, more precise) wins over `retry-after` (seconds, or an HTTP
    date). As in SDK 2.11, a hint of 0 or less counts as none, so backoff applies instead.
    """
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        seconds = _seconds(headers.get(name), scale)
        if seconds is not None:
            return seconds
    return None


def _seconds(value: str | None, scale: float) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value) * scale
    except ValueError:
        seconds = _until_http_date(value) if scale == 1.0 else math.nan
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _until_http_date(value: str) -> float:
    parsed = email.utils.parsedate_tz(value)
    return math.nan if parsed is None else email.utils.mktime_tz(parsed) - time.time()
