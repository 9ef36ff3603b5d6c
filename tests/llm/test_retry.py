from __future__ import annotations

import email.utils
import time

import pytest

from boocode.errors import ProviderError, UnsupportedInputError
from boocode.llm.retry import (
    RetryPolicy,
    http_error,
    is_retryable_status,
    parse_retry_after,
    retry_after_of,
    transport_error,
)


def test_delay_is_full_jitter_over_an_exponential_ceiling() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=30.0, jitter=lambda: 0.5)
    assert [policy.delay(a) for a in range(8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    top = RetryPolicy(max_retries=5, jitter=lambda: 1.0)
    assert top.delay(0) == 0.5 and top.delay(1000) == 30.0


def test_delay_honours_retry_after_capped() -> None:
    policy = RetryPolicy(max_retries=3, max_delay=10.0, jitter=lambda: 0.0)
    assert policy.delay(0, retry_after=7.0) == 7.0
    assert policy.delay(0, retry_after=120.0) == 10.0
    assert policy.delay(2, retry_after=-1.0) == 0.0


def test_zero_base_delay_never_waits() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.0)
    assert all(policy.delay(a) == 0.0 for a in range(5))


def test_should_retry() -> None:
    policy = RetryPolicy(max_retries=2)
    retryable = ProviderError("busy", retryable=True, status=429)
    assert policy.should_retry(retryable, 0) and policy.should_retry(retryable, 1)
    assert not policy.should_retry(retryable, 2)
    assert not policy.should_retry(ProviderError("bad request", status=400), 0)
    assert not policy.should_retry(UnsupportedInputError("no images"), 0)
    assert not policy.should_retry(ValueError("bug"), 0)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (422, False),
        (429, True),
    ]
    + [(s, True) for s in (500, 502, 503, 504, 529)],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_parse_retry_after() -> None:
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5", "retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (parse_retry_after({"retry-after": in_a_minute}) or 0) <= 60


def test_http_error_is_one_clear_line_without_the_secret() -> None:
    body = {"error": {"message": "Incorrect API key provided:\n sk-secret-123456789.", "type": "invalid"}}
    error = http_error("openai at http://h/v1 (model m)", 401, body, {}, secret="sk-secret-123456789")
    assert str(error) == "openai at http://h/v1 (model m): HTTP 401: Incorrect API key provided: ***."
    assert (error.status, error.retryable, retry_after_of(error)) == (401, False, None)


def test_http_error_reads_anthropic_bodies_text_and_retry_after() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = http_error("anthropic", 529, body, {"retry-after": "4"}, secret=None)
    assert str(error) == "anthropic: HTTP 529: Overloaded"
    assert error.retryable and retry_after_of(error) == 4.0
    assert str(http_error("p", 502, "<html>\n bad gateway </html>", {}, secret=None)) == (
        "p: HTTP 502: <html> bad gateway </html>"
    )
    assert len(str(http_error("p", 500, "x" * 5000, {}, secret=None))) < 400


def test_transport_error_is_retryable() -> None:
    error = transport_error("p", "timed out")
    assert str(error) == "p: timed out" and error.retryable and error.status is None
    assert retry_after_of(error) is None
