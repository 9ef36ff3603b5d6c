"""The token rule, as a dependency of every route.

With a token configured, a request must carry it as `Authorization: Bearer TOKEN` or in the `boocode_token`
cookie (which the web UI gets by opening `/?token=TOKEN` once; it is HttpOnly and SameSite=Strict, so other
sites cannot use it). Without a token the server listens on loopback only, and a request must be addressed
to a loopback name: a page elsewhere that rebinds its DNS name to 127.0.0.1 is refused.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from boocode.server.settings import TOKEN_ENV, ServerSettings, is_loopback

COOKIE = "boocode_token"
bearer = HTTPBearer(
    auto_error=False,
    description=f"The server's token ({TOKEN_ENV}); required on every request when the server has one.",
)


def token_matches(server: ServerSettings, given: str | None) -> bool:
    """Whether `given` is the server's token (compared in constant time)."""
    if not server.token or not given:
        return False
    return hmac.compare_digest(given.encode(), server.token.encode())


def check_access(request: Request, given: str | None) -> None:
    """Raise 401 (wrong or missing token) or 403 (no token, and not addressed to a loopback name)."""
    server: ServerSettings = request.app.state.server
    if server.token:
        if not token_matches(server, given or request.cookies.get(COOKIE)):
            raise HTTPException(
                401,
                f"missing or wrong token: send `Authorization: Bearer <{TOKEN_ENV}>`, "
                "or open /?token=<token> once in a browser",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return
    host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
    if not is_loopback(host):
        raise HTTPException(
            403, f"this server answers only requests addressed to a loopback name, not {host!r}"
        )


def require_access(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """The dependency enforcing the token rule."""
    check_access(request, credentials.credentials if credentials else None)
