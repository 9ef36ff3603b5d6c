"""The shared HTTP transport: proxies from the environment, looked up once per client."""

from __future__ import annotations

import pytest

from boocode.llm.sse_http import proxy_for


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert proxy_for("https://api.example/v1") == "http://proxy.example:3128"
    assert proxy_for("https://internal.example/v1") is None
    assert proxy_for("http://api.example/v1") is None  # no HTTP_PROXY
    monkeypatch.delenv("HTTPS_PROXY")
    assert proxy_for("https://api.example/v1") is None
