"""Finding files by glob and lines by regex under the tool root, honouring .gitignore files."""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import islice
from pathlib import Path
from typing import Any

from pathspec import GitIgnoreSpec

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.paths import confine, relative_to_root

MAX_FILES = 1000
DEFAULT_MAX_RESULTS = 200
MAX_MATCH_LINE_CHARS = 500
_SNIFF_BYTES = 8192
_BRACES = re.compile(r"\{([^{}]*)\}")


async def list_files(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Files matching a glob, relative to the root, sorted and capped."""
    return await asyncio.to_thread(
        _list, ctx.root, args.get("pattern", "**/*"), args.get("path", "."), ctx.output_limit
    )


async def grep(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Lines matching a regex, as `path:lineno:text`."""
    return await asyncio.to_thread(
        _grep,
        ctx.root,
        args["pattern"],
        args.get("path", "."),
        args.get("glob"),
        args.get("ignore_case", False),
        args.get("max_results", DEFAULT_MAX_RESULTS),
        ctx.output_limit,
    )


@dataclass(frozen=True)
class _IgnoreRules:
    """The .gitignore files in force in one directory, outermost first, each with its own directory."""

    specs: tuple[tuple[Path, GitIgnoreSpec], ...] = ()

    def entering(self, directory: Path) -> _IgnoreRules:
        """These rules plus those of `directory/.gitignore`, if there is one."""
        try:
            lines = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return self
        return _IgnoreRules((*self.specs, (directory, GitIgnoreSpec.from_lines(lines))))

    def ignores(self, path: Path, is_dir: bool) -> bool:
        """Whether git would ignore `path`: the deepest .gitignore with a matching pattern decides."""
        for directory, spec in reversed(self.specs):
            relative = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
            include = spec.check_file(relative).include
            if include is not None:
                return include
        return False


def _walk_files(root: Path, base: Path) -> Iterator[Path]:
    """Files under the directory `base` that .gitignore files from `root` down do not exclude.

    `.git` is skipped and symlinked directories are not followed; each directory is listed in name order.
    """
    rules = _IgnoreRules()
    parts = base.relative_to(root).parts
    for depth in range(len(parts)):
        rules = rules.entering(root.joinpath(*parts[:depth]))
    yield from _walk(base, rules)


def _walk(directory: Path, rules: _IgnoreRules) -> Iterator[Path]:
    rules = rules.entering(directory)
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        is_dir = entry.is_dir(follow_symlinks=False)
        if (is_dir and entry.name == ".git") or rules.ignores(path, is_dir):
            continue
        if is_dir:
            yield from _walk(path, rules)
        else:
            yield path


def _glob_matcher(pattern: str) -> Callable[[str], bool]:
    """A test for `/`-separated relative paths: `*`, `?` and `[...]` stay within one path segment, `**`
    matches any number of segments and `{a,b}` gives alternatives."""
    alternatives = [
        [part for part in option.split("/") if part not in ("", ".")] for option in _expand_braces(pattern)
    ]

    def matches(relative: str) -> bool:
        parts = relative.split("/")
        return any(_match_parts(alternative, parts) for alternative in alternatives)

    return matches


def _expand_braces(pattern: str) -> list[str]:
    found = _BRACES.search(pattern)
    if found is None:
        return [pattern]
    head, tail = pattern[: found.start()], pattern[found.end() :]
    return [
        expanded for option in found.group(1).split(",") for expanded in _expand_braces(head + option + tail)
    ]


def _match_parts(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    first, rest = pattern[0], pattern[1:]
    if first == "**":
        return any(_match_parts(rest, parts[skip:]) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], first) and _match_parts(rest, parts[1:])


def _list(root: Path, pattern: str, user_path: str, char_budget: int) -> ToolOutput:
    base = confine(root, user_path)
    if not base.is_dir():
        raise ToolError(f"not a directory: {user_path}")
    matches = _glob_matcher(pattern)
    found = sorted(
        relative_to_root(root, path)
        for path in _walk_files(root.resolve(), base)
        if matches(path.relative_to(base).as_posix())
    )
    if not found:
        return ToolOutput(f"no files match {pattern!r} in {relative_to_root(root, base)}")
    shown = _fit(found[:MAX_FILES], char_budget)
    if len(shown) < len(found):
        shown.append(f"({len(found) - len(shown):,} more files not shown; narrow the pattern or path)")
    return ToolOutput("\n".join(shown))


def _grep(
    root: Path,
    pattern: str,
    user_path: str,
    glob: str | None,
    ignore_case: bool,
    max_results: int,
    char_budget: int,
) -> ToolOutput:
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"invalid regex {pattern!r}: {exc}") from None
    target = confine(root, user_path)
    if not target.exists():
        raise ToolError(f"path not found: {user_path}")
    real_root = root.resolve()
    files = _files_to_search(real_root, target, glob)
    hits = list(islice(_matching_lines(real_root, files, regex), max_results + 1))
    if not hits:
        return ToolOutput(f"no matches for {pattern!r} in {relative_to_root(root, target)}")
    shown = _fit(hits[:max_results], char_budget)
    if len(shown) < len(hits):
        shown.append(f"(only the first {len(shown)} matches are shown; narrow the pattern, path or glob)")
    return ToolOutput("\n".join(shown))


def _files_to_search(root: Path, target: Path, glob: str | None) -> Iterable[Path]:
    """`target` itself when it is a file, else the files under it matching `glob` (a glob without `/`
    matches file names at any depth)."""
    if not target.is_dir():
        return [target]
    files = _walk_files(root, target)
    if not glob:
        return files
    matches = _glob_matcher(glob if "/" in glob else f"**/{glob}")
    return (path for path in files if matches(path.relative_to(target).as_posix()))


def _matching_lines(root: Path, files: Iterable[Path], regex: re.Pattern[str]) -> Iterator[str]:
    """`path:lineno:text` for each matching line of the text files among `files` inside `root`."""
    for path in files:
        if not path.resolve().is_relative_to(root):
            continue
        shown = relative_to_root(root, path)
        try:
            with path.open("rb") as raw:
                if b"\0" in raw.read(_SNIFF_BYTES):
                    continue
                raw.seek(0)
                text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
                for number, line in enumerate(text, start=1):
                    if regex.search(line):
                        yield f"{shown}:{number}:{_clip(line.rstrip())}"
        except OSError:
            continue


def _clip(line: str) -> str:
    if len(line) <= MAX_MATCH_LINE_CHARS:
        return line
    return line[:MAX_MATCH_LINE_CHARS] + " …"


def _fit(lines: list[str], char_budget: int) -> list[str]:
    """The leading `lines` that fit in about `char_budget` characters (always at least one)."""
    used = 0
    for count, line in enumerate(lines):
        used += len(line) + 1
        if count and used > char_budget:
            return lines[:count]
    return list(lines)


LIST_FILES = Tool(
    name="list_files",
    description=(
        "List files matching a glob pattern, sorted, skipping files ignored by .gitignore. "
        "`*` stays within a directory, `**` spans directories: `**/*.py` finds Python files at any depth."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Glob relative to path (default `**/*`: all files).",
            },
            "path": {
                "type": "string",
                "description": "Directory to search, relative to the project root (default `.`).",
            },
        },
        "required": [],
        "additionalProperties": False,
    },
    run=list_files,
)

GREP = Tool(
    name="grep",
    description=(
        "Search file contents with a Python regular expression; prints `path:line:text` for each matching "
        "line. Skips binary files and files ignored by .gitignore."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Python regular expression to search for."},
            "path": {"type": "string", "description": "File or directory to search (default `.`)."},
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob: `*.py` (any depth), `src/**/*.ts`.",
            },
            "ignore_case": {"type": "boolean", "description": "Match case-insensitively (default false)."},
            "max_results": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2000,
                "description": f"Most matching lines to return (default {DEFAULT_MAX_RESULTS}).",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    },
    run=grep,
)
