"""Shared HTTP toolkit for connector clients: the client base (HTTP client, rate limit, retries,
auth renewal, error mapping), bearer tokens, OAuth token answers, the status-to-error ladder, the
client-side rate limiter and the retrying executor."""

from mapsync.connectors.http.bearer import BearerToken
from mapsync.connectors.http.client import HttpClientBase, HttpOptions
from mapsync.connectors.http.errors import error_for_status
from mapsync.connectors.http.oauth import TokenAnswer, read_token_answer
from mapsync.connectors.http.ratelimit import SlidingWindowRateLimiter
from mapsync.connectors.http.retry import (
    IDEMPOTENT_METHODS,
    RequestExecutor,
    RetryPolicy,
    describe_url,
    retry_after_seconds,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "BearerToken",
    "HttpClientBase",
    "HttpOptions",
    "RequestExecutor",
    "RetryPolicy",
    "SlidingWindowRateLimiter",
    "TokenAnswer",
    "describe_url",
    "error_for_status",
    "read_token_answer",
    "retry_after_seconds",
]
