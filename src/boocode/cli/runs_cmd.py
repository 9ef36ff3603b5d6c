"""`boocode runs`: past and current workflow runs."""

from __future__ import annotations

import json

import click

from boocode.cli.common import fail, run_async, settings_or_exit
from boocode.store.runs import RunRecords
from boocode.store.store import opened_store
from boocode.workflow.summary import phase_summary


@click.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def runs(ctx: click.Context, limit: int) -> None:
    """List recent workflow runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            rows = await RunRecords(store).list_runs(limit)
        for r in rows:
            click.echo(f"{r['id']}  {r['started_at']:%Y-%m-%d %H:%M}  {r['status']:<9}  {r['name']}")
        if not rows:
            click.echo("no runs yet", err=True)
        return 0

    run_async(main)


@runs.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run, its agents and logs as JSON.")
def show(run_id: str, as_json: bool) -> None:
    """Show RUN_ID: status, phases and agents, logs, failures and result."""
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            records = RunRecords(store)
            run = await records.get_run(run_id)
            if run is None:
                fail(f"no run {run_id!r} (see `boocode runs`)", 1)
            agents = await records.agents(run_id)
            logs = await records.logs(run_id)
        if as_json:
            keep = ("id", "name", "status", "result", "error", "failures", "args", "budget_total")
            data = {k: run[k] for k in keep}
            data["logs"] = logs
            data["phases"] = phase_summary(agents)
            data["agents"] = [
                {
                    k: a[k]
                    for k in (
                        "idx",
                        "label",
                        "phase",
                        "status",
                        "model",
                        "input_tokens",
                        "output_tokens",
                        "cache_read_tokens",
                        "tool_uses",
                        "session_id",
                        "error",
                        "result",
                    )
                }
                for a in agents
            ]
            click.echo(json.dumps(data, ensure_ascii=False, default=str))
            return 0
        click.echo(
            f"run {run['id']}  {run['name']}  {run['status']}"
            + (f"  error: {run['error']}" if run["error"] else "")
        )
        for line in logs:
            click.echo(f"log: {line}")
        for p in phase_summary(agents):
            elapsed = "-" if p["elapsed_seconds"] is None else f"{p['elapsed_seconds']} s"
            click.echo(
                f"phase {p['phase'] or '(none)'}: {p['finished']}/{p['agents']} agents done, "
                f"{p['input_tokens']} in / {p['output_tokens']} out tokens, {elapsed}"
            )
        for a in agents:
            where = f"[{a['phase']}] " if a["phase"] else ""
            click.echo(
                f"{a['idx']:>4} {where}{a['label']}  {a['status']}  out {a['output_tokens'] or 0}  "
                f"session {a['session_id'] or '-'}"
            )
        for f in run["failures"] or []:
            click.echo(f"failure: {f['label']} failed: {f['error']}")
        if run["result"] is not None:
            click.echo("result: " + json.dumps(run["result"], ensure_ascii=False))
        return 0

    run_async(main)
