"""`isolation: 'worktree'`: an agent works in a fresh git worktree, removed afterwards if it changed nothing
and kept (and reported) if it did."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from boocode.errors import InputError

REMINDER = (
    "You are working in an isolated git worktree at {path}: your changes do not affect the main working "
    "directory; they are kept for review if you change anything."
)


@dataclass
class Worktree:
    path: Path
    changed: list[str]


async def _git(cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise InputError(f"git {' '.join(args)} failed in {cwd}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


@asynccontextmanager
async def worktree(project: Path, target: Path) -> AsyncIterator[Worktree]:
    """A detached worktree of `project`'s HEAD at `target`; on exit, `changed` lists what the agent changed
    and an unchanged worktree is removed."""
    try:
        top = Path((await _git(project, "rev-parse", "--show-toplevel")).strip())
    except InputError:
        raise InputError(f"isolation 'worktree' needs a git repository; {project} is not in one") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    await _git(top, "worktree", "add", "--detach", str(target), "HEAD")
    tree = Worktree(target, [])
    try:
        yield tree
    finally:
        status = await asyncio.shield(_git(target, "status", "--porcelain"))
        tree.changed = [line[3:] for line in status.splitlines() if line.strip()]
        if not tree.changed:
            await asyncio.shield(_git(top, "worktree", "remove", "--force", str(target)))
