"""Strict inputs over real HTTP: one bad item never fails a step, labels keep their digits,
the schema means what it says, statistics are private, a side file never fails a request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings
from tests.conftest import make_response

TOKEN = "strict-inputs-token-0123"
EXACT_LABELS = [
    (b"0.00001", "0.00001"),
    (b"1e16", "10000000000000000"),
    (b"123456789012345678901234567890", "123456789012345678901234567890"),
]


@pytest.fixture(scope="module")
def small_limits() -> Iterator[str]:
    settings = ServiceSettings(workers=1, max_response_chars=5000, max_answer_chars=100)
    with serve_in_thread(create_app(settings)) as url:
        yield url


def post(url: str, body: bytes | dict, **headers: str) -> httpx.Response:
    if isinstance(body, dict):
        return httpx.post(f"{url}/score", json=body, headers=headers, timeout=60)
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{url}/score", content=body, headers=headers, timeout=60)


def test_an_over_long_item_is_its_own_error(small_limits: str) -> None:
    long = make_response("12.8", think="x" * 6000)
    items = [
        {"response": make_response("12.8"), "ground_truth": "12.8"},
        {"response": long, "ground_truth": "12.8"},
        {"response": make_response("12.8"), "ground_truth": "1" * 101},
    ]
    response = post(small_limits, {"items": items})
    assert response.status_code == 200
    first, over_long, long_label = response.json()["results"]
    assert (first["status"], first["score"]) == ("ok", pytest.approx(1.4))
    for result, what in ((over_long, "response has"), (long_label, "ground truth has")):
        assert result["status"] == "error" and what in result["error"]
        assert (result["score"], result["verify"], result["format"], result["reflect"]) == (
            0,
            0,
            0,
            0,
        )


@pytest.mark.parametrize(("number", "text"), EXACT_LABELS)
def test_numeric_labels_keep_every_digit(service_url: str, number: bytes, text: str) -> None:
    bare = b'{"response": %s, "ground_truth": %s}' % (orjson.dumps(make_response(text)), number)
    batch = b'{"items": [%s]}' % bare
    for body in (bare, batch):
        (result,) = post(service_url, body).json()["results"]
        assert (result["verify"], result["pred"]) == (1, text)


SCHEMA_VIOLATIONS = [
    ("huge weight", {"weights": {"alpha": 1e308}}, "weights", "less than or equal to 1000"),
    ("weight as text", {"weights": {"alpha": "1"}}, "alpha", "valid number"),
    ("boolean step", {"step": False}, "step", "whole number"),
    ("boolean label", {"ground_truth": True}, "ground_truth", "booleans are not labels"),
    ("both forms", {"items": [{"response": "a", "ground_truth": "1"}]}, "body", "use either"),
]


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [case[1:] for case in SCHEMA_VIOLATIONS],
    ids=[case[0] for case in SCHEMA_VIOLATIONS],
)
def test_the_schema_is_strict(service_url: str, extra: dict, where: str, message: str) -> None:
    response = post(service_url, {"response": make_response(), "ground_truth": "12.8", **extra})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert where in error["loc"] and message in error["msg"]
    assert "items" not in error["loc"] or where == "body"  # a bare item's errors name its fields


def test_a_bare_item_may_carry_a_step(service_url: str) -> None:
    body = {"response": make_response(), "ground_truth": "12.8", "step": 123456}
    assert post(service_url, body).status_code == 200
    view = httpx.get(f"{service_url}/stats").json()
    assert dict(zip(view["steps"], view["series"]["items"], strict=True))[123456] == 1


def test_statistics_need_the_token_when_one_is_set() -> None:
    with serve_in_thread(create_app(ServiceSettings(workers=1, api_token=TOKEN))) as url:
        auth = {"authorization": f"Bearer {TOKEN}"}
        assert post(url, {"response": make_response(), "ground_truth": "1"}, **auth).is_success
        assert httpx.get(f"{url}/stats").status_code == 401
        assert (
            httpx.get(f"{url}/stats", headers={"authorization": "Bearer nope"}).status_code == 401
        )
        stats = httpx.get(f"{url}/stats", headers=auth).json()
        text = f"{url}/stats/responses/{stats['latest'][0]['id']}"
        assert httpx.get(text).status_code == 401
        assert httpx.get(text, headers=auth).json()["response"] == make_response()
        # counts only: open to monitoring
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 200


def test_a_failing_stats_file_never_fails_or_double_counts(tmp_path: Path) -> None:
    stats_file = tmp_path / "stats.jsonl"
    settings = ServiceSettings(workers=1, stats_file=stats_file)
    with serve_in_thread(create_app(settings)) as url:
        stats_file.unlink()
        stats_file.mkdir()  # appending now fails with IsADirectoryError
        body = {"items": [{"response": make_response(), "ground_truth": "12.8"}], "step": 9}
        assert post(url, body).status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
        view = httpx.get(f"{url}/stats").json()
    assert 'reward_requests_total{code="200"} 1.0' in metrics
    assert "reward_stats_failures_total 1.0" in metrics
    assert (view["steps"], view["series"]["items"]) == ([9], [1])


def _labelled(number: bytes, answer: str, **fields: object) -> bytes:
    item = b'{"response": %s, "ground_truth": %s' % (orjson.dumps(make_response(answer)), number)
    extra = b"".join(b', "%s": %s' % (k.encode(), orjson.dumps(v)) for k, v in fields.items())
    return item + extra + b"}"


@pytest.mark.parametrize(
    ("number", "text"),
    [(b"1" * 400, "1" * 400), (b"1e999", "1" + "0" * 999), (b"-2.5e-3", "-0.0025")],
    ids=["400 digits", "1e999", "negative exponent"],
)
def test_numbers_past_a_double_keep_their_digits(
    service_url: str, number: bytes, text: str
) -> None:
    (result,) = post(service_url, _labelled(number, text)).json()["results"]
    assert (result["status"], result["verify"], result["pred"]) == ("ok", 1, text)


def test_a_number_too_long_to_write_out_is_a_clear_422(service_url: str) -> None:
    response = post(service_url, _labelled(b"1e999999999", "1"))
    assert response.status_code == 422
    assert "digits written out" in response.text and len(response.content) < 1000


@pytest.mark.parametrize("label", [b'"12.8"', b"12.8"], ids=["text label", "numeric label"])
def test_a_whole_step_number_means_the_same_with_any_label(service_url: str, label: bytes) -> None:
    for step, status in ((b"5.0", 200), (b"5.5", 422)):
        body = _labelled(label, "12.8")[:-1] + b', "step": ' + step + b"}"
        assert post(service_url, body).status_code == status


def test_deeply_nested_extra_info_with_a_numeric_label_is_never_a_500(service_url: str) -> None:
    deep = b'{"a": ' * 990 + b"1" + b"}" * 990
    for label in (b'"12.8"', b"12.8"):
        body = _labelled(label, "12.8")[:-1] + b', "extra_info": ' + deep + b"}"
        response = post(service_url, body)
        assert response.status_code in (200, 422), response.text
        assert response.status_code == 200 or "nested" in response.text


def test_openrlhf_refuses_nan_labels_with_a_400(service_url: str) -> None:
    body = b'{"query": ["q"], "prompts": [""], "labels": [NaN]}'
    response = httpx.post(
        f"{service_url}/openrlhf/get_reward",
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400 and "not valid JSON" in response.text


@pytest.mark.parametrize("body", [b"1e999", b"-1e999", b"[1e999]", b'"text"', b"null"])
def test_a_body_that_is_no_object_is_a_422(service_url: str, body: bytes) -> None:
    response = post(service_url, body)
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text
