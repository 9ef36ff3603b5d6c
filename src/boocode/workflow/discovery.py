"""Finding workflow scripts: project and user `.boocode/workflows`, then Claude Code's `.claude/workflows`,
then the built-in catalog. Keyed by `meta.name`; the first found wins; listing never runs a script."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from boocode.errors import InputError
from boocode.workflow.script import ScriptError, WorkflowScript, load_script

CATALOG = Path(__file__).with_name("catalog")


@dataclass(frozen=True)
class WorkflowEntry:
    """A script found on disk: its meta when valid, or the error that makes it unusable."""

    path: Path
    source: str
    script: WorkflowScript | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.script.meta.name if self.script else self.path.stem


def _project_dirs(cwd: Path, leaf: str) -> list[Path]:
    """`<dir>/<leaf>` for each directory from `cwd` up to the repository root, closest first."""
    found = []
    for directory in [cwd, *cwd.parents]:
        candidate = directory / leaf
        if candidate.is_dir():
            found.append(candidate)
        if (directory / ".git").exists():
            break
    return found


def search_dirs(cwd: Path, home: Path) -> list[tuple[Path, str]]:
    """(directory, source label) in precedence order."""
    claude_home = Path(os.environ.get("CLAUDE_CONFIG_DIR") or "~/.claude").expanduser()
    dirs = [(d, "project") for d in _project_dirs(cwd, ".boocode/workflows")]
    dirs.append((home / "workflows", "user"))
    dirs += [(d, "project (.claude)") for d in _project_dirs(cwd, ".claude/workflows")]
    dirs.append((claude_home / "workflows", "user (.claude)"))
    dirs.append((CATALOG, "built-in"))
    return [(d, label) for d, label in dirs if d.is_dir()]


def read_script(path: Path) -> WorkflowScript:
    """Load the script at `path`; unreadable files and invalid scripts raise `InputError`."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read workflow script {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    return load_script(source, str(path))


def discover(cwd: Path, home: Path) -> list[WorkflowEntry]:
    """Every script found, in precedence order (shadowed duplicates included, after the one that wins)."""
    entries = []
    for directory, label in search_dirs(cwd, home):
        for path in sorted(directory.glob("*.js")):
            try:
                entries.append(WorkflowEntry(path, label, script=read_script(path)))
            except (InputError, ScriptError) as exc:
                entries.append(WorkflowEntry(path, label, error=str(exc)))
    return entries


def registry(cwd: Path, home: Path) -> dict[str, WorkflowEntry]:
    """The usable workflows by `meta.name`: the first found wins."""
    found: dict[str, WorkflowEntry] = {}
    for entry in discover(cwd, home):
        if entry.script is not None:
            found.setdefault(entry.name, entry)
    return found


def resolve(name_or_path: str, cwd: Path, home: Path) -> WorkflowScript:
    """The script named `name_or_path`, or at that path (anything ending in .js or containing a slash)."""
    if name_or_path.endswith(".js") or os.sep in name_or_path:
        path = (cwd / name_or_path).expanduser()
        if not path.is_file():
            raise InputError(f"workflow script not found: {name_or_path}")
        return read_script(path)
    entries = discover(cwd, home)
    for entry in entries:
        if entry.script is not None and entry.name == name_or_path:
            return entry.script
    for entry in entries:  # an invalid script named like the request: say what is wrong with it
        if entry.error is not None and entry.path.stem == name_or_path:
            raise InputError(entry.error)
    raise InputError(f"unknown workflow {name_or_path!r}; `boocode workflows` lists the ones available")
