"""The child process `LocalServer` runs: llama.cpp's server, embedded in xllamacpp, for one GGUF model.

`python -m boocode.llm.local._worker CONFIG_JSON` loads the model, prints one JSON line
`{"address": "http://127.0.0.1:PORT"}` to stdout once it is ready, and serves until its stdin closes
(the parent stopped it, or died). Errors go to stderr, which the parent keeps as the server log.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# llama.cpp log levels: 1 errors, 2 warnings, 3 info. Warnings and errors explain failed starts.
_VERBOSITY = 2


def start_server(config: dict[str, Any]) -> Any:
    """Load and serve the model the config from `LocalServer` describes; RuntimeError on failure."""
    import xllamacpp  # imported only once stdout is redirected: nothing it prints may reach the address pipe

    params = xllamacpp.CommonParams()
    params.model.path = config["model_path"]
    params.model_alias = [config["model_name"]]
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # an ephemeral port, reported back through `listening_address`
    params.offline = True
    params.use_jinja = True
    params.n_parallel = config["slots"]
    params.n_ctx = config["slots"] * config["ctx_per_slot"]
    params.cpuparams.n_threads = config["threads"]
    params.cpuparams_batch.n_threads = config["threads"]
    # Prompt progress is reported once per batch: 512 tokens (one micro-batch, the unit of work anyway)
    # rather than 2048 gives a report every few seconds on a CPU, so a long prompt is not taken for a stall.
    params.n_batch = 512
    params.verbosity = _VERBOSITY
    return xllamacpp.Server(params)  # returns once the model is loaded (or raises RuntimeError)


def main(argv: list[str]) -> int:
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what xllamacpp or llama.cpp print goes to the log; the pipe carries only the address
    try:
        server = start_server(json.loads(argv[1]))
    except RuntimeError as exc:
        print(f"boocode: the llama.cpp server did not start: {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps({"address": server.listening_address}), file=report, flush=True)
    sys.stdin.buffer.read()  # blocks until the parent closes our stdin or exits
    del server  # stops the server: its destructor ends the serving loop
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
