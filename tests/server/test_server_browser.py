"""The web UI in real Chromium (Debian's, driven by Playwright): start a run, watch its agents appear and
finish live, open an agent's transcript and calls, check the cache badges against the stored usage, stop and
resume a run from the page. Screenshots go to test-artifacts/browser/ (or $BOOCODE_TEST_ARTIFACTS)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from server_helpers import Gate, cli_env, write_workflow

from boocode.cache_shape import CacheShape
from boocode.config import Settings
from boocode.store.store import opened_store
from boocode.store.trace import TraceReader

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BOOCODE_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts")
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
expect.set_options(timeout=60_000)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def served(
    settings: Settings, project: Path, boocode_env: dict[str, str], gate: Gate
) -> Iterator[tuple[str, Settings]]:
    """`boocode serve --port 0` in its own process, pointed at the fake LLM: (its URL, its settings)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "boocode", "serve", "--port", "0"],
        env={**boocode_env, **cli_env(settings)},
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rstrip("/")
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        yield url, settings
    finally:
        gate.release()
        process.terminate()
        process.communicate(timeout=60)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Page, name: str, request: pytest.FixtureRequest) -> None:
    folder = ARTIFACTS / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    db = request.node.callspec.params.get("db_url", "db")
    page.screenshot(path=str(folder / f"{name}-{db}.png"), full_page=True)


def stored_calls(settings: Settings, **query: str) -> list[dict[str, Any]]:
    """The inference calls as the database has them (filters as `TraceReader.calls` takes them)."""

    async def read() -> list[dict[str, Any]]:
        async with opened_store(settings.db_url) as store:
            return [dict(row) for row in await TraceReader(store).calls(**query)]

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        return pool.submit(lambda: asyncio.run(read())).result()


def assert_badge(badge: Locator, calls: list[dict[str, Any]]) -> None:
    """The badge shows the summed stored usage of `calls`: counts, read share and hover text."""
    expected = CacheShape()
    for call in calls:
        expected += CacheShape.of_call(call["input_total"], call["cache_read"], call["cache_write"])
    expect(badge.locator(".pct")).to_have_text(expected.label())
    shown = badge.evaluate("el => ({...el.dataset, title: el.title})")
    assert int(shown["read"]) == expected.cache_read
    assert int(shown["write"]) == expected.cache_write
    assert int(shown["uncached"]) == expected.uncached
    assert int(shown["input"]) == expected.input_total
    if expected.read_share is None:
        assert "n/a" in shown["title"]
        return
    assert float(shown["share"]) == pytest.approx(expected.read_share)
    for number in (expected.cache_read, expected.cache_write, expected.uncached, expected.input_total):
        assert f"{number:,}" in shown["title"]


def test_watch_a_run_live_and_read_an_agent(
    served: tuple[str, Settings], page: Page, gate: Gate, request: pytest.FixtureRequest
) -> None:
    url, settings = served
    page.goto(url + "/")
    expect(page.get_by_text("No runs yet")).to_be_visible()
    page.locator("select[name=workflow]").select_option("fan")
    page.locator("input[name=args]").fill('["hold a", "b"]')
    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"#/runs/wf_"))
    run_id = page.url.rsplit("/", 1)[-1]

    held = page.locator(".agent-row[data-label='look hold a']")
    free = page.locator(".agent-row[data-label='look b']")
    expect(free.locator(".pill")).to_have_text("completed")
    expect(held.locator(".pill")).to_have_text("running")
    expect(page.locator("#run-head .pill").first).to_have_text("running")
    expect(page.locator("#run-head .agents-count")).to_contain_text("1/2 done")
    screenshot(page, "run-live", request)

    gate.release()  # the held agent answers: the page follows without a reload
    expect(page.locator("#run-head .pill").first).to_have_text("completed")
    expect(page.locator(".agent-row")).to_have_count(3)
    for row in page.locator(".agent-row").all():
        expect(row.locator(".pill")).to_have_text("completed")
    expect(page.locator("#result")).to_contain_text('"total": "done: tool: sum up"')
    assert_badge(page.locator("#run-cache .badge"), stored_calls(settings, run_id=run_id))
    phase_badges = page.locator(".phase-row .badge")
    expect(phase_badges).to_have_count(2)
    screenshot(page, "run-done", request)

    # the runs list shows the same totals
    page.goto(url + "/#/")
    row = page.locator(f".run-row[data-run='{run_id}']")
    expect(row.locator(".agents-count")).to_have_text("3/3")
    assert_badge(row.locator(".badge"), stored_calls(settings, run_id=run_id))
    screenshot(page, "runs", request)

    page.goto(f"{url}/#/runs/{run_id}")
    page.locator(".agent-row[data-label='summer'] a").click()
    expect(page.locator("#agent-head h1")).to_contain_text("summer")
    agent_id = page.url.rsplit("/", 1)[-1]
    calls = stored_calls(settings, agent_id=agent_id)
    assert len(calls) == 2
    assert_badge(page.locator("#agent-cache .badge"), calls)
    rows = page.locator(".call-row")
    expect(rows).to_have_count(2)
    for call in calls:
        assert_badge(page.locator(f".call-row[data-call='{call['id']}'] .badge"), [call])
    transcript = page.locator("#transcript")
    expect(transcript.locator(".message.user .part.text").first).to_have_text("tool: sum up")
    call_part = transcript.locator(".part.tool-call")
    expect(call_part).to_contain_text("read_file")
    assert json.loads(call_part.locator("pre.args").inner_text()) == {"path": "notes.txt"}
    expect(transcript.locator(".part.tool-result")).to_contain_text("remember the milk")
    expect(transcript.locator(".message.assistant .part.text").last).to_have_text("done: tool: sum up")
    screenshot(page, "agent", request)


def test_images_and_cache_not_reported(
    served: tuple[str, Settings], page: Page, project: Path, request: pytest.FixtureRequest
) -> None:
    url, settings = served
    (project / "pixel.png").write_bytes(PIXEL)
    write_workflow(project, "pic", "return await agent('nocache: describe', {images: ['pixel.png']})")
    run_id = httpx.post(f"{url}/api/runs", json={"workflow": "pic"}, timeout=30).json()["run_id"]
    page.goto(f"{url}/#/runs/{run_id}")
    expect(page.locator("#run-head .pill").first).to_have_text("completed")
    expect(page.locator("#run-cache .badge .pct")).to_have_text("n/a")
    page.locator(".agent-row a").click()
    image = page.locator("#transcript figure.part.image img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1
    assert_badge(page.locator("#agent-cache .badge"), stored_calls(settings, run_id=run_id))
    screenshot(page, "agent-image", request)


def test_stop_and_resume_a_run_from_the_page(
    served: tuple[str, Settings], page: Page, gate: Gate, request: pytest.FixtureRequest
) -> None:
    url, _ = served
    run_id = httpx.post(f"{url}/api/runs", json={"workflow": "fan", "args": ["hold c"]}, timeout=30).json()[
        "run_id"
    ]
    page.goto(f"{url}/#/runs/{run_id}")
    expect(page.locator(".agent-row[data-label='look hold c'] .pill")).to_have_text("running")
    page.locator("button#stop").click()
    expect(page.locator("#run-head .pill").first).to_have_text("stopped")
    expect(page.locator(".agent-row[data-label='look hold c'] .pill")).to_have_text("interrupted")
    assert httpx.get(f"{url}/api/runs/{run_id}", timeout=30).json()["status"] == "stopped"
    screenshot(page, "run-stopped", request)

    gate.release()
    page.locator("button#resume").click()
    expect(page.locator("#run-head .pill").first).to_have_text("completed")
    expect(page.locator(".agent-row")).to_have_count(2)
    screenshot(page, "run-resumed", request)
