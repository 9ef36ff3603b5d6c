from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from boocode.errors import ToolError
from boocode.tools import search
from boocode.tools.base import ToolContext
from boocode.tools.search import grep, list_files


def make_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.fixture
def project(root: Path) -> Path:
    make_tree(
        root,
        {
            ".gitignore": "*.log\nbuild/\n!keep.log\n/top-only.txt\n",
            ".git/config": "[core]\n",
            "README.md": "hello world\n",
            "app.log": "log line hello\n",
            "keep.log": "kept hello\n",
            "top-only.txt": "ignored at top\n",
            "build/out.py": "hello = 1\n",
            "src/main.py": "def main():\n    print('Hello World')\n",
            "src/util.py": "HELLO = 'hi'\n",
            "src/trace.log": "hello trace\n",
            "src/top-only.txt": "not ignored here\n",
            "src/data.bin": b"hello\x00\x01binary",
            "src/sub/.gitignore": "secret.py\n!notes.log\n",
            "src/sub/secret.py": "hello secret\n",
            "src/sub/deep.py": "hello deep\n",
            "src/sub/notes.log": "hello notes\n",
            "web/app.ts": "hello ts\n",
            "web/app.tsx": "hello tsx\n",
        },
    )
    return root


async def listing(ctx: ToolContext, **args: str) -> list[str]:
    return (await list_files(dict(args), ctx)).content.splitlines()


async def test_list_files_respects_gitignore_and_skips_git(project: Path, ctx: ToolContext) -> None:
    assert await listing(ctx) == [
        ".gitignore",
        "README.md",
        "keep.log",
        "src/data.bin",
        "src/main.py",
        "src/sub/.gitignore",
        "src/sub/deep.py",
        "src/sub/notes.log",
        "src/top-only.txt",
        "src/util.py",
        "web/app.ts",
        "web/app.tsx",
    ]


async def test_list_files_glob_semantics(project: Path, ctx: ToolContext) -> None:
    assert await listing(ctx, pattern="*.md") == ["README.md"]
    assert await listing(ctx, pattern="**/*.py") == ["src/main.py", "src/sub/deep.py", "src/util.py"]
    assert await listing(ctx, pattern="src/*.py") == ["src/main.py", "src/util.py"]
    assert await listing(ctx, pattern="web/*.{ts,tsx}") == ["web/app.ts", "web/app.tsx"]
    assert await listing(ctx, pattern="src/**") == [
        "src/data.bin",
        "src/main.py",
        "src/sub/.gitignore",
        "src/sub/deep.py",
        "src/sub/notes.log",
        "src/top-only.txt",
        "src/util.py",
    ]
    assert await listing(ctx, pattern="src/[mu]*.py") == ["src/main.py", "src/util.py"]


async def test_list_files_in_subdirectory_applies_outer_gitignore(project: Path, ctx: ToolContext) -> None:
    # Patterns are relative to `path`, results relative to the root; the root .gitignore still applies.
    assert await listing(ctx, path="src/sub") == [
        "src/sub/.gitignore",
        "src/sub/deep.py",
        "src/sub/notes.log",
    ]
    assert await listing(ctx, path="src", pattern="*.py") == ["src/main.py", "src/util.py"]
    assert await listing(ctx, path="src", pattern="**/*.log") == ["src/sub/notes.log"]
    assert await grep_lines(ctx, pattern="hello", path="src") == [
        "src/sub/deep.py:1:hello deep",
        "src/sub/notes.log:1:hello notes",
    ]


async def test_list_files_caps_with_note(
    root: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(root, {f"f{i:02}.txt": "" for i in range(12)})
    monkeypatch.setattr(search, "MAX_FILES", 10)
    lines = await listing(ctx)
    assert lines[:10] == [f"f{i:02}.txt" for i in range(10)]
    assert lines[10] == "(2 more files not shown; narrow the pattern or path)"
    assert len(lines) == 11
    small = (await list_files({}, replace(ctx, output_limit=30))).content.splitlines()
    assert small == ["f00.txt", "f01.txt", "f02.txt", "(9 more files not shown; narrow the pattern or path)"]


async def test_list_files_no_match_and_bad_path(project: Path, ctx: ToolContext) -> None:
    assert (await list_files({"pattern": "*.rs"}, ctx)).content == "no files match '*.rs' in ."
    with pytest.raises(ToolError, match=re.escape("not a directory: README.md")):
        await list_files({"path": "README.md"}, ctx)
    with pytest.raises(ToolError, match="outside the root"):
        await list_files({"path": ".."}, ctx)


async def test_list_files_does_not_follow_symlinked_directories(
    root: Path, tmp_path: Path, ctx: ToolContext
) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, {"secret.txt": "x"})
    os.symlink(outside, root / "link")
    assert await listing(ctx) == ["link"]


async def grep_lines(ctx: ToolContext, **args: object) -> list[str]:
    return (await grep(dict(args), ctx)).content.splitlines()


async def test_grep_respects_gitignore_and_skips_binary(project: Path, ctx: ToolContext) -> None:
    assert await grep_lines(ctx, pattern="hello") == [
        "README.md:1:hello world",
        "keep.log:1:kept hello",
        "src/sub/deep.py:1:hello deep",
        "src/sub/notes.log:1:hello notes",
        "web/app.ts:1:hello ts",
        "web/app.tsx:1:hello tsx",
    ]


async def test_grep_ignore_case_regex_and_line_numbers(project: Path, ctx: ToolContext) -> None:
    assert await grep_lines(ctx, pattern=r"hello\s+world", ignore_case=True) == [
        "README.md:1:hello world",
        "src/main.py:2:    print('Hello World')",
    ]
    assert await grep_lines(ctx, pattern=r"^HELLO") == ["src/util.py:1:HELLO = 'hi'"]


async def test_grep_glob_and_path(project: Path, ctx: ToolContext) -> None:
    assert await grep_lines(ctx, pattern="hello", glob="*.ts") == ["web/app.ts:1:hello ts"]
    assert await grep_lines(ctx, pattern="hello", glob="*.{py,tsx}") == [
        "src/sub/deep.py:1:hello deep",
        "web/app.tsx:1:hello tsx",
    ]
    assert await grep_lines(ctx, pattern="hello", path="web", glob="app.ts") == ["web/app.ts:1:hello ts"]
    assert await grep_lines(ctx, pattern="(?i)hello", path="src", glob="sub/*.py") == [
        "src/sub/deep.py:1:hello deep"
    ]
    # An explicit file is searched even when .gitignore excludes it.
    assert await grep_lines(ctx, pattern="hello", path="app.log") == ["app.log:1:log line hello"]


async def test_grep_caps_results(root: Path, ctx: ToolContext) -> None:
    make_tree(root, {"many.txt": "match\n" * 10})
    lines = await grep_lines(ctx, pattern="match", max_results=3)
    assert lines == [
        "many.txt:1:match",
        "many.txt:2:match",
        "many.txt:3:match",
        "(only the first 3 matches are shown; narrow the pattern, path or glob)",
    ]
    assert len(await grep_lines(ctx, pattern="match", max_results=10)) == 10


async def test_grep_clips_long_lines(root: Path, ctx: ToolContext) -> None:
    make_tree(root, {"wide.txt": "needle" + "x" * 1000 + "\n"})
    (line,) = await grep_lines(ctx, pattern="needle")
    assert line == "wide.txt:1:needle" + "x" * (search.MAX_MATCH_LINE_CHARS - 6) + " …"


async def test_grep_errors_and_no_match(project: Path, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"invalid regex '\(unclosed': missing \), unterminated subpattern"):
        await grep({"pattern": "(unclosed"}, ctx)
    with pytest.raises(ToolError, match="path not found: nope"):
        await grep({"pattern": "x", "path": "nope"}, ctx)
    assert (await grep({"pattern": "zzz"}, ctx)).content == "no matches for 'zzz' in ."


async def test_grep_skips_symlinks_leading_outside(root: Path, tmp_path: Path, ctx: ToolContext) -> None:
    make_tree(tmp_path, {"secret.txt": "password=hunter2\n"})
    make_tree(root, {"real.txt": "password=inside\n"})
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(root / "real.txt", root / "alias.txt")
    assert await grep_lines(ctx, pattern="password") == [
        "alias.txt:1:password=inside",
        "real.txt:1:password=inside",
    ]
