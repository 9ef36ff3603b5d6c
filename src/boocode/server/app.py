"""The server's ASGI app: the JSON API, the live event streams, the OpenAPI spec and the web UI."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from boocode.errors import BoocodeError, InputError
from boocode.server.auth import COOKIE, check_access, require_access, token_matches
from boocode.server.launcher import RunLauncher
from boocode.server.live import EventHub
from boocode.server.models import InfoOut
from boocode.server.routes import runs, tasks, traces, workflows
from boocode.server.settings import ServerSettings
from boocode.server.state import ServerState, state
from boocode.store.runs import RunRecords
from boocode.store.store import open_store
from boocode.store.trace import TraceReader
from boocode.workflow.lease import RunNotRunningError
from boocode.workflow.manager import RunBusyError

STATIC = Path(__file__).with_name("static")
_ASSET = re.compile(r"^[A-Za-z0-9_-]+\.(js|css|svg)$")


def _version() -> str:
    try:
        return version("boocode")
    except PackageNotFoundError:  # running from a source tree
        return "0"


def _error_status(exc: BoocodeError) -> int:
    if isinstance(exc, RunBusyError | RunNotRunningError):
        return 409
    if isinstance(exc, InputError):
        return 400
    return 500


async def _boocode_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BoocodeError)
    return JSONResponse({"detail": str(exc)}, status_code=_error_status(exc))


def _refused_page(exc: HTTPException) -> str:
    """The page a browser gets without access: why, and (with a token rule) a field to give the token."""
    form = (
        '<form method="get" action="/"><input name="token" type="password" placeholder="token" autofocus> '
        "<button>Open</button></form>"
        if exc.status_code == 401
        else ""
    )
    return f"<!doctype html><title>boocode</title><p>{html.escape(str(exc.detail))}</p>{form}"


def create_app(server: ServerSettings) -> FastAPI:
    """The app for `server` (checked against the token rule: raises `ConfigError`)."""
    server.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(server.settings.db_url)
        hub = EventHub()
        records = RunRecords(store)
        launcher = RunLauncher(server.settings, records)
        try:
            await hub.start(store)
            app.state.boocode = ServerState(server, store, records, TraceReader(store), launcher, hub)
            yield
        finally:
            await launcher.aclose()
            await hub.aclose()
            await store.aclose()

    app = FastAPI(
        title="boocode",
        version=_version(),
        summary="boocode's runs, agents, transcripts and inference calls, live, with each call's cache shape",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.server = server
    app.add_exception_handler(BoocodeError, _boocode_error)

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # No id, name or filter contains a NUL character, and PostgreSQL refuses one in any text parameter:
        # answer as a validation error instead of failing inside the database.
        queries = (("query", value) for value in request.query_params.values())
        for where, value in (("path", request.url.path), *queries):
            if "\x00" in value:
                detail = [{"loc": [where], "msg": "NUL character in the request", "type": "value_error"}]
                return JSONResponse({"detail": detail}, status_code=422)
        return await call_next(request)

    guarded = [Depends(require_access)]
    for module in (workflows, runs, traces, tasks):
        app.include_router(module.router, dependencies=guarded)

    @app.get(
        "/api/info", response_model=InfoOut, dependencies=guarded, tags=["server"], summary="Server info"
    )
    async def info(st: Annotated[ServerState, Depends(state)]) -> InfoOut:
        """The server's version, project, database backend and whether requests need a token."""
        return InfoOut(
            version=_version(),
            project=str(server.project),
            database=st.store.engine.url.get_backend_name(),
            token_required=bool(server.token),
        )

    @app.get("/openapi.json", dependencies=guarded, include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    async def index(request: Request, token: Annotated[str | None, Query()] = None) -> Response:
        if token is not None and token_matches(server, token):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        try:
            check_access(request, None)
        except HTTPException as exc:
            return HTMLResponse(_refused_page(exc), status_code=exc.status_code)
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", dependencies=guarded, include_in_schema=False)
    async def asset(name: str) -> Response:
        path = STATIC / name
        if not _ASSET.match(name) or not path.is_file():
            raise HTTPException(404, f"no asset {name!r}")
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    return app
