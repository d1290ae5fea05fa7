"""Errors a user understands: a body that is not UTF-8, a label of thousands of digits, a
response id that was never issued."""

from __future__ import annotations

import httpx
import pytest

from reward_service.errors import NoSuchResponse
from reward_service.scoring import MultiSignalMathReward
from reward_service.stats import ScoredItem, StatsRecorder
from tests.conftest import make_response

JSON = {"content-type": "application/json"}
NOT_UTF8 = [
    ("a lone surrogate", b'{"response": "\xed\xa0\x80", "ground_truth": "1"}'),
    ("a stray byte", b'{"response": "\xff", "ground_truth": "1"}'),
    ("UTF-16", '{"response": "a", "ground_truth": "1"}'.encode("utf-16")),
]


@pytest.mark.parametrize("path", ["/score", "/openrlhf/get_reward"])
@pytest.mark.parametrize(("case", "body"), NOT_UTF8, ids=[case for case, _ in NOT_UTF8])
def test_a_body_that_is_not_utf8_says_so(
    service_url: str, path: str, case: str, body: bytes
) -> None:
    response = httpx.post(f"{service_url}{path}", content=body, headers=JSON, timeout=60)
    assert response.status_code == 400
    assert response.json()["detail"] == "body is not UTF-8 JSON: send JSON encoded as UTF-8"


@pytest.mark.parametrize("digits", [1001, 4301, 5000, 20000])
def test_a_label_of_thousands_of_digits_is_the_label_limits_422(
    service_url: str, digits: int
) -> None:
    body = b'{"response": "a", "ground_truth": ' + b"7" * digits + b"}"
    response = httpx.post(f"{service_url}/score", content=body, headers=JSON, timeout=60)
    assert response.status_code == 422
    assert f"this number has {digits} digits written out, over the label limit" in response.text
    assert "set_int_max_str_digits" not in response.text


def test_a_step_of_thousands_of_digits_is_a_422(service_url: str) -> None:
    body = b'{"response": "a", "ground_truth": 5, "step": ' + b"7" * 5000 + b"}"
    response = httpx.post(f"{service_url}/score", content=body, headers=JSON, timeout=60)
    assert response.status_code == 422 and "step" in response.text


@pytest.mark.parametrize("row_id", ["-1", "0", "100000000000000000000000"])
def test_an_id_never_issued_is_no_such_response(service_url: str, row_id: str) -> None:
    response = httpx.get(f"{service_url}/stats/responses/{row_id}", timeout=60)
    assert response.status_code == 404
    assert response.json()["detail"] == f"no such response: {row_id}"


def test_an_issued_id_no_longer_kept_says_so() -> None:
    recorder = StatsRecorder(latest_items=1, failed_items=1)
    response = make_response()
    result = MultiSignalMathReward().score(response, "12.8")
    for step in (1, 2):
        recorder.record([ScoredItem(response, "12.8")], [result], step, 1.0)
    last = recorder.snapshot()["latest"][0]["id"]
    assert recorder.response(last) is not None
    assert recorder.response(last - 1) is None  # issued, then pushed out of the table
    with pytest.raises(NoSuchResponse):
        recorder.response(last + 1)
