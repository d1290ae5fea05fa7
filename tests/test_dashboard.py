"""The dashboard in headless Chromium against a live service that scored a few steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
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


def test_dashboard_draws_every_chart(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        for step in STEPS:
            answers = ["12.8"] * step + ["12", "13", "\\frac{64}{5}"]
            items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
            httpx.post(f"{url}/score", json={"items": items, "step": step}).raise_for_status()

        problems: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{url}/dashboard")
            every_step = f"c => c.data.labels.length === {len(STEPS)}"
            page.wait_for_function(
                "typeof Chart !== 'undefined' && Object.values(Chart.instances).length === 5"
                f" && Object.values(Chart.instances).every({every_step})",
                timeout=20_000,
            )
            charts = page.evaluate(
                "Object.values(Chart.instances).map(c => ({id: c.canvas.id,"
                " datasets: c.data.datasets.length,"
                " points: c.data.datasets.reduce((n, d) => n + d.data.length, 0),"
                " width: c.width, height: c.height}))"
            )
            blank = page.evaluate(
                "(() => { const c = document.createElement('canvas');"
                " c.width = 10; c.height = 10; return c.toDataURL().length; })()"
            )
            drawn = page.eval_on_selector_all("canvas", "cs => cs.map(c => c.toDataURL().length)")
            rows = page.locator("#latest tr").count()
            status = page.locator("#status").inner_text()
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            # the page refreshes itself: a new step appears without reloading
            items = [{"response": make_response("12.8"), "ground_truth": "12.8"}]
            httpx.post(f"{url}/score", json={"items": items, "step": 4}).raise_for_status()
            page.wait_for_function(
                "Object.values(Chart.instances).every(c => c.data.labels.length === 4)",
                timeout=20_000,
            )
            browser.close()

    assert problems == []
    assert {chart["id"] for chart in charts} == {
        "signals",
        "answers",
        "calibration",
        "format",
        "health",
    }
    assert all(chart["datasets"] >= 3 and chart["points"] >= 3 * len(STEPS) for chart in charts)
    assert all(chart["width"] > 300 and chart["height"] > 200 for chart in charts)
    assert all(length > 20 * blank for length in drawn)  # pixels were painted
    assert rows == 8 and "last step 3" in status
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000


def test_a_secured_dashboard_asks_for_the_token_once() -> None:
    from playwright.sync_api import sync_playwright

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
            page.wait_for_function(
                "document.getElementById('status').textContent.includes('last step 5')",
                timeout=20_000,
            )
            rows = page.locator("#latest tr").count()
            browser.close()
    assert rows == 1


def test_docs_render_offline(service_url: str) -> None:
    """Swagger UI comes from the package: with every request off this machine refused, the
    page still lists the API's operations."""
    from playwright.sync_api import sync_playwright

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
        browser.close()
    assert outside == []
    assert {"/score", "/health", "/stats", "/openrlhf/get_reward"} <= set(paths)
