"""What a change touches: changed files with their changed line ranges (`git_changes`), and one file's diff
with line numbers (`git_diff`).

git runs with a fixed argument list (no shell), read-only, in the tool root; revisions are checked before
they reach git, so a model cannot smuggle options in, and no helper program the repository configures runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.paths import confine, relative_to_root
from boocode.tools.shell import child_environment

GIT_TIMEOUT = 60.0
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@{}^~:+-]*$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")
_SNIFF_BYTES = 8192
# Plain text diffs of the tool root only; no program named by the repository's config runs (external diff,
# textconv, fsmonitor).
_DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "--relative")


async def git_changes(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """The changed files of a change and their changed line ranges, as JSON."""
    return await asyncio.to_thread(_git_changes, ctx.root, args.get("base"))


async def git_diff(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """The diff of one file, numbered as the new file."""
    return await asyncio.to_thread(_git_diff, ctx.root, args.get("base"), args["path"], ctx.output_limit)


@dataclass(frozen=True)
class _Change:
    """What to compare: git diff arguments, and whether the working tree (untracked files too) is in it."""

    diff_args: tuple[str, ...]
    working_tree: bool


def _git(root: Path, *args: str) -> str:
    """Run git in `root` and return its stdout; `ToolError` with git's own message when it fails."""
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotePath=false", "-c", "core.fsmonitor=false", *args],
            cwd=root,
            env=child_environment(os.environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ToolError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"git {args[0]} took longer than {GIT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ToolError(f"git {args[0]} failed: {message[-1] if message else f'exit code {done.returncode}'}")
    return done.stdout.decode(errors="replace")


def _revision(text: str) -> str:
    if not _REVISION.match(text) or ".." in text:
        raise ToolError(f"invalid revision {text!r}: give a branch, tag or commit such as main or HEAD~2")
    return text


def _change(root: Path, base: str | None) -> _Change:
    """`base` as git diff arguments: none or HEAD is the uncommitted work, `A..B`/`A...B` a committed range,
    any other revision the change since its merge base with HEAD, uncommitted work included."""
    _git(root, "rev-parse", "--is-inside-work-tree")
    base = (base or "HEAD").strip()
    if "..." in base or ".." in base:
        separator = "..." if "..." in base else ".."
        left, right = base.split(separator, 1)
        sides = [_revision(side) if side else "HEAD" for side in (left, right)]
        for side in sides:
            _git(root, "rev-parse", "--verify", "--quiet", f"{side}^{{commit}}")
        return _Change((f"{sides[0]}{separator}{sides[1]}",), working_tree=False)
    revision = _revision(base)
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except ToolError:
        raise ToolError(
            f"unknown revision {revision!r} (is it a branch, tag or commit of this repository?)"
        ) from None
    if revision == "HEAD":
        return _Change(("HEAD",), working_tree=True)
    merge_base = _git(root, "merge-base", revision, "HEAD").strip()
    return _Change((merge_base,), working_tree=True)


def _untracked(root: Path) -> list[str]:
    listed = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    return sorted(name for name in listed.split("\0") if name)


def _is_text(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return b"\0" not in f.read(_SNIFF_BYTES)
    except OSError:
        return False


def _line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _summary(root: Path, change: _Change) -> dict[str, Any]:
    """{"files": [{"path", "hunks": [{"start", "end"}]}], "skipped": [...]} with new-file line numbers."""
    text = _git(root, "diff", *_DIFF_OPTIONS, "-U0", *change.diff_args)
    files: dict[str, list[dict[str, int]]] = {}
    skipped: list[str] = []
    current: str | None = None
    previous = ""
    for line in text.splitlines():
        if line.startswith("diff --git "):
            current = None
        elif line.startswith("+++ "):
            target = line[4:].strip().strip('"')
            current = target[2:] if target.startswith("b/") else None
            if current is None:
                old = previous[4:].strip().strip('"')
                skipped.append(f"{old[2:] if old.startswith('a/') else old} (deleted)")
            else:
                files.setdefault(current, [])
        elif line.startswith("Binary files ") and line.endswith(" differ"):
            skipped.append(f"{line.split(' and ')[-1].removesuffix(' differ').removeprefix('b/')} (binary)")
        elif current is not None and (hunk := _HUNK.match(line)):
            start, count = int(hunk["start"]), int(hunk["count"] or 1)
            files[current].append({"start": max(start, 1), "end": max(start + count - 1, start, 1)})
        previous = line
    if change.working_tree:
        for name in _untracked(root):
            path = root / name
            if name in files or not path.is_file():
                continue
            if not _is_text(path):
                skipped.append(f"{name} (binary)")
                continue
            lines = _line_count(path)
            files[name] = [{"start": 1, "end": max(lines, 1)}]
    result: dict[str, Any] = {"files": [{"path": p, "hunks": files[p]} for p in sorted(files)]}
    if skipped:
        result["skipped"] = skipped
    return result


def _file_diff(root: Path, change: _Change, user_path: str, char_budget: int) -> str:
    """The diff of one file with new-file line numbers: `  12 + added`, `  13   context`, `     - removed`."""
    path = confine(root, user_path)
    shown = relative_to_root(root, path)
    text = _git(root, "diff", *_DIFF_OPTIONS, "-U3", *change.diff_args, "--", shown)
    out: list[str] = []
    if text.strip():
        number = 0
        for line in text.splitlines():
            if hunk := _HUNK.match(line):
                number = int(hunk["start"])
                out.append(line)
            elif not number or line.startswith("\\"):
                continue
            elif line.startswith("+"):
                out.append(f"{number:>6} + {line[1:]}")
                number += 1
            elif line.startswith("-"):
                out.append(f"{'':>6} - {line[1:]}")
            else:
                out.append(f"{number:>6}   {line[1:]}")
                number += 1
    elif change.working_tree and shown in _untracked(root) and path.is_file() and _is_text(path):
        content = path.read_text(encoding="utf-8", errors="replace").splitlines()
        out = [f"(new file {shown}, not yet added to git)"]
        out += [f"{n:>6} + {line}" for n, line in enumerate(content, start=1)]
    else:
        return f"no changes to {shown}"
    body = "\n".join(out)
    if len(body) > char_budget:
        body = (
            body[:char_budget] + f"\n[diff truncated at {char_budget:,} characters; read the file for more]"
        )
    return body


def _git_changes(root: Path, base: str | None) -> ToolOutput:
    root = root.resolve()
    return ToolOutput(json.dumps(_summary(root, _change(root, base)), ensure_ascii=False))


def _git_diff(root: Path, base: str | None, user_path: str, char_budget: int) -> ToolOutput:
    root = root.resolve()
    return ToolOutput(_file_diff(root, _change(root, base), user_path, char_budget))


_BASE = {
    "type": "string",
    "description": (
        "Compare with this branch, tag or commit (changes since the merge base, uncommitted work included), "
        "or a range A..B. Default HEAD: the uncommitted changes."
    ),
}

GIT_CHANGES = Tool(
    name="git_changes",
    description=(
        "List the files a git change touches, as JSON, with their changed line ranges (line numbers of the "
        "new version). New untracked files count as changed."
    ),
    parameters={
        "type": "object",
        "properties": {"base": _BASE},
        "required": [],
        "additionalProperties": False,
    },
    run=git_changes,
)

GIT_DIFF = Tool(
    name="git_diff",
    description=(
        "Show the diff of one changed file, each line numbered as in the new version: `12 + added`, "
        "`13   unchanged`, `   - removed`."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The changed file."},
            "base": _BASE,
        },
        "required": ["path"],
        "additionalProperties": False,
    },
    run=git_diff,
)
