"""What the server's routes share, kept on `app.state.boocode` for the app's lifetime."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from boocode.server.launcher import RunLauncher
from boocode.server.live import EventHub
from boocode.server.settings import ServerSettings
from boocode.store.runs import RunRecords
from boocode.store.store import Store
from boocode.store.trace import TraceReader


@dataclass
class ServerState:
    server: ServerSettings
    store: Store
    records: RunRecords
    trace: TraceReader
    launcher: RunLauncher
    hub: EventHub


def state(request: Request) -> ServerState:
    """The dependency giving a route the server's state."""
    value: ServerState = request.app.state.boocode
    return value
