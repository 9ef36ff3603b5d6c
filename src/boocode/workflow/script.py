"""Load and validate a workflow script without executing any of it.

A script is `export const meta = {...}` (a pure literal) followed by a body that runs as the inside of an
async function. Parsing uses acorn (vendored in `js/`) inside one V8 context per process: parsing runs
no user code.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

from py_mini_racer import DEFAULT_V8_FLAGS, MiniRacer, init_mini_racer

from boocode.errors import InputError

MAX_SCRIPT_CHARS = 524_288

# The sandbox runs exactly `WRAP_PREFIX + body + WRAP_SUFFIX`; the body starts on the prefix's line, so
# V8 reports the user's own line numbers. The loader checks the body cannot close this wrapper early.
# Sloppy mode, as Claude Code's `node:vm` runs the body (the module parse already refuses strict-only syntax).
WRAP_PREFIX = "__bcBegin((async function () {"
WRAP_SUFFIX = "\n})());\n//# sourceURL=workflow.js"
SCRIPT_URL = "workflow.js"


def init_v8() -> None:
    """Start V8 once per process with code generation from strings (`eval`, `new Function`) disabled.

    If something else started V8 first the flag is missing; the sandbox prelude also blocks both.
    """
    init_mini_racer(
        flags=(*DEFAULT_V8_FLAGS, "--disallow-code-generation-from-strings"), ignore_duplicate_init=True
    )


class ScriptError(InputError):
    """A script is invalid (size, syntax, meta, forbidden construct); nothing was run."""

    def __init__(self, message: str, filename: str, line: int) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.message = message
        self.filename = filename
        self.line = line


@dataclass(frozen=True)
class PhaseMeta:
    """One pre-declared progress group of `meta.phases`."""

    title: str
    detail: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class WorkflowMeta:
    """The normalised `meta` literal."""

    name: str
    description: str
    when_to_use: str | None = None
    phases: tuple[PhaseMeta, ...] = ()


@dataclass(frozen=True)
class WorkflowScript:
    """A validated script: `body` is the source with the meta's `export` blanked out (same lines/columns)."""

    meta: WorkflowMeta
    source: str
    body: str
    filename: str
    sha256: str


class _Parser:
    """One V8 context holding acorn, shared by all threads of the process (calls are serialised)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mr: MiniRacer | None = None

    def parse(self, source: str) -> dict[str, Any]:
        call = f"__bcParse({json.dumps(source)}, {json.dumps(WRAP_PREFIX)}, {json.dumps(WRAP_SUFFIX)})"
        with self._lock:
            if self._mr is None:
                self._mr = _new_parser_context()
            result = self._mr.eval(call)
        if not isinstance(result, str):
            raise RuntimeError(f"parser returned {type(result).__name__}")
        parsed: dict[str, Any] = json.loads(result)
        return parsed

    def close(self) -> None:
        """Free the V8 context; left to `__del__` at interpreter exit, mini-racer can hang the process."""
        with self._lock:
            if self._mr is not None:
                self._mr.close()
                self._mr = None


def _new_parser_context() -> MiniRacer:
    """A MiniRacer on its own loop thread (never the caller's loop, which may close before the process)."""
    init_v8()
    box: list[MiniRacer] = []
    thread = threading.Thread(target=lambda: box.append(MiniRacer()), name="boocode-script-parser")
    thread.start()
    thread.join()
    mr = box[0]
    js = resources.files("boocode.workflow") / "js"
    mr.eval((js / "acorn.js").read_text(encoding="utf-8"))
    mr.eval((js / "parser.js").read_text(encoding="utf-8"))
    return mr


_PARSER = _Parser()
atexit.register(_PARSER.close)


def load_script(source: str, filename: str) -> WorkflowScript:
    """Parse and validate `source`; raise `ScriptError` with the offending line if it is refused."""
    if len(source) > MAX_SCRIPT_CHARS:
        raise ScriptError(
            f"the script has {len(source):,} characters; the limit is {MAX_SCRIPT_CHARS:,}", filename, 1
        )
    result = _PARSER.parse(source)
    if "error" in result:
        raise ScriptError(result["error"], filename, int(result["line"]))
    start = int(result["exportStart"])
    body = source[:start] + " " * len("export") + source[start + len("export") :]
    return WorkflowScript(
        meta=_normalise_meta(result["meta"], filename, _line_of(source, start)),
        source=source,
        body=body,
        filename=filename,
        sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
    )


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _normalise_meta(raw: dict[str, Any], filename: str, line: int) -> WorkflowMeta:
    for key in ("name", "description"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ScriptError(f"meta.{key} must be a non-empty string", filename, line)
    phases = raw.get("phases")
    entries = phases if isinstance(phases, list) else []
    return WorkflowMeta(
        name=raw["name"],
        description=raw["description"],
        when_to_use=_optional_str(raw.get("whenToUse")),
        phases=tuple(
            PhaseMeta(p["title"], _optional_str(p.get("detail")), _optional_str(p.get("model")))
            for p in entries
            if isinstance(p, dict) and isinstance(p.get("title"), str)
        ),
    )
