from __future__ import annotations

import os
from pathlib import Path

import pytest

from boocode.errors import ToolError
from boocode.tools.paths import confine, relative_to_root


def test_relative_and_absolute_paths_inside_root(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("x")
    assert confine(root, "src/a.py") == root.resolve() / "src" / "a.py"
    assert confine(root, str(root / "src" / "a.py")) == root.resolve() / "src" / "a.py"
    assert confine(root, ".") == root.resolve()
    assert confine(root, "src/../src/a.py") == root.resolve() / "src" / "a.py"


def test_not_yet_existing_file_resolves_inside(root: Path) -> None:
    assert confine(root, "new/dir/file.txt") == root.resolve() / "new" / "dir" / "file.txt"


@pytest.mark.parametrize("user_path", ["..", "../outside.txt", "src/../../outside.txt", "nope/../../x"])
def test_dotdot_escape_refused(root: Path, user_path: str) -> None:
    with pytest.raises(ToolError) as caught:
        confine(root, user_path)
    assert user_path in str(caught.value)
    assert str(root.resolve()) in str(caught.value)
    assert "symlink" not in str(caught.value)


def test_absolute_path_outside_refused(root: Path) -> None:
    with pytest.raises(ToolError, match="outside the root"):
        confine(root, "/etc/passwd")


def test_symlink_leading_outside_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.txt").write_text("secret")
    os.symlink(outside, root / "link")
    os.symlink(outside / "key.txt", root / "key-link")
    for user_path in ("link/key.txt", "link/not-yet.txt", "key-link", "link"):
        with pytest.raises(ToolError, match="through a symlink"):
            confine(root, user_path)


def test_symlink_inside_root_followed(root: Path) -> None:
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    assert confine(root, "alias/file.txt") == root.resolve() / "real" / "file.txt"


def test_root_given_through_a_symlink(root: Path, tmp_path: Path) -> None:
    linked_root = tmp_path / "linked-root"
    os.symlink(root, linked_root)
    (root / "a.txt").write_text("x")
    assert confine(linked_root, str(linked_root / "a.txt")) == root.resolve() / "a.txt"
    assert confine(linked_root, str(root / "a.txt")) == root.resolve() / "a.txt"


def test_invalid_path_refused(root: Path) -> None:
    with pytest.raises(ToolError, match="invalid path"):
        confine(root, "bad\0name")


def test_relative_to_root(root: Path) -> None:
    assert relative_to_root(root, root.resolve() / "src" / "a.py") == "src/a.py"
    assert relative_to_root(root, root.resolve()) == "."
