"""The dashboard in headless Chromium against a live service that scored a few steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.panels import RIGHT_ANSWER_COLORS, WRONG_ANSWER_COLORS
from tests.conftest import make_response

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEPS = (1, 2, 3)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/setup installs it)")
    return path


PANELS = {
    "signals",
    "format",
    "answers",
    "answer_bars",
    "reflection",
    "calibration",
    "groups",
    "length",
    "sources",
    "health",
}
RIGHT_FORMS = ["12.80", "\\dfrac{64}{5}", "12.8", "v=12.8", "12.8\\text{ mph}"]
HANGS = "9^{9^{9^{9^{9}}}}"


def _open(playwright, url: str, problems: list[str]):
    browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{url}/dashboard")
    return browser, page


def _wait_for_steps(page, count: int) -> None:
    page.wait_for_function(
        f"window.dashboard.view && window.dashboard.view.steps.length === {count}"
        " && Object.keys(window.dashboard.charts).length === 10",
        timeout=30_000,
    )


def test_dashboard_draws_every_panel(tmp_path: Path) -> None:
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        for step in STEPS:
            answers = ["12.8"] * step + ["12", "13", "\\frac{64}{5}"]
            items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
            httpx.post(f"{url}/score", json={"items": items, "step": step}).raise_for_status()

        problems: list[str] = []
        with sync_playwright() as playwright:
            browser, page = _open(playwright, url, problems)
            _wait_for_steps(page, len(STEPS))
            charts = page.evaluate(
                "Object.entries(window.dashboard.charts).map(([id, c]) => ({id,"
                " datasets: c.data.datasets.length, width: c.width, height: c.height}))"
            )
            blank = page.evaluate(
                "(() => { const c = document.createElement('canvas');"
                " c.width = 10; c.height = 10; return c.toDataURL().length; })()"
            )
            drawn = page.eval_on_selector_all("canvas", "cs => cs.map(c => c.toDataURL().length)")
            rows = page.locator("#latest tr").count()
            status = page.locator("#status").inner_text()

            # the page refreshes itself: a new step appears without reloading, drawn on the
            # same canvases (charts are updated in place, never rebuilt: no flicker)
            page.evaluate("document.querySelectorAll('canvas').forEach(c => c.dataset.kept = 1)")
            items = [{"response": make_response("12.8"), "ground_truth": "12.8"}]
            httpx.post(f"{url}/score", json={"items": items, "step": 4}).raise_for_status()
            _wait_for_steps(page, 4)
            kept = page.eval_on_selector_all("canvas", "cs => cs.every(c => c.dataset.kept)")
            browser.close()

    assert problems == []
    assert {chart["id"] for chart in charts} == PANELS
    assert all(chart["datasets"] >= 1 for chart in charts)
    assert all(chart["width"] > 300 and chart["height"] > 200 for chart in charts)
    assert all(length > 20 * blank for length in drawn)  # pixels were painted
    assert rows == 12 and "3 steps (1-3)" in status
    assert kept


def _grpo_step(step: int, right: int) -> list[dict]:
    """Group "flat": four samples of one right response (one reward, no advantage); group
    "mixed": the five written forms of 12.8 (4 of them in the step's first ``right``), two
    wrong answers (13 and 13.0), one that hangs and one over the size limit."""
    flat = [make_response("12.8")] * 4
    mixed = [make_response(a) for a in RIGHT_FORMS[:right]]
    mixed += [make_response("13", "The answer is wrong."), make_response("13.0")]
    items = [
        {"response": r, "ground_truth": "12.8", "group": "flat", "response_tokens": 50}
        for r in flat
    ]
    items += [
        {"response": r, "ground_truth": "12.8", "group": "mixed", "response_tokens": 60}
        for r in mixed
    ]
    items.append({"response": make_response(HANGS), "ground_truth": "12.8", "group": "mixed"})
    items.append({"response": make_response("1", think="y" * 6000), "ground_truth": "12.8"})
    return items


def test_the_page_shows_what_a_grpo_run_needs_at_a_glance(tmp_path: Path) -> None:
    settings = ServiceSettings(workers=1, item_timeout_s=0.5, max_response_chars=5000)
    with serve_in_thread(create_app(settings)) as url:
        score = httpx.post(f"{url}/score", json={"items": _grpo_step(0, 5), "step": 0}, timeout=60)
        statuses = [r["status"] for r in score.json()["results"]]
        assert statuses.count("timeout") == 1 and statuses.count("error") == 1

        problems: list[str] = []
        with sync_playwright() as playwright:
            browser, page = _open(playwright, url, problems)
            _wait_for_steps(page, 1)
            bars = page.evaluate(
                "(() => { const c = window.dashboard.charts.answer_bars;"
                " return c.data.labels.map((label, i) => ({label,"
                " share: c.data.datasets[0].data[i],"
                " color: c.data.datasets[0].backgroundColor[i]}));"
                " })()"
            )
            kpis = {
                name: (
                    page.locator(f"#kpi-{name} .value").inner_text(),
                    page.locator(f"#kpi-{name}"),
                )
                for name in ("timeouts", "errors", "zero-advantage-groups", "distinct-answers")
            }
            shown = {name: text for name, (text, _) in kpis.items()}
            alerts = {
                name: "alert" in box.get_attribute("class") for name, (_, box) in kpis.items()
            }
            visible = all(box.is_visible() for _, box in kpis.values())
            failed_rows = page.locator("#failed tr").all_inner_texts()
            sections = page.locator("#latest td pre").all_inner_texts()
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            page.locator("#latest button").first.click()
            page.wait_for_function(
                "document.getElementById('response-text').textContent.includes('<think>')"
            )
            full_text = page.locator("#response-text").inner_text()
            page.keyboard.press("Escape")

            colours = page.evaluate(
                "Object.fromEntries(window.dashboard.charts.answers.data.datasets"
                ".map(d => [d.label, d.backgroundColor]))"
            )
            # a second step where the wrong answer leads: the colours stay
            later = [{"response": make_response("13"), "ground_truth": "12.8"}] * 9
            httpx.post(f"{url}/score", json={"items": later, "step": 1}, timeout=60)
            _wait_for_steps(page, 2)
            colours_after = page.evaluate(
                "Object.fromEntries(window.dashboard.charts.answers.data.datasets"
                ".map(d => [d.label, d.backgroundColor]))"
            )
            # zoom on step 1: the bars count that step only
            page.fill("#from", "1")
            page.dispatch_event("#from", "change")
            zoomed = page.evaluate(
                "(() => { const c = window.dashboard.charts.answer_bars;"
                " const x = window.dashboard.charts.signals.data.datasets[0].data.map(p => p.x);"
                " return {labels: c.data.labels, x}; })()"
            )
            browser.close()

    assert problems == []
    # five written forms of 12.8 are one bar, green; 13 and 13.0 one bar, red
    assert [b["label"] for b in bars if b["label"].startswith("12.8")] == ["12.8 ✓"]
    assert [b["label"] for b in bars if b["label"].startswith("13")] == ["13 ✗"]
    bar = {b["label"]: b for b in bars}
    assert bar["12.8 ✓"]["share"] == pytest.approx(9 / 13)
    assert bar["12.8 ✓"]["color"] in RIGHT_ANSWER_COLORS
    assert bar["13 ✗"]["color"] in WRONG_ANSWER_COLORS
    assert bar["(timed out)"]["share"] == pytest.approx(1 / 13)
    # timeouts and errors are counted on the page itself, in red, without hovering
    assert shown["timeouts"] == "1" and shown["errors"] == "1"
    assert alerts["timeouts"] and alerts["errors"] and visible
    assert shown["zero-advantage-groups"] == "50.0%" and shown["distinct-answers"] == "2"
    assert any("timeout" in row and "9^{9^" in row for row in failed_rows)
    assert any("error" in row and "over the limit" in row for row in failed_rows)
    assert any("\\boxed{13}" in s and "</reflection>" in s for s in sections)
    assert full_text.startswith("<think>")
    assert colours_after["12.8 ✓"] == colours["12.8 ✓"]
    assert colours_after["13 ✗"] == colours["13 ✗"]
    assert zoomed == {"labels": ["13 ✗"], "x": [1]}


def test_a_secured_dashboard_asks_for_the_token_once() -> None:
    token = "dashboard-token-0123456789"
    with serve_in_thread(create_app(ServiceSettings(workers=1, api_token=token))) as url:
        items = [{"response": make_response("12.8"), "ground_truth": "12.8"}]
        auth = {"authorization": f"Bearer {token}"}
        httpx.post(f"{url}/score", json={"items": items, "step": 5}, headers=auth)
        assert httpx.get(f"{url}/stats").status_code == 401
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"{url}/dashboard")
            page.wait_for_selector("#token-form:not([hidden])", timeout=20_000)
            assert page.locator("#latest tr").count() == 0  # nothing shown without the token
            page.fill("#token", token)
            page.click("#token-form button")
            _wait_for_steps(page, 1)
            rows = page.locator("#latest tr").count()
            browser.close()
    assert rows == 1


def test_docs_render_offline(service_url: str) -> None:
    """Swagger UI comes from the package: with every request off this machine refused, the
    page still lists the API's operations."""
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(service_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.route("**/*", only_local)
        page.goto(f"{service_url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "nodes => nodes.map(n => n.textContent)"
        )
        authorize = page.locator("button.authorize").count()
        browser.close()
    assert outside == []
    assert {"/score", "/health", "/stats", "/openrlhf/get_reward"} <= set(paths)
    assert authorize == 0  # no token set: nothing to authorize


def test_docs_offer_authorize_when_the_service_has_a_token() -> None:
    token = "docs-token-0123456789"
    with serve_in_thread(create_app(ServiceSettings(workers=1, api_token=token))) as url:
        schema = httpx.get(f"{url}/openapi.json").json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"{url}/docs")
            page.click("button.authorize", timeout=20_000)
            shown = page.locator(".auth-container h4").all_inner_texts()
            browser.close()
    assert any("API token" in s for s in shown) and any("token in the URL" in s for s in shown)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["API token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The service's REWARD_SERVICE_API_TOKEN.",
    }
    assert (
        schemes["token in the URL"]["in"] == "query"
        and schemes["token in the URL"]["name"] == "token"
    )
    paths = schema["paths"]
    assert paths["/score"]["post"]["security"] == [{"API token": []}]
    assert paths["/stats"]["get"]["security"] == [{"API token": []}]
    assert paths["/openrlhf/get_reward"]["post"]["security"] == [{"token in the URL": []}]
    assert "security" not in paths["/health"]["get"]
