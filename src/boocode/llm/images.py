"""Images for the model: recognise PNG, JPEG, GIF and WebP by their bytes and load them from files."""

from __future__ import annotations

from pathlib import Path

from boocode.errors import InputError, ToolError
from boocode.llm.types import ImagePart
from boocode.tools.paths import confine

SUPPORTED_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_media_type(data: bytes) -> str | None:
    """The media type of an image in a supported format, from its first bytes; `None` for anything else."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_from_bytes(data: bytes, source: str | None = None) -> ImagePart:
    """Wrap image bytes in an `ImagePart`; raises `InputError` for other data or images over 20 MB."""
    label = f"{source}: " if source else ""
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InputError(f"{label}not a PNG/JPEG/GIF/WebP image")
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"{label}image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,}")
    return ImagePart(data=data, media_type=media_type, source=source)


def load_image(path: str | Path, root: Path) -> ImagePart:
    """Load the image at `path` (relative to `root` or absolute, but inside it) as an `ImagePart`.

    Raises `InputError` when the path leads outside `root`, is missing or is not a supported image.
    """
    try:
        resolved = confine(root, str(path))
    except ToolError as exc:
        raise InputError(str(exc)) from None
    if not resolved.exists():
        raise InputError(f"image not found: {path}")
    if not resolved.is_file():
        raise InputError(f"not a file: {path}")
    size = resolved.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise InputError(f"{path}: image is {size:,} bytes; the limit is {MAX_IMAGE_BYTES:,}")
    return image_from_bytes(resolved.read_bytes(), source=str(path))
