"""git_changes and git_diff: the changed files and line ranges of a change, and one file's numbered diff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from boocode.errors import ToolError
from boocode.tools.base import ToolContext
from boocode.tools.git import GIT_CHANGES, GIT_DIFF


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root, check=True, capture_output=True
    )


@pytest.fixture
def repo(root: Path) -> Path:
    """main: a.py (6 lines), gone.py; branch `work` adds a commit changing line 2; then uncommitted edits."""
    (root / "a.py").write_text("one\ntwo\nthree\nfour\nfive\nsix\n")
    (root / "gone.py").write_text("x\n")
    (root / "logo.png").write_bytes(b"\x89PNG\0\0")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "checkout", "-q", "-b", "work")
    (root / "a.py").write_text("one\nTWO\nthree\nfour\nfive\nsix\n")
    git(root, "commit", "-qam", "work")
    (root / "a.py").write_text("one\nTWO\nthree\nfour\nFIVE\nsix\nseven\n")
    (root / "gone.py").unlink()
    (root / "logo.png").write_bytes(b"\x89PNG\0\1")
    (root / "new.py").write_text("a\nb\n")
    (root / "data.bin").write_bytes(b"\0\1\2")
    return root


async def changes(ctx: ToolContext, **args: Any) -> Any:
    return json.loads((await GIT_CHANGES.run(args, ctx)).content)


async def diff(ctx: ToolContext, **args: Any) -> str:
    return (await GIT_DIFF.run(args, ctx)).content


async def test_uncommitted_changes_list_files_ranges_and_untracked(repo: Path, ctx: ToolContext) -> None:
    listed = await changes(ctx)
    assert listed == {
        "files": [
            {"path": "a.py", "hunks": [{"start": 5, "end": 5}, {"start": 7, "end": 7}]},
            {"path": "new.py", "hunks": [{"start": 1, "end": 2}]},
        ],
        "skipped": ["gone.py (deleted)", "logo.png (binary)", "data.bin (binary)"],
    }


async def test_a_base_branch_means_since_the_merge_base_with_work_in_progress(
    repo: Path, ctx: ToolContext
) -> None:
    listed = await changes(ctx, base="main")
    assert listed["files"][0] == {
        "path": "a.py",
        "hunks": [{"start": 2, "end": 2}, {"start": 5, "end": 5}, {"start": 7, "end": 7}],
    }
    assert [f["path"] for f in listed["files"]] == ["a.py", "new.py"]


async def test_a_range_is_committed_changes_only(repo: Path, ctx: ToolContext) -> None:
    assert await changes(ctx, base="main..work") == {
        "files": [{"path": "a.py", "hunks": [{"start": 2, "end": 2}]}]
    }


async def test_one_file_diff_is_numbered_as_the_new_file(repo: Path, ctx: ToolContext) -> None:
    shown = (await diff(ctx, path="a.py")).splitlines()
    assert shown[0].startswith("@@ -2,5 +2,6 @@")
    assert "     5 + FIVE" in shown and "       - five" in shown and "     4   four" in shown
    assert shown[-1] == "     7 + seven"
    added = await diff(ctx, path="new.py")
    assert added.splitlines() == ["(new file new.py, not yet added to git)", "     1 + a", "     2 + b"]
    assert await diff(ctx, path="gone.py", base="main..work") == "no changes to gone.py"


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("--output=/tmp/x", "invalid revision '--output=/tmp/x'"),
        ("main;rm -rf /", "invalid revision"),
        ("nosuchbranch", "unknown revision 'nosuchbranch'"),
        ("main..-x", "invalid revision '-x'"),
    ],
)
async def test_bad_revisions_never_reach_git_as_options(
    repo: Path, ctx: ToolContext, base: str, message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await changes(ctx, base=base)


async def test_paths_stay_confined_and_a_non_repository_is_refused(
    repo: Path, ctx: ToolContext, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="outside the root"):
        await diff(ctx, path="../elsewhere.py")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ToolError, match="git rev-parse failed: fatal: not a git repository"):
        await GIT_CHANGES.run({}, ToolContext(root=plain, policy=ctx.policy))
