"""``/record``: a step's responses from the record, paged and filtered as the dashboard asks
for them, each one's whole text, behind the token like ``/stats``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response
from tests.record.helpers import wait_until

TOKEN = "record-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
HANGS = "9^{9^{9^{9^{9}}}}"
LONG_THINKING = "Let me work it out. " * 600  # 12,000 characters: past what /stats keeps
STEP = 4


def _step_items() -> list[dict[str, Any]]:
    """60 responses: right answers in three forms, wrong ones said wrong or said nothing of,
    two long ones, one that hangs and one over the size limit."""
    answers = [("12.8", "The answer is correct.")] * 10
    answers += [("12.80", "The answer is correct."), ("\\frac{64}{5}", "It is right.")] * 10
    answers += [("13", "The answer is wrong.")] * 20 + [("13", "I am not sure.")] * 6
    responses = [make_response(answer, said) for answer, said in answers]
    responses += [make_response("12.8", think=LONG_THINKING)] * 2
    responses += [make_response(HANGS), make_response("1", think="y" * 25_000)]
    return [
        {"response": r, "ground_truth": "12.8", "group": f"g{i // 8}"}
        for i, r in enumerate(responses)
    ]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A service with the record on and a token: its base URL and step 4's results."""
    settings = ServiceSettings(
        workers=1,
        item_timeout_s=0.5,
        max_response_chars=20_000,
        api_token=TOKEN,
        record_dir=tmp_path_factory.mktemp("record"),
    )
    with serve_in_thread(create_app(settings)) as url:
        body = {"items": _step_items(), "step": STEP}
        answer = httpx.post(f"{url}/score", json=body, headers=AUTH, timeout=60)
        answer.raise_for_status()
        item = {"response": make_response(), "ground_truth": "12.8"}
        httpx.post(f"{url}/score", json={**item, "step": 5}, headers=AUTH).raise_for_status()
        wait_until(lambda: _get(url, "/record/steps").json()["steps"] == [STEP, 5])
        yield url, answer.json()["results"]


def _get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, headers=AUTH, timeout=60)


def _page(url: str, **params: Any) -> dict[str, Any]:
    answer = _get(url, f"/record/steps/{STEP}", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_step_is_listed_in_pages_in_the_order_it_was_answered(scored) -> None:
    url, results = scored
    first, second = _page(url), _page(url, offset=50, limit=50)
    assert (first["items"], first["matching"], len(first["rows"])) == (60, 60, 50)
    assert len(second["rows"]) == 10
    rows = first["rows"] + second["rows"]
    assert [row["item"] for row in rows] == list(range(60))
    sent = _step_items()
    for row, item, result in zip(rows, sent, results, strict=True):
        assert row["step"] == STEP and row["group"] == item["group"]
        for name in ("score", "verify", "format", "reflect", "verdict", "status"):
            assert row[name] == result[name], name
    assert rows[0]["answer_section"].startswith("So the velocity is \\boxed{12.8}")
    # a page holds no response text: its size does not grow with what the model wrote
    assert max(len(json.dumps(row)) for row in rows) < 2000
    assert rows[56]["chars"] > 12_000


def test_a_step_lists_its_answers_as_the_statistics_count_them(scored) -> None:
    url, _ = scored
    answers = {(a["answer"], a["right"]): a["items"] for a in _page(url)["answers"]}
    assert answers == {
        ("12.8", True): 32,
        ("13", False): 26,
        ("(timed out)", False): 1,
        ("(error)", False): 1,
    }


@pytest.mark.parametrize(
    "filters",
    [
        {"answer": "12.8"},
        {"answer": "13", "verdict": "wrong"},
        {"verdict": "none"},
        {"verdict": "correct", "status": "ok"},
        {"status": "timeout"},
        {"status": "error"},
        {"answer": "14"},
    ],
)
def test_filters_choose_by_answer_verdict_and_status(scored, filters: dict[str, str]) -> None:
    url, results = scored
    keys = [_key(result) for result in results]

    def wanted(key: str, result: dict[str, Any]) -> bool:
        return (
            filters.get("answer", key) == key
            and filters.get("verdict", result["verdict"] or "none") == (result["verdict"] or "none")
            and filters.get("status", result["status"]) == result["status"]
        )

    expected = [i for i, (key, r) in enumerate(zip(keys, results, strict=True)) if wanted(key, r)]
    page = _page(url, limit=200, **filters)
    assert page["matching"] == len(expected) and page["items"] == 60
    assert [row["item"] for row in page["rows"]] == expected


def _key(result: dict[str, Any]) -> str:
    """The answer key of one of this step's results (its label is 12.8)."""
    if result["status"] != "ok":
        return {"timeout": "(timed out)", "error": "(error)"}[result["status"]]
    return "12.8" if result["verify"] else result["pred"]


def test_an_item_comes_with_its_whole_text(scored) -> None:
    url, _ = scored
    rows = _page(url, status="error")["rows"] + _page(url, offset=56, limit=1)["rows"]
    for row, sent in zip(rows, (_step_items()[59], _step_items()[56]), strict=True):
        answer = _get(url, f"/record/steps/{STEP}/items/{row['batch']}/{row['item']}")
        assert answer.status_code == 200
        assert answer.json()["response"] == sent["response"]
    assert "over the limit" in rows[0]["error"]


@pytest.mark.parametrize(
    ("path", "params", "status", "detail"),
    [
        ("/record/steps/99", {}, 404, "step 99 is not in the record (it holds steps 4-5)"),
        ("/record/steps/4/items/{batch}/999", {}, 404, "no item {batch}/999 in step 4"),
        ("/record/steps/4/items/not-a-batch/0", {}, 422, "String should match pattern"),
        ("/record/steps/4", {"verdict": "maybe"}, 422, "'correct', 'wrong' or 'none'"),
        ("/record/steps/4", {"status": "done"}, 422, "'ok', 'timeout' or 'error'"),
        ("/record/steps/4", {"limit": 201}, 422, "less than or equal to 200"),
        ("/record/steps/-1", {}, 422, "greater than or equal to 0"),
        ("/record/steps/4/items/{batch}/9223372036854775808", {}, 422, "less than or equal to"),
        ("/record/steps/4/items/{batch}/2147483648", {}, 422, "less than or equal to"),
        ("/record/steps/4/items/{batch}/-1", {}, 422, "greater than or equal to 0"),
        ("/record/steps/1000000000001", {}, 422, "less than or equal to"),
    ],
)
def test_what_is_not_there_or_not_valid_is_a_clear_4xx(
    scored, path: str, params: dict[str, Any], status: int, detail: str
) -> None:
    url, _ = scored
    batch = _page(url, limit=1)["rows"][0]["batch"]
    answer = _get(url, path.replace("{batch}", batch), **params)
    assert answer.status_code == status
    assert detail.replace("{batch}", batch) in answer.text


@pytest.mark.parametrize(
    "path", ["/record/steps", "/record/steps/4", "/record/steps/4/items/a-0/0"]
)
def test_the_record_needs_the_token(scored, path: str) -> None:
    url, _ = scored
    assert httpx.get(f"{url}{path}").status_code == 401
    wrong = httpx.get(f"{url}{path}", headers={"authorization": "Bearer wrong-token-0123456789"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
