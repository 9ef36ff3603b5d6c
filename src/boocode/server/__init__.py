"""boocode's server: the JSON API, live run events (SSE) and the web trace viewer (`boocode serve`)."""

from boocode.server.app import create_app
from boocode.server.settings import ServerSettings, server_settings

__all__ = ["ServerSettings", "create_app", "server_settings"]
