"""The built-in `deep-research` workflow end to end: the real search_docs tool over a local folder, scripted
searchers, readers, checkers and synthesis; votes, caps and citations asserted exactly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from catalog_helpers import as_json, prompt_of, run_json, tool_output

from boocode.testing.fake_llm import FakeError, FakeLLMServer, FakeReply, FakeRequest, FakeToolCall

QUESTION = "How long does the KS-4 battery last?"
# A substring of each checker's instructions, in the workflow's order.
CHECKS = ("Find the quote with search_docs", "Look for evidence against", "does not say more than")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "a.md").write_text("# KS-4\n\nThe KS-4 has a battery life of 18 months.\nIt samples at 250 Hz.\n")
    (docs / "b.html").write_text(
        "<p>The firmware team is led by Ines Okafor.</p><p>Kestrel employs 23 people.</p>"
    )
    (docs / "c.txt").write_text("The KS-3 battery lasted 9 months.\n")
    return root


def researcher(request: FakeRequest) -> FakeReply:
    prompt = prompt_of(request)
    if prompt.startswith(f"Question: {QUESTION}\nWrite 3 short search queries"):
        return as_json({"queries": ["KS-4 battery life", "Kestrel sensor power", "battery months"]})
    if prompt.startswith("Find documents that help answer"):
        if f'"query": "{QUESTION}"' in prompt:  # the first angle really searches
            if tool_output(request) is None:
                return FakeReply(
                    tool_calls=[FakeToolCall("search_docs", {"query": QUESTION, "path": "docs"})]
                )
            return as_json(
                {
                    "results": [
                        {"source": "docs/a.md:1-4", "relevance": "high"},
                        {"source": "docs/b.html", "relevance": "medium"},
                    ]
                }
            )
        if '"query": "KS-4 battery life"' in prompt:
            results = [
                {"source": "./docs/a.md", "relevance": "high"},
                {"source": "https://www.example.com/p/", "relevance": "low"},
            ]
            return as_json({"results": results})
        return as_json({"results": [{"source": "docs/c.txt", "relevance": "low"}]})
    if prompt.startswith(f"Question: {QUESTION}\n") and 'read_doc {"path": "docs/a.md"}' in prompt:
        claims = [
            {"claim": "The KS-4 battery lasts 18 months.", "quote": "battery life of 18 months"},
            {"claim": "The KS-4 samples at 500 Hz.", "quote": "It samples at 250 Hz."},
        ]
        return as_json({"claims": claims})
    if prompt.startswith(f"Question: {QUESTION}\n") and 'read_doc {"path": "docs/b.html"}' in prompt:
        claims = [
            {"claim": "Ines Okafor leads the firmware team.", "quote": "led by Ines Okafor"},
            {"claim": "A claim without a quote.", "quote": " "},
            {"claim": "Kestrel employs 23 people.", "quote": "Kestrel employs 23 people."},
        ]
        return as_json({"claims": claims})
    if prompt.startswith(f"Question: {QUESTION}\n") and 'read_doc {"path": "docs/c.txt"}' in prompt:
        return FakeReply(error=FakeError(500, "reader crashed"))
    if prompt.startswith("Check this claim against its source."):
        k = next(i for i, text in enumerate(CHECKS) if text in prompt)
        if "18 months" in prompt:
            verdict = "supported"
        elif "500 Hz" in prompt:
            verdict = ["refuted", "refuted", "supported"][k]
        else:  # Ines Okafor: nobody can check it, and one checker fails
            if k == 0:
                return FakeReply(error=FakeError(500, "checker crashed"))
            verdict = "cannot-tell"
        return as_json({"verdict": verdict, "reason": "checked"})
    if prompt.startswith(f"Question: {QUESTION}\nEvidence:"):
        assert "[1] The KS-4 battery lasts 18 months. (confirmed)" in prompt
        assert "[2] Ines Okafor leads the firmware team. (unverified)" in prompt and "500 Hz" not in prompt
        answer = {
            "answer": "It lasts 18 months [1], or 40 [7].",
            "cites": [1],
            "caveats": ["One document."],
            "openQuestions": ["In the cold?"],
        }
        return as_json(answer)
    raise AssertionError(f"unexpected prompt: {prompt[:80]}")


def test_an_answer_citing_only_in_cites_gets_its_markers(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    def answers_without_markers(request: FakeRequest) -> FakeReply:
        if prompt_of(request).startswith(f"Question: {QUESTION}\nEvidence:"):
            answer = {
                "answer": "It lasts 18 months.",
                "cites": [2, 1, 2, 9],
                "caveats": [],
                "openQuestions": [],
            }
            return as_json(answer)
        return researcher(request)

    server.responder = answers_without_markers
    args = {"question": QUESTION, "sources": "docs", "angles": 3, "maxSources": 3, "maxClaims": 3}
    report = run_json(env, project, "deep-research", args)["result"]["report"]
    assert report["answer"] == "It lasts 18 months. [2][1]"
    assert report["cited"] == [2, 1]
    assert "1 citation(s) to evidence that does not exist were removed from the answer." in report["caveats"]


def test_research_votes_caps_citations_and_failures(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    server.responder = researcher
    args = {"question": QUESTION, "sources": "docs", "angles": 3, "maxSources": 3, "maxClaims": 3}
    out = run_json(env, project, "deep-research", args)
    assert out["status"] == "completed"
    report = out["result"]["report"]
    searched = next(str(tool_output(r)) for r in server.requests if tool_output(r))
    assert "best passages (3 documents" in searched and "docs/a.md:" in searched
    # Each agent is offered only the tools of its role that exist and are allowed (no web here).
    roles = {
        "Write 3 short search queries": [],
        "Find documents": ["search_docs"],
        "Step 1: read the document": ["read_doc"],
        "Check this claim": ["read_doc", "search_docs"],
        "Evidence:": [],
    }
    for request in server.requests:
        [tools] = [tools for text, tools in roles.items() if text in prompt_of(request)]
        assert request.tools == tools, prompt_of(request)[:60]

    assert report["answer"] == "It lasts 18 months [1], or 40 ."
    assert report["cited"] == [1]
    assert report["confidence"] == "medium"  # one confirmed claim from one source
    evidence = [(e["n"], e["claim"], e["status"], e["votes"]) for e in report["evidence"]]
    assert evidence == [
        (1, "The KS-4 battery lasts 18 months.", "confirmed", {"supported": 3, "refuted": 0, "abstain": 0}),
        (
            2,
            "Ines Okafor leads the firmware team.",
            "unverified",
            {"supported": 0, "refuted": 0, "abstain": 3},
        ),
    ]
    assert report["evidence"][0]["source"] == "docs/a.md" and report["evidence"][0]["confidence"] == "high"
    [refuted] = report["refuted"]
    assert refuted["claim"] == "The KS-4 samples at 500 Hz." and refuted["votes"] == {
        "supported": 1,
        "refuted": 2,
        "abstain": 0,
    }

    assert [(c["what"], c["kept"], c["dropped"]) for c in report["caps"]] == [
        ("search angles", 3, 1),
        ("sources read", 3, 1),
        ("claims checked", 3, 1),
    ]
    assert "battery months" in report["caps"][0]["reason"]
    assert "https://www.example.com/p/" in report["caps"][1]["reason"]
    assert "Kestrel employs 23 people." in report["caps"][2]["reason"]
    assert [s["source"] for s in report["sources"]] == [
        "docs/a.md",
        "docs/b.html",
        "docs/c.txt",
        "https://www.example.com/p/",
    ]
    assert report["sources"][3]["kind"] == "web" and not report["sources"][3]["read"]
    assert report["failures"] == [
        {"stage": "read", "item": "docs/c.txt", "error": "no result"},
        {"stage": "verify", "item": "claim 3 checker 1", "error": "no result"},
    ]
    assert report["status"] == "partial"
    caveats = report["caveats"]
    assert "1 claim(s) without a supporting quote were left out." in caveats
    assert "1 citation(s) to evidence that does not exist were removed from the answer." in caveats
    assert "One document." in caveats and any(c.startswith("No web sources were used") for c in caveats)
    assert report["openQuestions"] == ["In the cold?"]

    markdown = out["result"]["markdown"]
    assert markdown.startswith(
        f"# {QUESTION}\n\n**Answer** (confidence: medium)\n\nIt lasts 18 months [1], or 40 ."
    )
    assert "[1] The KS-4 battery lasts 18 months. (`docs/a.md`; confirmed" in markdown
    assert "    > battery life of 18 months" in markdown
    for heading in (
        "## Caveats",
        "## Open questions",
        "## Refuted claims",
        "## Sources",
        "## Limits applied",
        "## Failures",
    ):
        assert heading in markdown


def test_one_angle_needs_no_scope_agent_and_no_evidence_is_said(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    def nothing_found(request: FakeRequest) -> FakeReply:
        assert prompt_of(request).startswith("Find documents"), prompt_of(request)
        return as_json({"results": []})

    server.responder = nothing_found
    report = run_json(env, project, "deep-research", {"question": "Why?", "angles": 1, "web": False})[
        "result"
    ]["report"]
    assert len(server.requests) == 1
    assert report["answer"] == "No supporting evidence was found in the sources searched."
    assert report["confidence"] == "low" and report["evidence"] == []
    assert (
        "Web search was not requested (web: false); only local documents were searched." in report["caveats"]
    )


def test_no_question_is_an_error_report_without_agents(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    out = run_json(env, project, "deep-research")
    report = out["result"]["report"]
    assert report["status"] == "error" and report["error"].startswith("No research question given")
    assert out["result"]["markdown"].startswith("# Research\n\n**Error:** No research question given")
    assert server.requests == []


class _FakeSearx(BaseHTTPRequestHandler):
    """A SearXNG JSON endpoint and one page, on 127.0.0.1."""

    def do_GET(self) -> None:
        if self.path.startswith("/search?"):
            url = f"http://127.0.0.1:{self.server.server_address[1]}/tides"
            body = json.dumps({"results": [{"title": "Tides", "url": url, "content": "Why tides happen"}]})
            kind = "application/json"
        else:
            body, kind = "<html><body><p>Tides are caused by the moon.</p></body></html>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def searx() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSearx)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def test_the_web_is_searched_and_read_when_configured_and_allowed(
    env: dict[str, str], project: Path, server: FakeLLMServer, searx: str
) -> None:
    def responder(request: FakeRequest) -> FakeReply:
        prompt, seen = prompt_of(request), tool_output(request)
        if prompt.startswith("Find documents"):
            assert "web_search" in request.tools
            if seen is None:
                return FakeReply(tool_calls=[FakeToolCall("web_search", {"query": "What causes tides?"})])
            url = seen.splitlines()[1]
            return as_json({"results": [{"source": url, "relevance": "high"}]})
        if prompt.startswith("Question: What causes tides?\nStep 1: read the document with web_fetch"):
            if seen is None:
                url = prompt.split('{"url": "')[1].split('"')[0]
                return FakeReply(tool_calls=[FakeToolCall("web_fetch", {"url": url})])
            assert "Tides are caused by the moon." in seen
            return as_json(
                {"claims": [{"claim": "The moon causes tides.", "quote": "Tides are caused by the moon."}]}
            )
        if prompt.startswith("Check this claim"):
            return as_json({"verdict": "supported", "reason": "the page says so"})
        return as_json({"answer": "The moon [1].", "cites": [1], "caveats": [], "openQuestions": []})

    server.responder = responder
    web_env = {**env, "BOOCODE_SEARCH_URL": searx, "BOOCODE_ALLOW_TOOLS": "web_search,web_fetch"}
    report = run_json(web_env, project, "deep-research", {"question": "What causes tides?", "angles": 1})[
        "result"
    ]["report"]
    [evidence] = report["evidence"]
    assert (
        evidence["source"] == f"{searx}/tides"
        and evidence["kind"] == "web"
        and evidence["status"] == "confirmed"
    )
    assert report["stats"]["webSources"] == 1
    assert not any(c.startswith("No web sources") for c in report["caveats"])
    assert report["answer"] == "The moon [1]." and report["confidence"] == "medium"
