"""`boocode run --out FILE`: the result as Markdown, written atomically, and only for a completed run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog_helpers import boocode

from boocode.cli.run_cmd import markdown_of


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    return root


def write(project: Path, name: str, body: str) -> None:
    meta = f"export const meta = {{name: '{name}', description: 'test {name}'}}\n"
    (project / ".boocode" / "workflows" / f"{name}.js").write_text(meta + body)


def test_markdown_of_prefers_the_markdown_field() -> None:
    assert markdown_of({"report": {"a": 1}, "markdown": "# Title\n"}) == "# Title\n"
    assert markdown_of("plain text") == "plain text"
    assert markdown_of({"markdown": 3}) == '```json\n{\n  "markdown": 3\n}\n```\n'
    assert markdown_of(None) == "```json\nnull\n```\n"


def test_out_writes_the_markdown_of_a_catalog_workflow(env: dict[str, str], project: Path) -> None:
    done = boocode(env, project, "run", "review-code", "--json", "--no-live", "--out", "reports/review.md")
    assert done.returncode == 0, done.stderr
    written = (project / "reports" / "review.md").read_text()
    assert written == json.loads(done.stdout)["result"]["markdown"]
    assert written.startswith("# Code review: the uncommitted changes\n")
    assert [p.name for p in (project / "reports").iterdir()] == ["review.md"]  # no temporary file left


def test_out_renders_other_results_as_json(env: dict[str, str], project: Path) -> None:
    write(
        project,
        "plain",
        "const schema = {type: 'object', properties: {n: {type: 'integer'}}, required: ['n']}\n"
        "return {n: await agent('count', {schema})}",
    )
    out = project / "out.md"
    done = boocode(env, project, "run", "plain", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == '```json\n{\n  "n": {\n    "n": 0\n  }\n}\n```\n'


def test_a_failed_run_writes_nothing_and_keeps_the_old_file(env: dict[str, str], project: Path) -> None:
    write(project, "broken", "await agent('first')\nthrow new Error('broken on purpose')")
    out = project / "report.md"
    out.write_text("the previous report\n")
    done = boocode(env, project, "run", "broken", "--out", str(out))
    assert done.returncode == 1
    assert f"{out} not written: the run failed" in done.stderr
    assert out.read_text() == "the previous report\n"
    assert sorted(p.name for p in project.iterdir()) == [".boocode", "report.md"]
