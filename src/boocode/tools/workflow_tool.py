"""The `workflow` tool: write or name a workflow script and run it in the background, as Claude Code's
Workflow tool does. It returns at once with the run id (or an `error`, and nothing runs); the agent is told
in a later turn when the run has ended, and can wait for it with `subagent_result`."""

from __future__ import annotations

import json
from typing import Any

from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.subagents import task_host

_AFTER_LAUNCH = (
    "The workflow runs in the background. You will get a <task-notification> with its result in a later "
    'turn; to wait for it now, call subagent_result(id="{task}"). Finishing your own work before it ends '
    "stops the run. To change the script and run it again reusing finished agents, call workflow with "
    '{{"scriptPath": "{path}", "resumeFromRunId": "{run}"}} after editing, or an edited "script" with '
    "resumeFromRunId."
)


async def _run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    out = await task_host(ctx).launch_workflow(args)
    text = json.dumps(out, ensure_ascii=False)
    if "error" in out:
        return ToolOutput(text, is_error=True)
    guidance = _AFTER_LAUNCH.format(task=out["taskId"], path=out["scriptPath"], run=out["runId"])
    return ToolOutput(f"{text}\n\n{guidance}")


WORKFLOW = Tool(
    name="workflow",
    description=(
        "Run a workflow script (Claude Code dialect: export const meta = {name, description}, then a "
        "body using agent(), parallel(), pipeline(), phase(), log(), args) in the background. Give script "
        "(inline, first time), name (a saved workflow) or scriptPath."
    ),
    parameters={
        "type": "object",
        "properties": {
            "script": {"type": "string", "description": "The whole script, starting with export const meta."},
            "name": {"type": "string", "description": "A saved or built-in workflow's meta.name."},
            "scriptPath": {"type": "string", "description": "A script file; wins over script and name."},
            "args": {"description": "Any JSON value, given to the script as `args` (not JSON text)."},
            "resumeFromRunId": {
                "type": "string",
                "description": "Id (wf_...) of an earlier run: its finished agents return stored results.",
            },
            "title": {"type": "string", "description": "Ignored: meta.name is used."},
            "description": {"type": "string", "description": "Ignored: meta.description is used."},
        },
        "required": [],
        "additionalProperties": False,
    },
    run=_run,
)
