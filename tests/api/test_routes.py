"""The service over real HTTP: results, shapes, weights and bad input."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reward_service.scoring import compute_score
from tests.conftest import SERVICE_SETTINGS, make_response


def test_health_reports_ready_pool(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["workers"] == SERVICE_SETTINGS.workers
    assert body["scorer_version"].startswith("reward-service")


def test_bare_item_for_curl_debugging(client: httpx.Client) -> None:
    response = client.post("/score", json={"response": make_response(), "ground_truth": "12.8"})
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [compute_score("x", make_response(), "12.8")]
    assert body["elapsed_ms"] > 0 and body["scorer_version"]


def test_batch_keeps_order_and_matches_compute_score(client: httpx.Client) -> None:
    answers = ["12.8", "12", "\\frac{64}{5}", "13", "12.8", "v = 12.8"]
    items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
    results = client.post("/score", json={"items": items}).json()["results"]
    assert [r["pred"] for r in results] == answers
    assert results == [compute_score("x", item["response"], "12.8") for item in items]


def test_request_and_item_weights(client: httpx.Client) -> None:
    items = [
        {"response": make_response(), "ground_truth": "12.8"},
        {
            "response": make_response(),
            "ground_truth": 12.8,
            "extra_info": {"reward_weights": {"gamma": 1.0}},
        },
        {"response": make_response(), "ground_truth": "12.8", "extra_info": {"reward_weights": 3}},
    ]
    body = {"items": items, "weights": {"alpha": 2.0, "beta": 0.0}}
    results = client.post("/score", json=body).json()["results"]
    assert results[0]["score"] == pytest.approx(2.2)
    assert results[1]["score"] == pytest.approx(3.0)
    assert results[2]["status"] == "error" and "invalid weights" in results[2]["error"]


BAD_REQUESTS = [
    ("malformed JSON", b'{"items": [', 400, "not valid JSON"),
    ("invalid UTF-8", b'{"response": "\xff\xfe", "ground_truth": "1"}', 400, "UTF-8"),
    (
        "NaN weight",
        b'{"items": [{"response": "a", "ground_truth": "1"}], "weights": {"alpha": NaN}}',
        400,
        "not valid JSON",
    ),
    ("not an object", b"[1, 2]", 422, "valid dictionary"),
    ("missing ground truth", b'{"response": "a"}', 422, "ground_truth"),
    ("missing response", b'{"items": [{"ground_truth": "1"}]}', 422, "response"),
    ("wrong type", b'{"items": [{"response": 5, "ground_truth": "1"}]}', 422, "response"),
    ("empty items", b'{"items": []}', 422, "at least 1"),
    ("unknown field", b'{"items": [{"response": "a", "ground_truth": "1", "gt": 2}]}', 422, "gt"),
    (
        "negative weight",
        b'{"items": [{"response": "a", "ground_truth": "1"}], "weights": {"beta": -1}}',
        422,
        "greater than or equal",
    ),
    (
        "too many items",
        b'{"items": [' + b",".join([b'{"response": "a", "ground_truth": "1"}'] * 65) + b"]}",
        413,
        "over the limit of 64",
    ),
    (
        "oversize body",
        b'{"response": "' + b"a" * 2**20 + b'", "ground_truth": "1"}',
        413,
        "over the limit",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_is_a_clear_4xx(
    client: httpx.Client, body: bytes, status: int, message: str
) -> None:
    response = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.text
    assert client.get("/health").status_code == 200


def test_metrics_count_requests_items_and_cache(client: httpx.Client) -> None:
    item = {"response": make_response("\\frac{128}{10}"), "ground_truth": "12.8"}
    client.post("/score", json={"items": [item, item]})
    client.post("/score", json={"items": [item]})
    text = client.get("/metrics").text
    for name in (
        "reward_requests_total",
        "reward_items_total",
        "reward_batch_seconds_bucket",
        "reward_item_verify_seconds_bucket",
        "reward_timeouts_total",
        "reward_worker_restarts_total",
        "reward_cache_hits_total",
    ):
        assert name in text
    hits = next(line for line in text.splitlines() if line.startswith("reward_cache_hits_total"))
    assert float(hits.split()[-1]) >= 1


def test_openapi_documents_the_request_body(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"] == "#/components/schemas/ScoreRequest"
    assert "ScoreItemIn" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


RESPONSES = st.one_of(
    st.text(max_size=200),
    st.builds(
        make_response,
        st.sampled_from(["12.8", "\\frac{64}{5}", "12", "x^2", "}{", ""]),
        st.sampled_from(["The answer is correct.", "The answer is not right.", "Hmm."]),
    ),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(responses=st.lists(RESPONSES, min_size=1, max_size=12))
def test_http_results_equal_in_process_compute_score(
    client: httpx.Client, responses: list[str]
) -> None:
    items = [{"response": response, "ground_truth": "12.8"} for response in responses]
    results = client.post("/score", json={"items": items}).json()["results"]
    assert results == [compute_score("x", response, "12.8") for response in responses]
