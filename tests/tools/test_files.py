from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from boocode.errors import ToolError
from boocode.tools.base import ToolContext
from boocode.tools.files import MAX_LINE_CHARS, edit_file, read_file, write_file

# The classic 1x1 transparent GIF.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


async def test_read_file_numbers_lines_like_cat_n(root: Path, ctx: ToolContext) -> None:
    (root / "a.txt").write_text("first\n\tsecond\nthird")
    out = await read_file({"path": "a.txt"}, ctx)
    assert out.content == "     1\tfirst\n     2\t\tsecond\n     3\tthird"
    assert not out.is_error and out.images == ()


async def test_read_file_offset_limit_and_continuation_note(root: Path, ctx: ToolContext) -> None:
    (root / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = await read_file({"path": "n.txt", "offset": 4, "limit": 3}, ctx)
    assert out.content.splitlines() == [
        "     4\tline 4",
        "     5\tline 5",
        "     6\tline 6",
        "(n.txt: showing lines 4-6 of 10; continue with offset=7)",
    ]
    tail = await read_file({"path": "n.txt", "offset": 9}, ctx)
    assert tail.content == "     9\tline 9\n    10\tline 10"


async def test_read_file_default_limit_is_2000_lines(root: Path, ctx: ToolContext) -> None:
    (root / "big.txt").write_text("x\n" * 2500)
    out = await read_file({"path": "big.txt"}, replace(ctx, output_limit=10**6))
    lines = out.content.splitlines()
    assert lines[1999] == "  2000\tx"
    assert lines[2000] == "(big.txt: showing lines 1-2000 of 2500; continue with offset=2001)"
    assert len(lines) == 2001


async def test_read_file_stops_at_output_limit(root: Path, ctx: ToolContext) -> None:
    (root / "wide.txt").write_text(("y" * 90 + "\n") * 50)
    out = await read_file({"path": "wide.txt"}, replace(ctx, output_limit=500))
    assert len(out.content) < 700
    assert "continue with offset=6" in out.content.splitlines()[-1]


async def test_read_file_truncates_long_lines(root: Path, ctx: ToolContext) -> None:
    (root / "long.txt").write_text("z" * (MAX_LINE_CHARS + 123) + "\nshort\n")
    out = await read_file({"path": "long.txt"}, ctx)
    first, second = out.content.splitlines()
    assert first == "     1\t" + "z" * MAX_LINE_CHARS + " … [line truncated, 123 more characters]"
    assert second == "     2\tshort"


async def test_read_file_crlf_and_invalid_utf8(root: Path, ctx: ToolContext) -> None:
    (root / "w.txt").write_bytes(b"one\r\ntwo \xff\r\n")
    out = await read_file({"path": "w.txt"}, ctx)
    assert out.content == "     1\tone\n     2\ttwo \ufffd"


async def test_read_file_empty_and_past_the_end(root: Path, ctx: ToolContext) -> None:
    (root / "empty.txt").write_text("")
    assert (await read_file({"path": "empty.txt"}, ctx)).content == "(empty.txt is empty)"
    (root / "two.txt").write_text("a\nb\n")
    with pytest.raises(ToolError, match=re.escape("two.txt has 2 lines; offset 5 is past the end")):
        await read_file({"path": "two.txt", "offset": 5}, ctx)


async def test_read_file_returns_images(root: Path, ctx: ToolContext) -> None:
    (root / "img").mkdir()
    (root / "img" / "pixel.dat").write_bytes(GIF)
    out = await read_file({"path": "img/pixel.dat"}, ctx)
    assert out.content == f"image img/pixel.dat (image/gif, {len(GIF)} bytes)"
    assert len(out.images) == 1
    assert out.images[0].data == GIF
    assert out.images[0].media_type == "image/gif"
    assert out.images[0].source == "img/pixel.dat"


async def test_read_file_refuses_binary_missing_directory_and_outside(
    root: Path, tmp_path: Path, ctx: ToolContext
) -> None:
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ToolError, match=re.escape("blob.bin is a binary file")):
        await read_file({"path": "blob.bin"}, ctx)
    with pytest.raises(ToolError, match=re.escape("file not found: nope.txt")):
        await read_file({"path": "nope.txt"}, ctx)
    (root / "dir").mkdir()
    with pytest.raises(ToolError, match="dir is a directory"):
        await read_file({"path": "dir"}, ctx)
    (tmp_path / "outside.txt").write_text("secret")
    with pytest.raises(ToolError, match="outside the root"):
        await read_file({"path": "../outside.txt"}, ctx)


async def test_write_file_creates_parents_and_reports(root: Path, ctx: ToolContext) -> None:
    out = await write_file({"path": "deep/er/new.txt", "content": "a\r\nb\n"}, ctx)
    assert out.content == "created deep/er/new.txt (5 bytes, 2 lines)"
    assert (root / "deep" / "er" / "new.txt").read_bytes() == b"a\r\nb\n"
    out = await write_file({"path": "deep/er/new.txt", "content": "é"}, ctx)
    assert out.content == "updated deep/er/new.txt (2 bytes, 1 line)"
    assert (root / "deep" / "er" / "new.txt").read_text(encoding="utf-8") == "é"
    assert os.listdir(root / "deep" / "er") == ["new.txt"]


async def test_write_file_keeps_permissions_of_existing_file(root: Path, ctx: ToolContext) -> None:
    script = root / "run.sh"
    script.write_text("echo old\n")
    script.chmod(0o750)
    await write_file({"path": "run.sh", "content": "echo new\n"}, ctx)
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "echo new\n"


async def test_write_file_is_atomic_on_failure(
    root: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "keep.txt").write_text("original")

    def fail(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ToolError, match=re.escape("cannot write keep.txt: No space left on device")):
        await write_file({"path": "keep.txt", "content": "new"}, ctx)
    assert (root / "keep.txt").read_text() == "original"
    assert os.listdir(root) == ["keep.txt"]


async def test_write_file_through_symlink_inside_root_updates_target(root: Path, ctx: ToolContext) -> None:
    (root / "target.txt").write_text("old")
    os.symlink(root / "target.txt", root / "alias.txt")
    await write_file({"path": "alias.txt", "content": "new"}, ctx)
    assert (root / "target.txt").read_text() == "new"
    assert (root / "alias.txt").is_symlink()


async def test_write_file_refuses_directory_and_escapes(root: Path, tmp_path: Path, ctx: ToolContext) -> None:
    (root / "dir").mkdir()
    with pytest.raises(ToolError, match="dir is a directory"):
        await write_file({"path": "dir", "content": "x"}, ctx)
    os.symlink(tmp_path, root / "out")
    with pytest.raises(ToolError, match="through a symlink"):
        await write_file({"path": "out/evil.txt", "content": "x"}, ctx)
    assert not (tmp_path / "evil.txt").exists()
    with pytest.raises(ToolError, match="outside the root"):
        await write_file({"path": str(tmp_path / "evil.txt"), "content": "x"}, ctx)


async def test_edit_file_replaces_exactly_once(root: Path, ctx: ToolContext) -> None:
    (root / "m.py").write_text("def f():\n    return 1\n")
    out = await edit_file({"path": "m.py", "old_text": "return 1", "new_text": "return 2"}, ctx)
    assert out.content == "replaced 1 occurrence in m.py"
    assert (root / "m.py").read_text() == "def f():\n    return 2\n"


async def test_edit_file_missing_and_ambiguous_text(root: Path, ctx: ToolContext) -> None:
    (root / "m.py").write_text("x = 1\nx = 1\n")
    with pytest.raises(ToolError) as caught:
        await edit_file({"path": "m.py", "old_text": "y = 1", "new_text": "y = 2"}, ctx)
    assert str(caught.value) == "old_text not found in m.py"
    with pytest.raises(ToolError) as caught:
        await edit_file({"path": "m.py", "old_text": "x = 1", "new_text": "x = 2"}, ctx)
    assert str(caught.value) == "old_text occurs 2 times in m.py; include more context or set replace_all"
    assert (root / "m.py").read_text() == "x = 1\nx = 1\n"
    out = await edit_file(
        {"path": "m.py", "old_text": "x = 1", "new_text": "x = 2", "replace_all": True}, ctx
    )
    assert out.content == "replaced 2 occurrences in m.py"
    assert (root / "m.py").read_text() == "x = 2\nx = 2\n"


async def test_edit_file_keeps_crlf_line_endings(root: Path, ctx: ToolContext) -> None:
    (root / "w.txt").write_bytes(b"a\r\nb\r\nc\r\n")
    await edit_file({"path": "w.txt", "old_text": "a\nb\n", "new_text": "A\nB\n"}, ctx)
    assert (root / "w.txt").read_bytes() == b"A\r\nB\r\nc\r\n"


async def test_edit_file_refusals(root: Path, ctx: ToolContext) -> None:
    (root / "t.txt").write_text("text")
    (root / "latin1.txt").write_bytes(b"caf\xe9")
    cases = [
        ({"path": "t.txt", "old_text": "", "new_text": "x"}, "old_text is empty"),
        ({"path": "t.txt", "old_text": "text", "new_text": "text"}, "nothing to change"),
        ({"path": "latin1.txt", "old_text": "caf", "new_text": "x"}, "latin1.txt is not UTF-8 text"),
        ({"path": "nope.txt", "old_text": "a", "new_text": "b"}, "file not found: nope.txt"),
        ({"path": "../t.txt", "old_text": "a", "new_text": "b"}, "outside the root"),
    ]
    for args, message in cases:
        with pytest.raises(ToolError, match=message):
            await edit_file(args, ctx)
    assert (root / "t.txt").read_text() == "text"


async def test_write_failures_are_tool_errors(
    root: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "plain.txt").write_text("x = 1\n")
    with pytest.raises(ToolError, match=re.escape("cannot write plain.txt/child.txt: File exists")):
        await write_file({"path": "plain.txt/child.txt", "content": "x"}, ctx)

    def fail(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ToolError, match=re.escape("cannot write plain.txt: Permission denied")):
        await edit_file({"path": "plain.txt", "old_text": "1", "new_text": "2"}, ctx)
    assert (root / "plain.txt").read_text() == "x = 1\n"
    assert os.listdir(root) == ["plain.txt"]
