"""The dashboard in headless Chromium against a live service that scored a few steps."""

from __future__ import annotations

import colorsys
import itertools
import math
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from reward_service.app import create_app
from reward_service.bench.browser import CHROMIUM_FLAGS, chromium_path
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from reward_service.stats.panels import RIGHT_ANSWER_COLORS, WRONG_ANSWER_COLORS
from reward_service.stats.report import number, percent
from tests.conftest import make_response
from tests.stats import known_alarms

STEPS = (1, 2, 3)


def _chromium() -> str:
    path = chromium_path()
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
            banner_hidden = page.locator("#alarms").is_hidden()

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
    assert banner_hidden  # no alarm, no banner
    assert kept


def _banner(page) -> dict:
    """What the alarm banner shows: each open alarm's text, style and link; the closed ones."""
    return page.evaluate(
        """() => ({
          open: [...document.querySelectorAll('#alarms a.alarm')].map(a => ({
            text: a.innerText, severity: a.className.replace('alarm ', ''),
            href: a.getAttribute('href'), background: getComputedStyle(a).backgroundColor})),
          closed: document.querySelector('#alarms details summary').innerText,
          items: [...document.querySelectorAll('#alarms details li')].map(li => li.innerText),
        })"""
    )


def test_the_banner_shows_each_open_alarm_and_links_to_its_panel() -> None:
    """A run with known alarms: the open ones on top, warnings apart from information, each
    a link that brings its panel into view; the closed one listed quietly below."""
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        for body in known_alarms.bodies():
            httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
        view = httpx.get(f"{url}/stats").json()
        problems: list[str] = []
        with sync_playwright() as playwright:
            browser, page = _open(playwright, url, problems)
            _wait_for_steps(page, known_alarms.STEPS)
            closed_hidden = page.locator("#alarms details li").first.is_hidden()
            page.click("#alarms details summary")
            banner = _banner(page)
            page.locator("#alarms a.alarm", has_text="answer collapse").click()
            page.wait_for_function("location.hash === '#panel-answers'")
            target = page.evaluate(
                "(() => { const card = document.querySelector(':target');"
                " const box = card.getBoundingClientRect();"
                " return {id: card.id, top: box.top, height: innerHeight}; })()"
            )
            browser.close()

    assert problems == []
    served = [
        (a["kind"], a["severity"], a["open"], a["since_step"], a["last_step"])
        for a in view["alarms"]
    ]
    assert served == known_alarms.EXPECTED
    collapse, saturated = view["alarms"][:2]
    assert [(a["severity"], a["href"]) for a in banner["open"]] == [
        ("warning", "#panel-answers"),
        ("info", "#panel-groups"),
    ]
    assert banner["open"][0]["text"].startswith("Warning: answer collapse since step 0.")
    assert banner["open"][0]["text"].endswith(collapse["message"])
    assert banner["open"][1]["text"].startswith("Info: no learning signal since step 0.")
    assert banner["open"][1]["text"].endswith(saturated["message"])
    assert banner["open"][0]["background"] != banner["open"][1]["background"]
    assert banner["closed"] == "1 closed alarm" and closed_hidden  # folded until opened
    assert banner["items"] == [
        f"scoring failures (warning), steps 0-2: {view['alarms'][2]['message']}"
    ]
    assert target["id"] == "panel-answers" and 0 <= target["top"] < target["height"] / 2


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


# --- colours, as drawn -------------------------------------------------------------------------

DRAWN_COLOURS = """() => {
  // Each series' colour read back from the canvas: the middle of its legend box, or of its bar.
  const pixel = (canvas, x, y) => {
    const ratio = window.devicePixelRatio || 1;
    const [r, g, b] = canvas.getContext("2d")
      .getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
    return "#" + [r, g, b].map(v => v.toString(16).padStart(2, "0")).join("");
  };
  const drawn = {};
  for (const [id, chart] of Object.entries(window.dashboard.charts)) {
    drawn[id] = {};
    if (chart.options.indexAxis === "y") {
      chart.getDatasetMeta(0).data.forEach((bar, i) => {
        drawn[id][chart.data.labels[i]] = pixel(chart.canvas, (bar.x + bar.base) / 2, bar.y);
      });
    } else {
      chart.legend.legendItems.forEach((item, i) => {
        const box = chart.legend.legendHitBoxes[i];
        drawn[id][item.text] = pixel(chart.canvas, box.left + 6, box.top + box.height / 2);
      });
    }
  }
  return drawn;
}"""
SOURCES = ("math500", None, "gsm8k", "pi1", "aime")
MIN_DELTA_E = 15
"""Two series of one panel differ at least this much (CIE76; about 2.3 is just noticeable)."""


def _lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB ``#rrggbb``."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _delta_e(a: str, b: str) -> float:
    return math.dist(_lab(a), _lab(b))


def _family(colour: str) -> str:
    """``green``, ``red`` (red to orange) or ``other``, by hue, for a saturated colour."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    hue, _, saturation = colorsys.rgb_to_hls(*rgb)
    hue *= 360
    if saturation < 0.3:
        return "other"
    if 75 <= hue <= 165:
        return "green"
    return "red" if hue >= 340 or hue <= 45 else "other"


def _score_step(url: str, step: int, answers: dict[str, int], labels: dict[str, str]) -> None:
    """``answers``: answer -> how many responses give it; ``labels``: answer -> its prompt's
    label (default 12.8). Each item gets the next data source of ``sources``."""
    items = []
    for answer, count in answers.items():
        for _ in range(count):
            source = SOURCES[len(items) % len(SOURCES)] if step == 0 else "olympiad"
            items.append(
                {
                    "response": make_response(answer),
                    "ground_truth": labels.get(answer, "12.8"),
                    "data_source": source,
                }
            )
    response = httpx.post(f"{url}/score", json={"items": items, "step": step}, timeout=60)
    response.raise_for_status()


# step 0: two prompts (labels 12.8 and 7), each right answer and eight wrong ones; every
# data source, including none; step 1: two new wrong answers lead, and a new data source
FIRST_STEP = {"12.8": 6, "7": 5, "13": 4, "14": 4, "15": 3, "16": 3, "17": 3, "8": 3, "11": 2}
SECOND_STEP = {"19": 9, "20": 6, "13": 2, "12.8": 3}
LABELS = {"7": "7", "8": "7"}


def _drawn(page, steps: int) -> dict[str, dict[str, str]]:
    _wait_for_steps(page, steps)
    return page.evaluate(DRAWN_COLOURS)


def _check_panels(drawn: dict[str, dict[str, str]], view: dict) -> None:
    """Every series drawn in the server's colour, no two of one panel alike."""
    for panel in view["panels"]:
        served = {s["label"]: s["color"] for s in panel["series"]}
        shown = drawn[panel["id"]]
        assert shown, panel["id"]
        for label, colour in shown.items():
            assert colour == served[label], (panel["id"], label)
        for (a, ca), (b, cb) in itertools.combinations(shown.items(), 2):
            assert _delta_e(ca, cb) >= MIN_DELTA_E, (panel["id"], a, ca, b, cb)


def _check_answer_families(shown: dict[str, str]) -> None:
    right = [label for label in shown if label.endswith("✓") or label == "other right"]
    wrong = [label for label in shown if label.endswith("✗") or label == "other wrong"]
    assert len(right) >= 2 and len(wrong) >= 6
    assert {label: _family(shown[label]) for label in right} == dict.fromkeys(right, "green")
    assert {label: _family(shown[label]) for label in wrong} == dict.fromkeys(wrong, "red")


def _drawn_run(url: str) -> tuple[dict, dict, dict, dict]:
    """The page's drawn colours and the view after each of the two steps."""
    with sync_playwright() as playwright:
        problems: list[str] = []
        browser, page = _open(playwright, url, problems)
        _score_step(url, 0, FIRST_STEP, LABELS)
        first = _drawn(page, 1)
        first_view = httpx.get(f"{url}/stats").json()
        _score_step(url, 1, SECOND_STEP, LABELS)
        second = _drawn(page, 2)
        second_view = httpx.get(f"{url}/stats").json()
        browser.close()
    assert problems == []
    return first, first_view, second, second_view


def test_every_series_of_a_panel_has_a_colour_of_its_own() -> None:
    """Read back from the canvases: within a panel no two series look alike, right answers
    are green and wrong ones red or orange, and a series keeps its colour as new ones appear
    (answers and data sources are dealt colours in the order they first appeared)."""
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        first, first_view, second, second_view = _drawn_run(url)

    _check_panels(first, first_view)
    _check_panels(second, second_view)
    for drawn in (first, second):
        _check_answer_families(drawn["answers"])
        _check_answer_families(drawn["answer_bars"])
    # the hash palette gave math500 and no data source one colour
    assert first["sources"]["math500"] != first["sources"]["(none)"]
    assert set(first["sources"]) == {"math500", "(none)", "gsm8k", "pi1", "aime"}
    # the second step's new answers and source get colours of their own; the rest keep theirs
    assert {"19 ✗", "20 ✗"} <= set(second["answers"]) and "olympiad" in second["sources"]
    for panel in ("answers", "sources", "signals", "calibration"):
        kept = set(first[panel]) & set(second[panel])
        assert len(kept) >= 4
        assert {label: second[panel][label] for label in kept} == {
            label: first[panel][label] for label in kept
        }


@pytest.mark.report
def test_the_report_draws_each_series_in_the_pages_colour(tmp_path: Path, monkeypatch) -> None:
    """The PNG report of the service's statistics file: every series the page drew, in the
    colour the page drew it."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from reward_service.stats.report import write_report

    stats_file = tmp_path / "stats.jsonl"
    with serve_in_thread(create_app(ServiceSettings(workers=1, stats_file=stats_file))) as url:
        _, _, page, view = _drawn_run(url)

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    write_report(stats_file, tmp_path / "report.png")
    (figure,) = figures
    by_title = {axis.get_title(loc="left"): axis for axis in figure.axes}
    for panel in view["panels"]:
        axis = by_title[panel["title"]]
        if panel["kind"] == "range_bars":
            labels = [tick.get_text() for tick in axis.get_yticklabels()]
            report = {
                label: to_hex(bar.get_facecolor())
                for label, bar in zip(labels, axis.patches, strict=True)
            }
        else:
            legend = axis.get_legend()
            report = {
                text.get_text(): to_hex(
                    handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
                )
                for text, handle in zip(legend.texts, legend.legend_handles, strict=True)
            }
        assert {label: report[label] for label in page[panel["id"]]} == page[panel["id"]], panel[
            "id"
        ]
    # as on the page, a step is a dot too: a source scored in one step only is not left out
    lines = by_title["Verify by data source"].get_lines()
    named = [line for line in lines if not line.get_label().startswith("_")]  # not the faint raw
    assert len(named) == 6 and {line.get_marker() for line in named} == {"o"}


# --- numbers, as written -----------------------------------------------------------------------


def test_the_page_and_the_report_write_a_share_and_a_number_alike() -> None:
    """One rounding rule: every share /stats can send (four decimals) and a few means come
    out the same on the page as in the report (0.8125 is 81.3% on both)."""
    shares = [i / 10_000 for i in range(10_001)]
    numbers = [0, 7, 1234, 1234.5, 0.0625, 2.0004, 12.34549, 1_234_567.25, 99.9995]
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        _score_step(url, 0, {"12.8": 13, "13": 3}, {})  # verify 13/16 = 0.8125
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(locale="en-US")
            page.goto(f"{url}/dashboard")
            _wait_for_steps(page, 1)
            on_page = page.evaluate("values => values.map(fmt.share)", shares)
            numbers_on_page = page.evaluate("values => values.map(fmt.number)", numbers)
            verify_kpi = page.locator("#kpi-verify .value").inner_text()
            browser.close()
        view = httpx.get(f"{url}/stats").json()

    from reward_service.stats.report import summary_lines

    assert percent(0.8125) == "81.3%"
    assert [percent(s) for s in shares] == on_page
    assert [number(n) for n in numbers] == numbers_on_page
    assert view["summary"]["verify"] == 0.8125
    assert verify_kpi == "81.3%" and "verify 81.3%" in summary_lines(view)[1]
