"""What the `workflow` tool needs besides running the run: checking its input before anything runs, keeping
the script on disk, and the completion notification in Claude Code's `<task-notification>` shape."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boocode.errors import InputError
from boocode.workflow.discovery import read_script, resolve
from boocode.workflow.sandbox import UNDEFINED
from boocode.workflow.script import WorkflowScript, load_script

RUN_ID = re.compile(r"^wf_[a-z0-9-]{6,}$")
# Longer results are cut in the notification; the whole value goes to an output file.
RESULT_CHARS = 4000
_THUNK = re.compile(r"^(parallel|pipeline)\[\d+\]$")


@dataclass(frozen=True)
class WorkflowLaunch:
    """A checked `workflow` tool call. `script` is None when a resume runs the run's stored script."""

    script: WorkflowScript | None
    args: Any
    resume: str | None


def scripts_dir(home: Path) -> Path:
    """Where launched scripts are kept as `<name>-<runId>.js` (a level below a discovery directory)."""
    return home / "workflows" / "runs"


def parse_launch(request: dict[str, Any], root: Path, home: Path) -> WorkflowLaunch:
    """Check the tool input (`scriptPath` > `script` > `name`, `args`, `resumeFromRunId`); `InputError` says
    what is wrong."""
    resume = request.get("resumeFromRunId")
    if resume is not None and (not isinstance(resume, str) or not RUN_ID.match(resume)):
        raise InputError(f"resumeFromRunId must be a run id like wf_1a2b3c4d-5e6, got {resume!r}")
    args = request.get("args", UNDEFINED)
    path, text, name = request.get("scriptPath"), request.get("script"), request.get("name")
    if path:
        script: WorkflowScript | None = read_script(_script_path(str(path), root, home))
    elif text:
        script = load_script(str(text), "<script>")
    elif name:
        name = str(name)
        if name.endswith(".js") or "/" in name:
            raise InputError(f"name is a workflow's meta.name; give the file {name!r} as scriptPath")
        script = resolve(name, root, home)
    elif resume is not None:
        script = None
    else:
        raise InputError("give the workflow as script (its text), name (a saved workflow) or scriptPath")
    return WorkflowLaunch(script, args, resume)


def _script_path(given: str, root: Path, home: Path) -> Path:
    """A script file the agent may read: in its project, or one of the launched scripts kept by boocode."""
    path = (root / given).expanduser().resolve()
    allowed = (root.resolve(), scripts_dir(home).resolve())
    if not any(path.is_relative_to(base) for base in allowed):
        raise InputError(f"scriptPath {given!r} is outside the project and boocode's launched scripts")
    if not path.is_file():
        raise InputError(f"workflow script not found: {given}")
    return path


def keep_script(home: Path, name: str, run_id: str, source: str) -> Path:
    """Write the run's script to `<scripts_dir>/<name>-<runId>.js` (through a rename: never half written)."""
    directory = scripts_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80] or "workflow"
    path = directory / f"{safe}-{run_id}.js"
    partial = path.with_suffix(".js.partial")
    partial.write_text(source, encoding="utf-8")
    partial.replace(path)
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _failure_line(failure: dict[str, str]) -> str:
    label = failure.get("label", "")
    where = label if _THUNK.match(label) else f"[{label}]"
    return f"{where} failed: {failure.get('error', '')}"


@dataclass(frozen=True)
class RunOutcome:
    """What the notification reports about a finished run."""

    task_id: str
    run_id: str
    status: str
    description: str
    result: Any
    failures: list[dict[str, str]]
    usage: dict[str, Any]
    error: str | None = None


def notification(outcome: RunOutcome, output_dir: Path) -> str:
    """The `<task-notification>` the parent gets: status, summary, result (cut, with the whole value in an
    output file, when long), failures and usage."""
    result = outcome.result
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    lines = [
        "<task-notification>",
        f"<task-id>{outcome.task_id}</task-id>",
        f"<run-id>{outcome.run_id}</run-id>",
    ]
    if len(text) > RESULT_CHARS:
        output_dir.mkdir(parents=True, exist_ok=True)
        output = output_dir / f"{outcome.task_id}.output"
        output.write_text(json.dumps({"result": result}, ensure_ascii=False), encoding="utf-8")
        lines.append(f"<output-file>{_escape(str(output))}</output-file>")
        cut = len(text) - RESULT_CHARS
        text = f"{text[:RESULT_CHARS]}\n... (truncated {cut} chars, full result in {output})"
    summary = f'Dynamic workflow "{outcome.description}" {outcome.status}'
    lines += [
        f"<status>{outcome.status}</status>",
        f"<summary>{_escape(summary)}</summary>",
        f"<result>{_escape(text)}</result>",
    ]
    if outcome.error:
        lines.append(f"<error>{_escape(outcome.error)}</error>")
    if outcome.failures:
        failed = "\n".join(_failure_line(f) for f in outcome.failures)
        lines.append(f"<failures>{_escape(failed)}</failures>")
    usage = outcome.usage
    tokens = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
    lines.append(
        f"<usage><agent_count>{usage.get('agent_count', 0)}</agent_count>"
        f"<subagent_tokens>{tokens}</subagent_tokens><tool_uses>{usage.get('tool_uses', 0)}</tool_uses>"
        f"<duration_ms>{usage.get('duration_ms', 0)}</duration_ms></usage>"
    )
    lines.append("</task-notification>")
    return "\n".join(lines)


def agent_note(task_id: str, label: str, status: str, result: Any, error: str | None) -> str:
    """The short note a parent gets when one of its subagents ended."""
    summary = f'Subagent "{label}" {status}'
    lines = [
        "<task-notification>",
        f"<task-id>{task_id}</task-id>",
        f"<status>{status}</status>",
        f"<summary>{_escape(summary)}</summary>",
    ]
    if status == "completed":
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        limit = 1000
        if len(text) > limit:
            text = f'{text[:limit]}\n... (truncated; subagent_result(id="{task_id}") returns all of it)'
        lines.append(f"<result>{_escape(text)}</result>")
    elif error:
        lines.append(f"<error>{_escape(error)}</error>")
    lines.append("</task-notification>")
    return "\n".join(lines)
