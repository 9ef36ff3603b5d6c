"""Keep paths given by a model inside the tool root."""

from __future__ import annotations

import os
from pathlib import Path

from boocode.errors import ToolError


def confine(root: Path, user_path: str) -> Path:
    """Resolve `user_path` (relative to `root`, or absolute) to an absolute path inside `root`.

    Symlinks are followed (for a path that does not exist yet, those of its nearest existing parent), so
    neither `..` nor a symlink can lead outside the root. Raises `ToolError` when the path escapes.
    """
    real_root = root.resolve()
    try:
        joined = real_root / user_path
        resolved = joined.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ToolError(f"invalid path {user_path!r}: {exc}") from None
    if resolved.is_relative_to(real_root):
        return resolved
    via_symlink = Path(os.path.normpath(joined)).is_relative_to(real_root)
    how = " through a symlink" if via_symlink else ""
    raise ToolError(
        f"path {user_path!r} leads outside the root {real_root}{how}; only paths inside it are allowed"
    )


def relative_to_root(root: Path, path: Path) -> str:
    """Show `path` (inside `root`) relative to it with forward slashes; the root itself is `.`."""
    return path.relative_to(root.resolve()).as_posix()
