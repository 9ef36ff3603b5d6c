from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from boocode.errors import InputError
from boocode.llm import images
from boocode.llm.images import SUPPORTED_MEDIA_TYPES, image_from_bytes, load_image, sniff_media_type


def png_1x1() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def refusal(call: Callable[[], object]) -> str:
    """The message of the `InputError` that `call` raises."""
    with pytest.raises(InputError) as caught:
        call()
    return str(caught.value)


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 26) + b"WEBPVP8L" + struct.pack("<I", 13) + b"\x2f" + b"\x00" * 12


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (png_1x1(), "image/png"),
        (JPEG, "image/jpeg"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (WEBP, "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"GIF90a", None),
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_media_type(data: bytes, media_type: str | None) -> None:
    assert sniff_media_type(data) == media_type
    assert media_type is None or media_type in SUPPORTED_MEDIA_TYPES


def test_supported_media_types() -> None:
    assert {"image/png", "image/jpeg", "image/gif", "image/webp"} == SUPPORTED_MEDIA_TYPES


def test_image_from_bytes() -> None:
    part = image_from_bytes(png_1x1(), source="shot.png")
    assert (part.data, part.media_type, part.source) == (png_1x1(), "image/png", "shot.png")
    assert (
        refusal(lambda: image_from_bytes(b"plain text", source="notes.txt"))
        == "notes.txt: not a PNG/JPEG/GIF/WebP image"
    )
    assert refusal(lambda: image_from_bytes(b"plain text")) == "not a PNG/JPEG/GIF/WebP image"


def test_image_from_bytes_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(InputError, match=r"image is 20 bytes; the limit is 10"):
        image_from_bytes(JPEG[:20])


def test_load_image(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(png_1x1())
    part = load_image("pics/a.png", tmp_path)
    assert (part.media_type, part.source, part.data) == ("image/png", "pics/a.png", png_1x1())
    assert load_image(tmp_path / "pics" / "a.png", tmp_path).data == png_1x1()


def test_load_image_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("not an image")
    (root / "big.gif").write_bytes(b"GIF89a" + b"\0" * 100)
    (tmp_path / "outside.png").write_bytes(png_1x1())
    assert refusal(lambda: load_image("nope.png", root)) == "image not found: nope.png"
    assert refusal(lambda: load_image("notes.txt", root)) == "notes.txt: not a PNG/JPEG/GIF/WebP image"
    assert refusal(lambda: load_image(".", root)) == "not a file: ."
    assert refusal(lambda: load_image("../outside.png", root)).startswith(
        "path '../outside.png' leads outside"
    )
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 50)
    assert refusal(lambda: load_image("big.gif", root)) == "big.gif: image is 106 bytes; the limit is 50"
