"""`boocode sessions`: recent agent sessions and their transcripts."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy.engine import RowMapping

from boocode.cli.common import fail, run_async, settings_or_exit
from boocode.llm.types import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from boocode.store.store import Store, opened_store

_RESULT_PREVIEW = 2000


def _num(value: Any) -> str:
    return "-" if value is None else str(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


@click.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, help="How many sessions to list.")
@click.pass_context
def sessions(ctx: click.Context, limit: int) -> None:
    """List recent agent sessions (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            rows = await store.list_sessions(limit)
        for row in rows:
            title = " ".join(row["title"].split())[:60]
            when = f"{row['created_at']:%Y-%m-%d %H:%M}"
            click.echo(
                f"{row['id']}  {when}  {row['status']:<9}  {row['model'][:28]:<28}  "
                f"in {_num(row['input_total'])} out {_num(row['output'])}  {title}"
            )
        if not rows:
            click.echo("no sessions yet", err=True)
        return 0

    run_async(main)


def _format_part(part: Any) -> str:
    if isinstance(part, TextPart):
        return part.text
    if isinstance(part, ReasoningPart):
        return f"[reasoning] {part.text}"
    if isinstance(part, ImagePart):
        return f"[image {part.media_type}, {len(part.data)} bytes{', ' + part.source if part.source else ''}]"
    if isinstance(part, ToolCallPart):
        return f"[tool call {part.name} {part.call_id}] {json.dumps(part.arguments, ensure_ascii=False)}"
    assert isinstance(part, ToolResultPart)
    label = "tool error" if part.is_error else "tool result"
    content = part.content if len(part.content) <= _RESULT_PREVIEW else part.content[:_RESULT_PREVIEW] + " …"
    return f"[{label} {part.name} {part.call_id}] {content}"


def _print_message(message: Message) -> None:
    click.echo(f"--- {message.role}")
    for part in message.parts:
        click.echo(_format_part(part))


def _print_calls(calls: list[RowMapping]) -> None:
    click.echo("=== inference calls")
    for c in calls:
        cache = f"cache read {_num(c['cache_read'])}, write {_num(c['cache_write'])}"
        click.echo(
            f"turn {c['turn']} attempt {c['attempt']}  {c['status']:<9}  {c['model']}  "
            f"latency {_ms(c['latency_ms'])}  ttft {_ms(c['ttft_ms'])}  "
            f"input {_num(c['input_total'])} ({cache})  output {_num(c['output'])}"
            + (f"  error: {c['error']}" if c["error"] else "")
        )


async def _show(store: Store, session_id: str) -> int:
    transcript = await store.transcript(session_id)
    if transcript is None:
        fail(f"no session {session_id!r} (see `boocode sessions`)", 1)
    s = transcript.session
    click.echo(
        f"session {s['id']}  {s['status']}  {s['provider']}/{s['model']}  turns {s['turns']}  "
        f"tool calls {s['tool_calls']}"
    )
    if s["error"]:
        click.echo(f"error: {s['error']}")
    for chat, messages in transcript.chats:
        click.echo(f"=== chat {chat['id']} (attempt {chat['attempt']})")
        if chat["system_prompt"]:
            click.echo("--- system")
            click.echo(chat["system_prompt"])
        for message in messages:
            _print_message(message)
    _print_calls(await store.inference_calls(session_id))
    return 0


@sessions.command()
@click.argument("session_id")
def show(session_id: str) -> None:
    """Print the transcript of SESSION_ID: prompts, replies, tool calls and inference calls."""
    settings = settings_or_exit()

    async def main() -> int:
        async with opened_store(settings.db_url) as store:
            return await _show(store, session_id)

    run_async(main)
