"""Prefix stagger and the provider's prompt cache: an 8-agent fan-out whose agents share a long system prompt,
against the embedded llama.cpp server (real model, CPU), with and without prefix stagger.

For each mode it reports the cache-read share of the run's input tokens, summed over the run's inference calls
exactly as the trace viewer's run badge shows it, and the run's wall time. Each mode gets a fresh llama.cpp
server and its own system prompt, so neither inherits the other's cache.

    .venv/bin/python bench/cache_stagger.py [--agents 8] [--rules 60] [--model qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from boocode.api import run_workflow
from boocode.config import load_settings
from boocode.llm.local.server import stop_local_servers
from boocode.store.store import opened_store
from boocode.store.trace import TraceReader

SCRIPT = """export const meta = {name: 'cache-stagger', description: 'bench: agents sharing a system prompt'}
const verdict = {type: 'string', enum: ['ok', 'fix']}
const schema = {type: 'object', properties: {verdict}, required: ['verdict']}
const lines = ['x = 1', 'def f(): pass', 'import os', 'print(x)', 'y=2', 'class A: pass', 'f()', 'del x']
const ask = (line, i) => () => agent(
  'Line ' + i + ': `' + line + '`. Does it follow the guide?',
  {agentType: 'style-reviewer', schema, label: 'line ' + i},
)
return await parallel(lines.slice(0, args.agents).map(ask))
"""

TOPICS = [
    "naming",
    "imports",
    "spacing",
    "comments",
    "errors",
    "tests",
    "types",
    "docstrings",
    "logging",
    "I/O",
]


def style_guide(rules: int, nonce: str) -> str:
    """A long, deterministic system prompt (about 25 tokens a rule)."""
    lines = [f"You review one line of Python against house style guide {nonce}. Rules:"]
    for i in range(rules):
        topic = TOPICS[i % len(TOPICS)]
        lines.append(
            f"{i + 1}. On {topic}: prefer the explicit form, keep rule {i + 1} consistent with rule "
            f"{(i * 7) % rules + 1}, and never mix styles within one module."
        )
    lines.append("Answer with the JSON verdict only.")
    return "\n".join(lines)


async def one_mode(
    project: Path, home: Path, stagger_ms: int, agents: int, rules: int, model: str
) -> dict[str, object]:
    agent_file = project / ".boocode" / "agents" / "style-reviewer.md"
    agent_file.parent.mkdir(parents=True, exist_ok=True)
    front = "---\nname: style-reviewer\ndescription: reviews one line\ntools: []\n---\n"
    agent_file.write_text(front + style_guide(rules, f"S{stagger_ms}"))
    settings = load_settings(
        env={
            "BOOCODE_HOME": str(home),
            "BOOCODE_MODELS_DIR": os.environ.get("BOOCODE_MODELS_DIR")
            or str(Path("~/.boocode/models").expanduser()),
            "BOOCODE_PROVIDER": "local",
            "BOOCODE_MODEL": model,
        },
        prefix_stagger_ms=stagger_ms,
        max_concurrent_agents=agents,
        request_timeout=600.0,
    )
    started = time.monotonic()
    outcome = await run_workflow(script=SCRIPT, args={"agents": agents}, project=project, settings=settings)
    wall = time.monotonic() - started
    async with opened_store(settings.db_url) as store:
        run = await TraceReader(store).run(outcome.run_id)
    assert run is not None
    await stop_local_servers()
    cache = run.usage.cache
    return {
        "prefix_stagger_ms": stagger_ms,
        "status": outcome.status,
        "agents": run.agents_total,
        "calls": cache.calls,
        "input_tokens": cache.input_total,
        "cache_read": cache.cache_read,
        "cache_write": cache.cache_write,
        "uncached": cache.uncached,
        "unreported_input": cache.unreported_input,
        "read_share": cache.label(),
        "wall_seconds": round(wall, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--rules", type=int, default=60, help="rules in the shared system prompt")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for stagger_ms in (0, 120_000):  # off, then on (held up to 2 minutes for the first to stream)
            project, home = Path(tmp) / f"project{stagger_ms}", Path(tmp) / f"home{stagger_ms}"
            project.mkdir()
            results.append(await one_mode(project, home, stagger_ms, args.agents, args.rules, args.model))
            print(json.dumps(results[-1]), flush=True)
    head = ("prefix stagger", "read share", "read", "write", "uncached", "input", "wall")
    print("\n{:<16}{:>11}{:>8}{:>7}{:>9}{:>8}{:>9}".format(*head))
    for r in results:
        mode = "on" if r["prefix_stagger_ms"] else "off"
        print(
            f"{mode:<16}{r['read_share']:>11}{r['cache_read']:>8}{r['cache_write']:>7}{r['uncached']:>9}"
            f"{r['input_tokens']:>8}{r['wall_seconds']:>8}s"
        )


if __name__ == "__main__":
    asyncio.run(main())
