"""`boocode agent`: run one agent and print its answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from boocode.cli.common import progress_line, run_async, settings_or_exit
from boocode.errors import SchemaError
from boocode.llm.images import load_image
from boocode.project import project_root

if TYPE_CHECKING:
    from boocode.agent.loop import AgentEvent, AgentResult


def parse_schema(text: str | None) -> dict[str, Any] | None:
    """`--schema` as JSON text or `@file`, checked before anything runs."""
    from boocode.agent.structured import check_schema

    if text is None:
        return None
    where = "--schema"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        where = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc.strerror or exc}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"{where}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    check_schema(schema)
    return schema  # type: ignore[no-any-return]


def _show_event(event: AgentEvent) -> None:
    data = event.data
    if event.kind == "started":
        progress_line(f"agent {event.session_id} started (model {data['model']})")
    elif event.kind == "tool_call":
        args = json.dumps(data["arguments"], ensure_ascii=False)
        progress_line(f"tool {data['name']} {args[:200]}")
    elif event.kind == "tool_result" and data["is_error"]:
        progress_line(f"tool {data['name']} returned an error")
    elif event.kind == "turn":
        usage = data["usage"]
        progress_line(f"turn {data['turn']}: {usage.input_total or 0} in, {usage.output or 0} out tokens")
    elif event.kind in ("warning", "stall"):
        progress_line(f"warning: {data['message']}")


def _print_result(result: AgentResult, as_json: bool) -> None:
    if as_json:
        usage = result.usage
        click.echo(
            json.dumps(
                {
                    "session_id": result.session_id,
                    "status": result.status,
                    "output": result.output,
                    "error": result.error,
                    "model": result.model,
                    "turns": result.turns,
                    "tool_calls": result.tool_calls,
                    "usage": {
                        "input_tokens": usage.input_total,
                        "cache_read_tokens": usage.cache_read,
                        "cache_write_tokens": usage.cache_write,
                        "output_tokens": usage.output,
                        "reasoning_tokens": usage.reasoning,
                    },
                },
                ensure_ascii=False,
            )
        )
    elif result.status == "completed":
        output = result.output
        click.echo(output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, indent=2))
    if result.status != "completed":
        click.echo(f"boocode: error: agent {result.session_id} failed: {result.error}", err=True)


@click.command()
@click.argument("prompt")
@click.option("--schema", help="JSON schema (text or @file) the answer must match; prints the object.")
@click.option("--model", help="Model to use instead of the configured one.")
@click.option("--image", "images", multiple=True, help="Image file inside the project to show the model.")
@click.option(
    "--allow", "allow", multiple=True, help="Allow a tool that is off by default (bash, web_fetch)."
)
@click.option("--project", type=click.Path(), help="Project directory the agent works in (default: here).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result and usage.")
def agent(
    prompt: str,
    schema: str | None,
    model: str | None,
    images: tuple[str, ...],
    allow: tuple[str, ...],
    project: str | None,
    as_json: bool,
) -> None:
    """Run one agent on PROMPT and print its final answer (progress goes to stderr)."""
    from boocode.agent.loop import AgentSpec, run_agent
    from boocode.runtime import open_runtime

    settings = settings_or_exit()

    async def main() -> int:
        root = project_root(project)
        spec = AgentSpec(
            prompt=prompt,
            schema=parse_schema(schema),
            model=model,
            images=[load_image(path, root) for path in images],
        )
        async with open_runtime(settings, root, allow=allow, progress=progress_line) as runtime:
            result = await run_agent(spec, runtime, _show_event)
        _print_result(result, as_json)
        return 0 if result.status == "completed" else 1

    if not prompt.strip():
        click.echo("boocode: error: the prompt is empty", err=True)
        sys.exit(2)
    run_async(main)
