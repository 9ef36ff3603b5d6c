"""`boocode tasks`: background subagents and workflow runs started by agents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from boocode.cli.common import fail, progress_line, run_async, settings_or_exit
from boocode.errors import InputError
from boocode.project import project_root
from boocode.store.store import opened_store
from boocode.tasks.control import TaskNotActiveError, cancel_task, status_now
from boocode.tasks.records import TaskRecords

_LIST_FIELDS = (
    "id",
    "kind",
    "status",
    "label",
    "depth",
    "detached",
    "parent_session_id",
    "session_id",
    "run_id",
    "rerun_of",
    "turns",
    "tool_calls",
    "last_tool",
    "usage",
    "created_at",
    "finished_at",
)


def _progress(row: Mapping[str, Any]) -> str:
    usage = row["usage"] or {}
    tokens = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
    if row["kind"] == "workflow":
        text = f"run {row['run_id'] or '-'}, {usage.get('agent_count') or 0} agents"
    else:
        text = f"{row['turns']} turns"
    text += f", {row['tool_calls']} tool calls"
    if row["last_tool"]:
        text += f" (last {row['last_tool']})"
    return f"{text}, {tokens} tokens"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Finished tasks too, not only queued and running ones.")
@click.option("--limit", default=50, show_default=True, help="How many tasks to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def tasks(ctx: click.Context, show_all: bool, limit: int, as_json: bool) -> None:
    """List background tasks (subagents and workflow runs agents started), newest first."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            rows = [
                status_now(r) for r in await TaskRecords(store).recent(limit=limit, active_only=not show_all)
            ]
        rows = [r for r in rows if show_all or r["status"] in ("queued", "running")]
        if as_json:
            click.echo(_json([{k: r[k] for k in _LIST_FIELDS} for r in rows]))
            return 0
        for r in rows:
            click.echo(
                f"{r['id']}  {r['created_at']:%Y-%m-%d %H:%M}  {r['status']:<11}  {r['kind']:<8}  "
                f"{r['label'] or '-'}  ({_progress(r)})"
            )
        if not rows:
            click.echo(
                "no background tasks" + ("" if show_all else " running (--all shows finished ones)"), err=True
            )
        return 0

    run_async(main)


@tasks.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the task and its own tasks as JSON.")
def show(task_id: str, as_json: bool) -> None:
    """Show TASK_ID: status, progress, prompt, result or error, usage, and the tasks it started."""
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            records = TaskRecords(store)
            row = await records.get(task_id)
            if row is None:
                fail(f"no task {task_id!r} (see `boocode tasks --all`)", 1)
            task = status_now(row)
            session = task["session_id"]
            children = [status_now(c) for c in await records.children(session)] if session else []
        if as_json:
            data = {k: v for k, v in task.items() if k not in ("owner", "lease_expires_at")}
            data["children"] = [{k: c[k] for k in _LIST_FIELDS} for c in children]
            click.echo(_json(data))
            return 0
        click.echo(f"task {task['id']}  {task['kind']}  {task['status']}  {task['label'] or ''}")
        click.echo(f"progress: {_progress(task)}")
        parent = task["parent_session_id"] or "none (started by a person)"
        click.echo(
            f"parent session: {parent}  depth {task['depth']}" + ("  detached" if task["detached"] else "")
        )
        if task["session_id"]:
            click.echo(f"session: {task['session_id']} (boocode sessions show {task['session_id']})")
        if task["run_id"]:
            click.echo(
                f"run: {task['run_id']} (boocode runs show {task['run_id']})  script: {task['script_path']}"
            )
        if task["rerun_of"]:
            click.echo(f"re-run of: {task['rerun_of']}")
        click.echo(f"prompt: {task['prompt']}")
        if task["error"]:
            click.echo(f"error: {task['error']}")
        if task["result"] is not None:
            result = task["result"]
            click.echo("result: " + (result if isinstance(result, str) else _json(result)))
        for c in children:
            click.echo(
                f"  child {c['id']}  {c['status']:<11}  {c['kind']:<8}  {c['label'] or '-'}  ({_progress(c)})"
            )
        return 0

    run_async(main)


@tasks.command()
@click.argument("task_id")
def cancel(task_id: str) -> None:
    """Cancel TASK_ID (and what it started), whichever process on this database runs it; wait until it
    has ended."""
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            try:
                status = await cancel_task(TaskRecords(store), task_id, settings.run_lease_seconds)
            except TaskNotActiveError as exc:
                fail(str(exc), 1)
        click.echo(f"boocode: task {task_id} {status}", err=True)
        return 0 if status == "cancelled" else 1

    run_async(main)


@tasks.command()
@click.argument("task_id")
@click.option(
    "--allow", "allow", multiple=True, help="Allow a tool that is off by default (bash, web_fetch)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the new task as JSON.")
def rerun(task_id: str, allow: tuple[str, ...], as_json: bool) -> None:
    """Run an ended subagent task again (as a new task, in its project) and print its result."""
    from boocode.runtime import open_runtime
    from boocode.tasks.service import TaskService

    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            root = await TaskRecords(store).project_root(task_id)
        if root is None:
            raise InputError(f"there is no task {task_id!r} (see `boocode tasks --all`)")
        async with open_runtime(settings, project_root(root), allow=allow, progress=progress_line) as runtime:
            service = runtime.hook
            assert isinstance(service, TaskService)
            task = await service.rerun(task_id)
            progress_line(f"task {task.id} started (re-run of {task_id})")
            info = await service.wait(task.id)
        if as_json:
            click.echo(
                _json({"id": info.id, "status": info.status, "result": info.result, "error": info.error})
            )
        elif info.status == "completed":
            click.echo(info.result if isinstance(info.result, str) else _json(info.result))
        if info.status != "completed":
            click.echo(f"boocode: error: task {info.id} {info.status}: {info.error}", err=True)
        return 0 if info.status == "completed" else 1

    run_async(main)
