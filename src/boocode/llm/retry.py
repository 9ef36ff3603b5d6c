"""Which provider failures are worth retrying, and how long to wait before the next attempt.

Providers make one attempt per call and turn failures into `ProviderError`s with `http_error()` or
`transport_error()`; the caller loops, asking a `RetryPolicy` whether and when to try again, so every
attempt can be recorded.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from boocode.errors import ProviderError

_RETRYABLE_4XX = frozenset({408, 409, 429})
_MAX_DETAIL = 300


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter.

    `attempt` counts the retries already made: 0 after the first failure. `jitter` draws the random
    fraction in [0, 1); tests inject a constant for exact delays, or pass `base_delay=0`.
    """

    max_retries: int
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt + 1`; a server's Retry-After wins, capped."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 60))
        return self.jitter() * ceiling

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether a call that failed with `exc` after `attempt` retries may be sent again."""
        return attempt < self.max_retries and isinstance(exc, ProviderError) and exc.retryable


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After seconds a provider error carries, if the server sent one."""
    return exc.retry_after if isinstance(exc, ProviderError) else None


def is_retryable_status(status: int) -> bool:
    """429, 408, 409 and every 5xx (including Anthropic's 529 "overloaded") may succeed on a retry."""
    return status in _RETRYABLE_4XX or status >= 500


def http_error(
    where: str, status: int, body: object, headers: Mapping[str, str], *, secret: str | None
) -> ProviderError:
    """The `ProviderError` for an HTTP error answer: one line naming `where`, the status and the server's
    message (with `secret` masked), and the Retry-After it asked for."""
    detail = _server_message(body)
    message = f"{where}: HTTP {status}" + (f": {detail}" if detail else "")
    return ProviderError(
        _mask(message, secret),
        retryable=is_retryable_status(status),
        status=status,
        retry_after=parse_retry_after(headers),
    )


def transport_error(where: str, what: str) -> ProviderError:
    """The retryable `ProviderError` for a time-out, a refused or dropped connection, or a cut stream."""
    return ProviderError(f"{where}: {what}", retryable=True)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None when absent."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _server_message(body: object) -> str:
    """The error message in an OpenAI (`{"error": {"message"}}`) or Anthropic error body, or the text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message", "")
        body = inner if isinstance(inner, str) else ""
    text = " ".join(str(body or "").split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _mask(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret and len(secret) >= 8 else text
