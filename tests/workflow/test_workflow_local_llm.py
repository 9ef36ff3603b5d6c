"""One workflow end to end on the embedded local model (real llama.cpp server over real HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.local_llm

SCRIPT = """export const meta = {name: 'local-pong', description: 'Two agents on the local model'}
phase('Ask')
const [word, city] = await parallel([
  () => agent('Reply with exactly one word: PONG', {label: 'pong'}),
  () => agent('What is the capital city of Japan?', {label: 'capital', schema: {
    type: 'object', properties: {city: {type: 'string'}}, required: ['city'], additionalProperties: false}}),
])
return {word: word.trim(), city: city.city}
"""


def test_workflow_runs_on_the_local_model(boocode_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "local-pong.js"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "boocode", "run", str(script), "--json"],
        env=boocode_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "completed" and out["failures"] == []
    assert out["result"]["word"] == "PONG"
    assert "tokyo" in out["result"]["city"].lower()
    assert out["usage"]["agent_count"] == 2
