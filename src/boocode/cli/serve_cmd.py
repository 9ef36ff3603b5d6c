"""`boocode serve`: the HTTP API and the live web trace viewer."""

from __future__ import annotations

import socket

import click

from boocode.cli.common import fail, settings_or_exit
from boocode.errors import BoocodeError
from boocode.project import project_root
from boocode.server.settings import DEFAULT_PORT, server_settings


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (port 0: any free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option("--project", type=click.Path(), help="Project directory of runs started here (default: here).")
def serve(host: str, port: int, project: str | None) -> None:
    """Serve the JSON API (OpenAPI at /openapi.json) and the web trace viewer at http://HOST:PORT/.

    Runs started through the API run in this process. Listening on an address other than loopback needs a
    token (BOOCODE_SERVER_TOKEN), which every request must then carry; the browser gets it by opening
    http://HOST:PORT/?token=TOKEN once. Prints the server's URL on stdout.
    """
    import uvicorn

    from boocode.server.app import create_app

    settings = settings_or_exit()
    try:
        server = server_settings(settings, project_root(project), host=host, port=port)
        app = create_app(server)
        sock = _bind(host, port)
    except BoocodeError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"http://{shown}:{bound}/", nl=True)
    click.echo(f"boocode: serving on http://{shown}:{bound}/ (Ctrl-C stops)", err=True)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])
