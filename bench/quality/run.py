"""Quality of the catalog workflows: recall and precision of find-issues and review-code on a fixture
repository with planted defects, accuracy and citation correctness of deep-research on a small corpus.

These are measurements, not tests: they print figures and write them as JSON. The fixture repository
(`fixture_repo/`, defects in `defects.json`) is copied to a temporary directory and made a git repository:
the base commit has the defects marked `fixed` corrected, so the uncommitted change review-code reviews
introduces exactly those. A finding matches a defect when it names the same file and a line within
`--tolerance` lines. deep-research answers `questions.json` from `corpus/`: an answer is accurate when it
contains one of the expected strings; citations are correct when the expected document is among the
cited evidence, and quotes are verbatim when the quote's words occur in order in the cited document.

    .venv/bin/python bench/quality/run.py                      # embedded default model (qwen2.5-coder-0.5b)
    .venv/bin/python bench/quality/run.py --model qwen2.5-coder-1.5b
    .venv/bin/python bench/quality/run.py --only review-code --questions 3
    .venv/bin/python bench/quality/run.py --only deep-research --parallel 3   # questions 3 at a time
    .venv/bin/python bench/quality/run.py --provider openai --model gpt-4.1-mini   # any configured provider
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boocode
from boocode.config import Settings, load_settings
from boocode.tools.docs import document_lines
from boocode.workflow.events import RunEvent

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixture_repo"
CORPUS = HERE / "corpus"
WORKFLOWS = ("review-code", "find-issues", "deep-research")
# Workflow options that keep a run within reach of a 2-core CPU with a small local model: small areas with
# one general finder each, two rounds; one search angle (the question), few sources and claims; at most 8
# findings verified. No tools need denying: each agent of these workflows has an agent type (packaged in
# boocode.agent.builtin_types) that offers only the tools of its role, so a small model's prompt stays short.
FIND_ARGS = {"concerns": ["general"], "rounds": 2, "areaLines": 80, "maxFindings": 8}
REVIEW_ARGS = {"maxFindings": 8}
RESEARCH_ARGS = {
    "sources": "corpus",
    "web": False,
    "angles": 1,
    "maxSources": 2,
    "claimsPerSource": 2,
    "maxClaims": 3,
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=bench@boocode", "-c", "user.name=bench", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def defect_lines(repo: Path, defects: list[dict[str, Any]]) -> dict[str, int]:
    """The line of each defect in the fixture (its `match` text must occur exactly once in its file)."""
    lines = {}
    for d in defects:
        text = (repo / d["file"]).read_text().splitlines()
        hits = [n for n, line in enumerate(text, 1) if d["match"] in line]
        if len(hits) != 1:
            raise SystemExit(f"{d['id']}: {d['match']!r} occurs {len(hits)} times in {d['file']}")
        lines[d["id"]] = hits[0]
    return lines


def make_repo(target: Path, defects: list[dict[str, Any]], lines: dict[str, int]) -> None:
    """The fixture as a git repository whose uncommitted change introduces the defects that have `fixed`."""
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("ruff.toml", "__pycache__"))
    (target / "gitignore").rename(target / ".gitignore")
    originals = {}
    for d in defects:
        if "fixed" in d:
            path = target / d["file"]
            originals.setdefault(path, path.read_text())
            text = path.read_text().splitlines(keepends=True)
            text[lines[d["id"]] - 1] = d["fixed"] + "\n"
            path.write_text("".join(text))
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "base")
    for path, text in originals.items():
        path.write_text(text)


def score_findings(
    report: dict[str, Any], defects: list[dict[str, Any]], lines: dict[str, int], tolerance: int
) -> dict[str, Any]:
    """Recall and precision of the confirmed findings, and of confirmed plus unverified ones."""

    def matches(f: dict[str, Any], d: dict[str, Any]) -> bool:
        return f["file"] == d["file"] and abs(int(f["line"]) - lines[d["id"]]) <= tolerance

    out: dict[str, Any] = {}
    unverified = [f for f in report.get("unverified", []) if f.get("status") == "unverified"]
    for name, findings in (
        ("confirmed", report.get("findings", [])),
        ("reported", report.get("findings", []) + unverified),
    ):
        found = {d["id"] for d in defects if any(matches(f, d) for f in findings)}
        true = sum(1 for f in findings if any(matches(f, d) for d in defects))
        out[name] = {
            "findings": len(findings),
            "recall": round(len(found) / len(defects), 3) if defects else None,
            "precision": round(true / len(findings), 3) if findings else None,
            "defects_found": sorted(found),
        }
    return out


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def quote_in(quote: str, document: str) -> bool:
    """Whether the quote's words occur in order, contiguously, in the document (case and spacing ignored)."""
    q, doc = " ".join(words(quote)), " ".join(words(document))
    return bool(q) and q in doc


def score_research(question: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    answer = report.get("answer") or ""
    accurate = any(a.lower() in answer.lower() for a in question["answer"])
    evidence = {e["n"]: e for e in report.get("evidence", [])}
    cited = [evidence[n] for n in report.get("cited", []) if n in evidence]
    texts = {}
    verbatim = 0
    for e in report.get("evidence", []):
        name = Path(e["source"]).name
        if name not in texts:
            doc = CORPUS / name
            texts[name] = "\n".join(document_lines(doc)) if doc.is_file() else ""
        verbatim += quote_in(e["quote"], texts[name])
    return {
        "question": question["question"],
        "accurate": accurate,
        "answer": answer,
        "confidence": report.get("confidence"),
        "cited_expected_source": any(Path(e["source"]).name == question["source"] for e in cited),
        "evidence": len(evidence),
        "quotes_verbatim": verbatim,
        "status": report.get("status"),
    }


async def run(name: str, args: Any, project: Path, settings: Settings) -> tuple[dict[str, Any], float]:
    started = time.monotonic()

    def progress(event: RunEvent) -> None:
        if event.kind in ("phase", "log") or (
            event.kind == "agent_finished" and event.data.get("status") != "completed"
        ):
            print(
                f"  [{name}] {event.kind}: "
                f"{event.data.get('title') or event.data.get('message') or event.data}",
                flush=True,
            )

    outcome = await boocode.run_workflow(
        name, args=args, project=project, settings=settings, on_event=progress
    )
    elapsed = time.monotonic() - started
    if outcome.status != "completed":
        return {"status": outcome.status, "error": outcome.error, "failures": outcome.failures}, elapsed
    result = outcome.result
    report = dict(result["report"])
    report["run_failures"] = len(outcome.failures)
    report["agents"] = outcome.usage["agent_count"]
    return report, elapsed


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1 (0 questions at once would wait forever)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", default="local", help="local (default), openai or anthropic")
    parser.add_argument(
        "--model", default=None, help="local model name or GGUF path (default: the built-in default)"
    )
    parser.add_argument(
        "--only", action="append", choices=WORKFLOWS, help="run only this workflow (repeatable)"
    )
    parser.add_argument("--questions", type=int, default=None, help="ask only the first N questions")
    parser.add_argument(
        "--parallel", type=positive, default=1, help="deep-research questions asked at once (default 1)"
    )
    parser.add_argument("--tolerance", type=int, default=2, help="lines a finding may be off (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    options = parser.parse_args()

    overrides: dict[str, Any] = {"provider": options.provider}
    if options.provider == "local" and options.model:
        overrides["local_model"] = Path(options.model)
    elif options.model:
        overrides["model"] = options.model
    work = Path(tempfile.mkdtemp(prefix="boocode-quality-"))
    env = {k: v for k, v in os.environ.items() if k != "BOOCODE_DB_URL"}
    env["BOOCODE_HOME"] = str(work / "home")
    env.setdefault("BOOCODE_MODELS_DIR", str(Path("~/.boocode/models").expanduser()))
    # A small model sometimes repeats one tool call whatever it is told: 12 turns bound what that costs. On
    # a busy 2-core CPU a long prompt can take minutes before its first token: that is not a stall.
    env.setdefault("BOOCODE_MAX_TURNS", "12")
    env.setdefault("BOOCODE_STALL_SECONDS", "900")
    settings = load_settings(env, db_url=f"sqlite+aiosqlite:///{work / 'bench.db'}", **overrides)
    defects = json.loads((HERE / "defects.json").read_text())
    lines = defect_lines(FIXTURE, defects)
    chosen = options.only or list(WORKFLOWS)
    figures: dict[str, Any] = {"model": options.model or "default", "provider": options.provider}

    # review-code is scored on the defects its diff introduces, find-issues on all of them.
    for name, args, expected in (
        ("review-code", REVIEW_ARGS, [d for d in defects if "fixed" in d]),
        ("find-issues", FIND_ARGS, defects),
    ):
        if name not in chosen:
            continue
        repo = work / name
        make_repo(repo, defects, lines)
        report, elapsed = await run(name, args, repo, settings)
        figures[name] = {
            "seconds": round(elapsed),
            "status": report.get("status"),
            "agents": report.get("agents"),
            **score_findings(report, expected, lines, options.tolerance),
        }
        print(name, json.dumps(figures[name]), flush=True)
    if "deep-research" in chosen:
        project = work / "research"
        project.mkdir()
        shutil.copytree(CORPUS, project / "corpus")
        questions = json.loads((HERE / "questions.json").read_text())[: options.questions]
        started = time.monotonic()
        gate = asyncio.Semaphore(options.parallel)  # the local server has slots for a few at once

        async def ask(q: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                report, _ = await run(
                    "deep-research", {"question": q["question"], **RESEARCH_ARGS}, project, settings
                )
            scored = score_research(q, report)
            print("deep-research", json.dumps(scored), flush=True)
            return scored

        answers = await asyncio.gather(*(ask(q) for q in questions))
        evidence = sum(a["evidence"] for a in answers)
        figures["deep-research"] = {
            "seconds": round(time.monotonic() - started),
            "questions": len(answers),
            "accuracy": round(sum(a["accurate"] for a in answers) / len(answers), 3) if answers else None,
            "cited_expected_source": round(sum(a["cited_expected_source"] for a in answers) / len(answers), 3)
            if answers
            else None,
            "quotes_verbatim": round(sum(a["quotes_verbatim"] for a in answers) / evidence, 3)
            if evidence
            else None,
            "answers": answers,
        }
    summary = {k: v for k, v in figures.items() if k != "deep-research"}
    if "deep-research" in figures:
        summary["deep-research"] = {k: v for k, v in figures["deep-research"].items() if k != "answers"}
    print(json.dumps(summary, indent=2))
    if options.out:
        options.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
