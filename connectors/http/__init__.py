"""Shared HTTP toolkit for connector clients: client-side rate limiting and a retrying executor."""

from connectors.http.ratelimit import SlidingWindowRateLimiter
from connectors.http.retry import (
    IDEMPOTENT_METHODS,
    RequestExecutor,
    RetryPolicy,
    describe_url,
    retry_after_seconds,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "RequestExecutor",
    "RetryPolicy",
    "SlidingWindowRateLimiter",
    "describe_url",
    "retry_after_seconds",
]
