"""Model providers: one streamed model turn at a time, with retries, over Claude's platforms."""

from .anthropic import PROVIDERS, AnthropicProvider, make_provider
from .base import ErrorKind, Provider, ProviderError, Retry, TurnRequest
from .retry import RetryPolicy

__all__ = [
    "PROVIDERS",
    "AnthropicProvider",
    "ErrorKind",
    "Provider",
    "ProviderError",
    "Retry",
    "RetryPolicy",
    "TurnRequest",
    "make_provider",
]
