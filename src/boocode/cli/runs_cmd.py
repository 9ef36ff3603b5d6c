"""`boocode runs`: past and current workflow runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from sqlalchemy.engine import RowMapping

from boocode.cache_shape import CacheShape
from boocode.cli.common import fail, run_async, settings_or_exit
from boocode.errors import InputError
from boocode.store.runs import UNFINISHED, RunRecords
from boocode.store.store import opened_store
from boocode.store.trace import TraceReader
from boocode.workflow.summary import phase_summary


def _as_of(run_status: str, agent: RowMapping) -> Mapping[Any, Any]:
    """An agent as it is now: one left queued or running by a run that is no longer running was
    interrupted (also rows written as `stopped` before agents had that status)."""
    if agent["status"] in UNFINISHED and (run_status != "running" or agent["status"] == "stopped"):
        return {**agent, "status": "interrupted"}
    return agent


def declared_phases(run: Mapping[Any, Any]) -> list[str]:
    """The titles of the run's `meta.phases`, read from its stored script (none if it cannot be read)."""
    from boocode.workflow.script import load_script

    try:
        script = load_script(run["script"] or "", run["script_path"] or "workflow.js")
    except InputError:
        return []
    return [phase.title for phase in script.meta.phases]


def nested_group(child: Mapping[Any, Any]) -> str:
    """How a nested workflow's agents are grouped, as in Claude Code: "▸ name"."""
    return f"▸ {child['name']}"


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
            note = "  (resumable: boocode resume)" if r["status"] == "interrupted" else ""
            click.echo(f"{r['id']}  {r['started_at']:%Y-%m-%d %H:%M}  {r['status']:<11}  {r['name']}{note}")
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
            agents = [_as_of(run["status"], a) for a in await records.agents(run_id)]
            logs = await records.logs(run_id)
            nested = [
                (child, [_as_of(child["status"], a) for a in await records.agents(child["id"])])
                for child in await records.children(run_id)
            ]
            everyone = [*agents, *(a for _, child_agents in nested for a in child_agents)]
            usage = await TraceReader(store).session_usage(
                [a["session_id"] for a in everyone if a["session_id"]]
            )
        # The cache badge's numbers (`boocode.cache_shape`): per agent, summed per phase and for the run.
        cache = {
            a["id"]: usage[a["session_id"]].cache if a["session_id"] in usage else CacheShape()
            for a in everyone
        }
        by_phase: dict[str | None, CacheShape] = {}
        for a in agents:
            by_phase[a["phase"]] = by_phase.get(a["phase"], CacheShape()) + cache[a["id"]]
        for child, child_agents in nested:
            group = nested_group(child)
            by_phase[group] = sum((cache[a["id"]] for a in child_agents), by_phase.get(group, CacheShape()))
        total = sum(cache.values(), CacheShape())
        phases = phase_summary(agents, declared_phases(run))
        for child, child_agents in nested:
            phases += phase_summary(child_agents, group=nested_group(child))
        if as_json:
            keep = (
                "id",
                "name",
                "status",
                "result",
                "error",
                "failures",
                "args",
                "budget_total",
                "resume_count",
            )
            data = {k: run[k] for k in keep}
            data["logs"] = logs
            data["cache"] = total.as_json()
            data["phases"] = [
                {**p, "cache": by_phase.get(p["phase"], CacheShape()).as_json()} for p in phases
            ]
            data["agents"] = [
                {
                    k: a[k]
                    for k in (
                        "idx",
                        "label",
                        "phase",
                        "status",
                        "cached",
                        "attempts",
                        "resume_no",
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
                | {"cache": cache[a["id"]].as_json()}
                for a in agents
            ]
            data["nested"] = [
                {"id": c["id"], "name": c["name"], "status": c["status"], "agents": len(ca)}
                for c, ca in nested
            ]
            click.echo(json.dumps(data, ensure_ascii=False, default=str))
            return 0
        click.echo(
            f"run {run['id']}  {run['name']}  {run['status']}"
            + (f"  (resumed {run['resume_count']}x)" if run["resume_count"] else "")
            + (f"  error: {run['error']}" if run["error"] else "")
        )
        click.echo(total.text())
        for line in logs:
            click.echo(f"log: {line}")
        for p in phases:
            elapsed = "-" if p["elapsed_seconds"] is None else f"{p['elapsed_seconds']} s"
            click.echo(
                f"phase {p['phase'] or '(none)'}: {p['finished']}/{p['agents']} agents done, "
                f"{p['input_tokens']} in / {p['output_tokens']} out tokens, {elapsed}; "
                + by_phase.get(p["phase"], CacheShape()).text()
            )
        shown = [(a, f"[{a['phase']}] " if a["phase"] else "") for a in agents]
        shown += [(a, f"[{nested_group(child)}] ") for child, child_agents in nested for a in child_agents]
        for a, where in shown:
            status = a["status"] + (" (cached)" if a["cached"] else "")
            tries = f"  attempts {a['attempts']}" if a["attempts"] > 1 else ""
            click.echo(
                f"{a['idx']:>4} {where}{a['label']}  {status}  out {a['output_tokens'] or 0}{tries}  "
                f"{cache[a['id']].brief()}  session {a['session_id'] or '-'}"
            )
        for f in run["failures"] or []:
            click.echo(f"failure: {f['label']} failed: {f['error']}")
        if run["result"] is not None:
            click.echo("result: " + json.dumps(run["result"], ensure_ascii=False))
        return 0

    run_async(main)
