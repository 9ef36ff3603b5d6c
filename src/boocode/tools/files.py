"""Reading, writing and editing files under the tool root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from boocode.errors import ToolError
from boocode.llm.images import MAX_IMAGE_BYTES, image_from_bytes, sniff_media_type
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.paths import confine, relative_to_root

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
_SNIFF_BYTES = 8192


async def read_file(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Numbered lines of a text file, or an image as an image part."""
    return await asyncio.to_thread(
        _read,
        ctx.root,
        args["path"],
        args.get("offset", 1),
        args.get("limit", DEFAULT_LIMIT),
        ctx.output_limit,
    )


async def write_file(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Create or overwrite a file atomically, creating missing parent directories."""
    return await asyncio.to_thread(_write, ctx.root, args["path"], args["content"])


async def edit_file(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Replace an exact piece of text in a file."""
    return await asyncio.to_thread(
        _edit, ctx.root, args["path"], args["old_text"], args["new_text"], args.get("replace_all", False)
    )


def _existing_file(root: Path, user_path: str) -> Path:
    path = confine(root, user_path)
    if not path.exists():
        raise ToolError(f"file not found: {user_path}")
    if path.is_dir():
        raise ToolError(f"{user_path} is a directory; use list_files to see what it holds")
    if not path.is_file():
        raise ToolError(f"{user_path} is not a regular file")
    return path


def _read(root: Path, user_path: str, offset: int, limit: int, char_budget: int) -> ToolOutput:
    path = _existing_file(root, user_path)
    shown = relative_to_root(root, path)
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    if sniff_media_type(head):
        return _read_image(path, shown)
    if b"\0" in head:
        raise ToolError(f"{shown} is a binary file; read_file reads text files and PNG/JPEG/GIF/WebP images")
    return ToolOutput(_numbered_lines(path, shown, offset, limit, char_budget))


def _read_image(path: Path, shown: str) -> ToolOutput:
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise ToolError(f"{shown}: image is {size:,} bytes; the limit is {MAX_IMAGE_BYTES:,}")
    image = image_from_bytes(path.read_bytes(), source=shown)
    return ToolOutput(f"image {shown} ({image.media_type}, {size:,} bytes)", images=(image,))


def _numbered_lines(path: Path, shown: str, offset: int, limit: int, char_budget: int) -> str:
    """`cat -n` style lines from `offset` (1-based), at most `limit` of them and about `char_budget` chars."""
    lines: list[str] = []
    used = 0
    total = 0
    full = False
    with path.open(encoding="utf-8", errors="replace") as f:
        for total, line in enumerate(f, start=1):
            if total < offset or full:
                continue
            entry = f"{total:>6}\t" + _clip(line.rstrip("\n"))
            if len(lines) == limit or (lines and used + len(entry) > char_budget):
                full = True
                continue
            lines.append(entry)
            used += len(entry) + 1
    if total == 0:
        return f"({shown} is empty)"
    if offset > total:
        raise ToolError(f"{shown} has {total} lines; offset {offset} is past the end")
    last = offset + len(lines) - 1
    if last < total:
        lines.append(f"({shown}: showing lines {offset}-{last} of {total}; continue with offset={last + 1})")
    return "\n".join(lines)


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} … [line truncated, {len(line) - MAX_LINE_CHARS:,} more characters]"


def _write(root: Path, user_path: str, content: str) -> ToolOutput:
    path = confine(root, user_path)
    shown = relative_to_root(root, path)
    if path.is_dir():
        raise ToolError(f"{shown} is a directory; give a file path")
    verb = "updated" if path.exists() else "created"
    _atomic_write(path, shown, content)
    lines = len(content.splitlines())
    return ToolOutput(
        f"{verb} {shown} ({len(content.encode()):,} bytes, {lines} line{'' if lines == 1 else 's'})"
    )


def _edit(root: Path, user_path: str, old_text: str, new_text: str, replace_all: bool) -> ToolOutput:
    path = _existing_file(root, user_path)
    shown = relative_to_root(root, path)
    if not old_text:
        raise ToolError("old_text is empty; use write_file to create or replace a whole file")
    if old_text == new_text:
        raise ToolError("old_text and new_text are the same; nothing to change")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{shown} is not UTF-8 text; edit_file cannot change it") from None
    old_text, new_text = _match_line_endings(text, old_text, new_text)
    count = text.count(old_text)
    if count == 0:
        raise ToolError(f"old_text not found in {shown}")
    if count > 1 and not replace_all:
        raise ToolError(f"old_text occurs {count} times in {shown}; include more context or set replace_all")
    _atomic_write(path, shown, text.replace(old_text, new_text))
    return ToolOutput(f"replaced {count} occurrence{'s' if count > 1 else ''} in {shown}")


def _match_line_endings(text: str, old_text: str, new_text: str) -> tuple[str, str]:
    """Use CRLF in the edit when the file has CRLF line endings and the model wrote LF."""
    if "\r\n" in text and "\r" not in old_text and old_text not in text:
        return old_text.replace("\n", "\r\n"), new_text.replace("\r\n", "\n").replace("\n", "\r\n")
    return old_text, new_text


def _atomic_write(path: Path, shown: str, content: str) -> None:
    """Write through a temporary file in the same directory, then rename it over `path`; missing parent
    directories are created. An existing file keeps its permission bits; a new one gets 0666 less the
    umask. Raises `ToolError` when the file cannot be written."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ToolError(f"cannot write {shown}: {exc.strerror or exc}") from None
        raise


READ_FILE = Tool(
    name="read_file",
    description=(
        "Read a text file as numbered lines (like `cat -n`), or look at a PNG/JPEG/GIF/WebP image. "
        "Long files are shown in pieces: use offset and limit to read more."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path, relative to the project root."},
            "offset": {"type": "integer", "minimum": 1, "description": "First line to show (1-based)."},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"Most lines to show (default {DEFAULT_LIMIT}).",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    },
    run=read_file,
)

WRITE_FILE = Tool(
    name="write_file",
    description="Create a file or replace its whole content. Missing parent directories are created.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path, relative to the project root."},
            "content": {"type": "string", "description": "The complete new content of the file."},
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    },
    run=write_file,
    read_only=False,
)

EDIT_FILE = Tool(
    name="edit_file",
    description=(
        "Replace an exact piece of text in a file. old_text must match the file exactly (whitespace "
        "included) and occur once, unless replace_all is set. Read the file first."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path, relative to the project root."},
            "old_text": {"type": "string", "description": "The exact text to replace."},
            "new_text": {"type": "string", "description": "The text to put in its place."},
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence instead of requiring exactly one (default false).",
            },
        },
        "required": ["path", "old_text", "new_text"],
        "additionalProperties": False,
    },
    run=edit_file,
    read_only=False,
)
