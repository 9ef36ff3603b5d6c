"""`boocode runs show` prints the cache badge's numbers per run, phase and agent (text and --json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server_helpers import cli_env

from boocode.api import run_workflow
from boocode.config import Settings


def _show(settings: Settings, boocode_env: dict[str, str], project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "boocode", "runs", "show", *args],
        env={**boocode_env, **cli_env(settings)},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_runs_show_has_the_cache_numbers(
    settings: Settings, project: Path, boocode_env: dict[str, str]
) -> None:
    outcome = await run_workflow("fan", args=["a", "nocache b"], project=project, settings=settings)
    assert outcome.status == "completed"
    text = _show(settings, boocode_env, project, outcome.run_id)
    # look a: 1000 in (800 written); nocache b: 500 in, no cache figures; summer: 1000 (800 written) + 1200
    # (800 read). The sums: 800 read + 1600 write + 800 uncached = 3200, one call of four unreported.
    assert (
        "cache 25%* read: 800 read + 1600 write + 800 uncached = 3200 input tokens "
        "(cache reported by 3 of 4 calls; 500 more input tokens unreported)"
    ) in text
    phases = [line for line in text.splitlines() if line.startswith("phase ")]
    assert "cache 0%* read: 0 read + 800 write + 200 uncached = 1000 input tokens" in phases[0]
    assert "cache 36% read: 800 read + 800 write + 600 uncached = 2200 input tokens" in phases[1]
    agents = {line.strip().split("  ")[0]: line for line in text.splitlines() if line.startswith("   ")}
    assert "cache n/a" in agents["1 [Scan] look nocache b"]
    assert "cache 36% (800 read + 800 write + 600 uncached)" in agents["2 [Sum] summer"]

    data = json.loads(_show(settings, boocode_env, project, outcome.run_id, "--json"))
    assert data["cache"]["label"] == "25%*" and data["cache"]["cache_write"] == 1600
    assert [p["cache"]["label"] for p in data["phases"]] == ["0%*", "36%"]
    assert [a["cache"]["label"] for a in data["agents"]] == ["0%", "n/a", "36%"]
