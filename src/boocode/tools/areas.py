"""Splitting a source tree into review areas by directory and size, without vendored or generated files."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.paths import confine, relative_to_root
from boocode.tools.search import _walk_files

DEFAULT_AREA_LINES = 1500
MAX_SOURCE_FILES = 5000
_HEAD_BYTES = 2048


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SOURCE_SUFFIXES = _words(
    ".py .pyi .js .mjs .cjs .jsx .ts .tsx .go .rs .java .kt .kts .scala .c .h "
    ".cc .cpp .cxx .hpp .hh .cs .rb .php .swift .m .mm .sh .bash .zsh .sql .lua "
    ".pl .pm .r .ex .exs .erl .hs .ml .clj .dart .vue .svelte .groovy .tf"
)
VENDORED_DIRS = _words(
    "vendor vendored third_party third-party thirdparty node_modules bower_components .venv venv "
    "site-packages dist build target out __pycache__ .tox .nox .mypy_cache .pytest_cache .ruff_cache "
    ".idea .vscode .gradle coverage htmlcov"
)
GENERATED_NAMES = re.compile(
    r"(\.min\.(js|css)$|_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|\.g\.dart$|\.generated\.|_generated\.|"
    r"^(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|uv\.lock|Cargo\.lock|go\.sum)$)"
)
GENERATED_MARKER = re.compile(
    rb"@generated|code generated .* do not edit|do not edit|auto-?generated|automatically generated",
    re.IGNORECASE,
)


@dataclass
class _Scan:
    """Source files with their line counts, and how many files were left out, by reason."""

    files: list[tuple[str, int]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


async def repo_areas(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Areas of the source tree under `path`, as JSON."""
    return await asyncio.to_thread(
        _repo_areas, ctx.root, args.get("path", "."), args.get("max_lines", DEFAULT_AREA_LINES)
    )


def skip_reason(relative: str, head: bytes) -> str | None:
    """Why a file (path relative to the scanned directory, its first bytes) is not reviewed, or None."""
    parts = relative.split("/")
    if any(part in VENDORED_DIRS for part in parts[:-1]):
        return "vendored or build output"
    if any(part.startswith(".") and part != ".github" for part in parts[:-1]):
        return "hidden directory"
    name = parts[-1]
    if GENERATED_NAMES.search(name):
        return "generated"
    if b"\0" in head:
        return "binary"
    if Path(name).suffix.lower() not in SOURCE_SUFFIXES and not head.startswith(b"#!"):
        return "not source code"
    first_lines = b"\n".join(head.splitlines()[:5])
    if GENERATED_MARKER.search(first_lines):
        return "generated"
    return None


def _scan(root: Path, base: Path) -> _Scan:
    scan = _Scan()
    for path in _walk_files(root, base):
        relative = path.relative_to(base).as_posix()
        try:
            with path.open("rb") as f:
                head = f.read(_HEAD_BYTES)
                reason = skip_reason(relative, head)
                if reason is None:
                    f.seek(0)
                    lines = sum(1 for _ in f)
        except OSError:
            reason = "unreadable"
        if reason is not None:
            scan.skip(reason)
        elif len(scan.files) >= MAX_SOURCE_FILES:
            scan.skip(f"over the {MAX_SOURCE_FILES} file limit")
        else:
            scan.files.append((relative_to_root(root, path), lines))
    return scan


def split_areas(files: Iterable[tuple[str, int]], max_lines: int) -> list[dict[str, Any]]:
    """Group (path, lines) pairs into areas: files of one directory stay together up to `max_lines`;
    neighbouring small directories with the same top-level directory share an area; a large directory is cut
    into parts in path order."""
    by_dir: dict[str, list[tuple[str, int]]] = {}
    for path, lines in sorted(files):
        by_dir.setdefault(path.rpartition("/")[0] or ".", []).append((path, lines))
    chunks: list[tuple[str, list[tuple[str, int]]]] = []
    for directory, members in by_dir.items():
        part: list[tuple[str, int]] = []
        parts: list[list[tuple[str, int]]] = []
        for member in members:
            if part and sum(n for _, n in part) + member[1] > max_lines:
                parts.append(part)
                part = []
            part.append(member)
        parts.append(part)
        for index, piece in enumerate(parts, start=1):
            chunks.append((f"{directory} (part {index})" if len(parts) > 1 else directory, piece))
    areas: list[dict[str, Any]] = []
    for name, members in chunks:
        size = sum(n for _, n in members)
        last = areas[-1] if areas else None
        if (
            last is not None
            and "(part" not in name
            and "(part" not in last["name"]
            and _top(last["name"]) == _top(name)
            and last["lines"] + size <= max_lines
        ):
            last["name"] = _common_dir(last["name"], name)
            last["files"] += [p for p, _ in members]
            last["lines"] += size
        else:
            areas.append({"name": name, "files": [p for p, _ in members], "lines": size})
    return areas


def _top(directory: str) -> str:
    return directory.split("/")[0]


def _common_dir(a: str, b: str) -> str:
    common = []
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        common.append(x)
    return "/".join(common) or "."


def _repo_areas(root: Path, user_path: str, max_lines: int) -> ToolOutput:
    base = confine(root, user_path)
    if not base.is_dir():
        raise ToolError(f"not a directory: {user_path}")
    scan = _scan(root.resolve(), base)
    if not scan.files:
        return ToolOutput(json.dumps({"areas": [], "skipped": scan.skipped}))
    result = {"areas": split_areas(scan.files, max_lines), "skipped": scan.skipped}
    return ToolOutput(json.dumps(result, ensure_ascii=False))


REPO_AREAS = Tool(
    name="repo_areas",
    description=(
        "Split the source files under a directory into review areas by directory and size, as JSON. "
        "Skips files ignored by .gitignore, vendored and build directories, generated and binary files."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Directory to split (default `.`: the project)."},
            "max_lines": {
                "type": "integer",
                "minimum": 50,
                "maximum": 100_000,
                "description": f"Most lines of code per area (default {DEFAULT_AREA_LINES}).",
            },
        },
        "required": [],
        "additionalProperties": False,
    },
    run=repo_areas,
)
