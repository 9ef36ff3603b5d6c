"""What `boocode serve` needs: where to listen, the token rule, the project and boocode's own settings."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from boocode.config import Settings
from boocode.errors import ConfigError

TOKEN_ENV = "BOOCODE_SERVER_TOKEN"
MIN_TOKEN_LENGTH = 16
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); False for any other name or address,
    including the wildcards 0.0.0.0 and ::."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """The server's settings. With `token` set, every request must carry it (see `boocode.server.auth`);
    without one the server only binds to loopback and only answers requests addressed to a loopback name."""

    settings: Settings
    project: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    poll_seconds: float = 0.5

    def check(self) -> None:
        """Refuse what the token rule forbids: a non-loopback address without a token, a short token."""
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise ConfigError(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_LENGTH} characters")
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"refusing to serve on {self.host}: it is not a loopback address, so every request must "
                f"carry a token; set {TOKEN_ENV} (e.g. to the output of `openssl rand -hex 24`)"
            )


def server_settings(
    settings: Settings,
    project: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    env: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Server settings with the token from `BOOCODE_SERVER_TOKEN` (in `env`, default the environment),
    checked against the token rule."""
    env = os.environ if env is None else env
    result = ServerSettings(settings, project, host=host, port=port, token=env.get(TOKEN_ENV) or None)
    result.check()
    return result
