"""The token rule: a non-loopback address needs a token; with one, every request must carry it; without one,
only requests addressed to a loopback name are answered."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from boocode.config import Settings
from boocode.errors import ConfigError
from boocode.server.app import create_app
from boocode.server.settings import ServerSettings, is_loopback, server_settings

TOKEN = "s3cret-token-0123456789abcdef"


@pytest.fixture
def guarded(settings: Settings, project: Path) -> Iterator[TestClient]:
    """A client of an app that has a token (sent by no request unless the test adds it)."""
    app = create_app(ServerSettings(settings, project, host="127.0.0.1", token=TOKEN))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_needs_a_token_and_a_long_one(settings: Settings, project: Path) -> None:
    with pytest.raises(ConfigError, match="BOOCODE_SERVER_TOKEN"):
        server_settings(settings, project, host="0.0.0.0", env={})
    with pytest.raises(ConfigError, match="too short"):
        server_settings(settings, project, host="0.0.0.0", env={"BOOCODE_SERVER_TOKEN": "short"})
    with pytest.raises(ConfigError, match="not a loopback address"):
        create_app(ServerSettings(settings, project, host="10.1.2.3"))
    assert (
        server_settings(settings, project, host="0.0.0.0", env={"BOOCODE_SERVER_TOKEN": TOKEN}).token == TOKEN
    )
    assert server_settings(settings, project, env={}).token is None


def test_serve_refuses_to_start_on_a_public_address_without_a_token(
    env: dict[str, str], project: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "boocode", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr and "BOOCODE_SERVER_TOKEN" in done.stderr
    assert done.stdout == ""


def _requests(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every API operation, path parameters filled in."""
    spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in spec["paths"].items()
        for method in operations
    ]


def test_every_request_needs_the_token(guarded: TestClient) -> None:
    operations = _requests(guarded)
    assert len(operations) >= 17
    for method, path in [*operations, ("GET", "/openapi.json"), ("GET", "/static/app.js")]:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
            response = guarded.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert guarded.get("/api/info", headers={"Authorization": f"Bearer {TOKEN}"}).json()["token_required"]
    assert guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_browser_gets_the_token_once_as_a_strict_cookie(guarded: TestClient) -> None:
    page = guarded.get("/")
    assert page.status_code == 401 and '<input name="token" type="password"' in page.text
    assert guarded.get("/?token=wrong").status_code == 401
    login = guarded.get(f"/?token={TOKEN}", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "boocode_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    guarded.cookies.set("boocode_token", TOKEN)
    assert guarded.get("/").status_code == 200
    assert guarded.get("/static/app.js").status_code == 200
    assert guarded.get("/api/runs").status_code == 200


def test_without_a_token_only_loopback_names_are_answered(client: TestClient) -> None:
    assert client.get("/api/info", headers={"Host": "localhost:8765"}).status_code == 200
    assert client.get("/api/info", headers={"Host": "[::1]:8765"}).status_code == 200
    for host in ("attacker.example", "attacker.example:8765", "192.168.0.2"):
        response = client.get("/api/info", headers={"Host": host})
        assert response.status_code == 403 and "loopback" in response.json()["detail"]
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 403
