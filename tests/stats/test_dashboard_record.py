"""Back to any step from the dashboard, in headless Chromium: a click on a chart (or a typed
step) lists that step's responses from the record, paged and filtered, each with its whole
text."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.record.helpers import wait_until
from tests.stats.test_dashboard import _open, _wait_for_steps

HANGS = "9^{9^{9^{9^{9}}}}"
TOKEN = "dashboard-record-token-0123"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LONG = make_response("12.8", think="Let me check each step once more. " * 400)
"""13,000 characters: more than /stats keeps of a response."""


def _step_one() -> list[dict[str, Any]]:
    """55 responses: 30 right, 20 wrong and said wrong, 3 wrong and said nothing of, one
    long one, one that hangs."""
    responses = [make_response("12.8")] * 30
    responses += [make_response("13", "The answer is wrong.")] * 20
    responses += [make_response("13", "I am not sure.")] * 3
    responses += [LONG, make_response(HANGS)]
    return [{"response": response, "ground_truth": "12.8"} for response in responses]


def _score(url: str, step: int, items: list[dict[str, Any]], token: bool = False) -> None:
    body = {"items": items, "step": step}
    headers = AUTH if token else {}
    httpx.post(f"{url}/score", json=body, headers=headers, timeout=60).raise_for_status()


def _click_step(page: Page, panel: str, step: int) -> None:
    """A click on ``panel``'s chart where ``step`` is drawn."""
    page.locator(f"canvas#{panel}").scroll_into_view_if_needed()
    x, y = page.evaluate(
        f"""(() => {{ const chart = window.dashboard.charts.{panel};
        const area = chart.chartArea;
        return [chart.scales.x.getPixelForValue({step}), (area.top + area.bottom) / 2]; }})()"""
    )
    box = page.locator(f"canvas#{panel}").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def _rows(page: Page, count: int) -> list[list[str]]:
    """The listed rows' cells, once there are ``count`` of them."""
    page.wait_for_function(
        f"document.querySelectorAll('#record-rows tr').length === {count}", timeout=20_000
    )
    return [row.locator("td").all_inner_texts() for row in page.locator("#record-rows tr").all()]


def _shown(page: Page, text: str) -> None:
    page.wait_for_function(
        "text => document.getElementById('record-message').textContent.includes(text)",
        arg=text,
        timeout=20_000,
    )


def test_a_click_on_a_chart_lists_that_steps_responses_from_the_record(tmp_path) -> None:
    """With a token, as the record holds model outputs: the page sends the one it asked for."""
    settings = ServiceSettings(
        workers=1, item_timeout_s=0.5, api_token=TOKEN, record_dir=tmp_path / "record"
    )
    with serve_in_thread(create_app(settings)) as url:
        small = [{"response": make_response(a), "ground_truth": "12.8"} for a in ("12.8", "7")]
        for step, items in ((0, small), (1, _step_one()), (2, small * 2)):
            _score(url, step, items, token=True)
        held = f"{url}/record/steps"
        wait_until(lambda: httpx.get(held, headers=AUTH).json()["steps"] == [0, 1, 2])
        assert httpx.get(f"{url}/record/steps/1").status_code == 401

        problems: list[str] = []
        with sync_playwright() as playwright:
            browser, page = _open(playwright, url, problems)
            page.wait_for_selector("#token-form:not([hidden])", timeout=20_000)
            page.fill("#token", TOKEN)
            page.click("#token-form button")
            _wait_for_steps(page, 3)
            _click_step(page, "signals", 1)
            first_page = _rows(page, 50)
            _shown(page, "step 1: 55 responses")
            step_field = page.input_value("#record-step")
            place = page.inner_text("#record-page")
            page.click("#record-next")
            second_page = _rows(page, 5)

            page.select_option("#record-verdict", "wrong")
            said_wrong = _rows(page, 20)
            answers = page.locator("#record-answer option").all_inner_texts()
            page.select_option("#record-verdict", "")
            page.select_option("#record-answer", "13")
            wrong = _rows(page, 23)
            page.select_option("#record-answer", "")
            page.select_option("#record-status", "timeout")
            timed_out = _rows(page, 1)
            page.select_option("#record-status", "")

            page.click("#record-next")  # the long response is item 53, on the second page
            long_row = page.locator("#record-rows tr").filter(has_text=f"{len(LONG)} chars")
            long_row.get_by_role("button", name="full text").click()
            page.wait_for_function(
                "document.getElementById('response-text').textContent.length > 12000"
            )
            full_text = page.locator("#response-text").text_content()
            page.keyboard.press("Escape")

            page.fill("#record-step", "2")
            page.press("#record-step", "Enter")
            typed = _rows(page, 4)
            _click_step(page, "health", 0)  # any chart over steps
            clicked_again = _rows(page, 2)
            browser.close()

    assert [p for p in problems if "401" not in p] == []  # the first /stats asked the token
    assert step_field == "1" and place == "1-50 of 55"
    assert [row[0] for row in first_page + second_page] == [str(i) for i in range(55)]
    assert first_page[0][5:9] == ["12.8", "12.8", "correct", "ok"]
    assert {tuple(row[5:9]) for row in said_wrong} == {("13", "12.8", "wrong", "ok")}
    assert {"12.8 ✓ (31)", "13 ✗ (23)", "(timed out) (1)"} <= set(answers)
    assert {row[5] for row in wrong} == {"13"} and len(wrong) == 23
    assert timed_out[0][5] == HANGS and timed_out[0][8] == "timeout"
    assert full_text == LONG
    assert len(typed) == 4 and [row[5] for row in clicked_again] == ["12.8", "7"]


def test_the_page_says_when_the_record_is_off() -> None:
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        _score(url, 3, [{"response": make_response(), "ground_truth": "12.8"}])
        problems: list[str] = []
        with sync_playwright() as playwright:
            browser, page = _open(playwright, url, problems)
            _wait_for_steps(page, 1)
            _click_step(page, "signals", 3)
            _shown(page, "the record is off: set REWARD_SERVICE_RECORD_DIR")
            rows = page.locator("#record-rows tr").count()
            browser.close()
    assert rows == 0
    assert [p for p in problems if "404" not in p] == []  # the browser logs the 404 itself
