"""boocode's server: the JSON API, live run events (SSE) and the web trace viewer (`boocode serve`).

The app is in `boocode.server.app` and its settings in `boocode.server.settings`; nothing is imported
here, so commands that only need the settings do not load FastAPI."""
