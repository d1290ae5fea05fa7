"""Scoring routes take JSON only: a web page can post text/plain, a form or multipart to
127.0.0.1 without a CORS preflight, but not ``application/json``."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_response, stats_counts

SCORE_BODY = b'{"response": "<think>a</think> \\\\boxed{1}", "ground_truth": "1"}'
OPENRLHF_BODY = b'{"query": ["q \\\\boxed{1}"], "prompts": ["q "], "labels": ["1"]}'
ROUTES = [("/score", SCORE_BODY), ("/openrlhf/get_reward", OPENRLHF_BODY)]


@pytest.mark.parametrize(("path", "body"), ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_not_sent_as_json_is_a_415(
    service_url: str, path: str, body: bytes, content_type: str | None
) -> None:
    before = stats_counts(service_url)
    headers = {} if content_type is None else {"content-type": content_type}
    response = httpx.post(f"{service_url}{path}", content=body, headers=headers, timeout=60)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    assert stats_counts(service_url) == before  # nothing scored, nothing recorded


@pytest.mark.parametrize(("path", "body"), ROUTES)
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_or_without_a_charset_is_scored(
    service_url: str, path: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type}
    response = httpx.post(f"{service_url}{path}", content=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text


def test_json_keyword_clients_send_json(service_url: str) -> None:
    """httpx's and requests' (OpenRLHF's) ``json=`` set the content type themselves."""
    item = {"response": make_response("12.8"), "ground_truth": "12.8"}
    assert httpx.post(f"{service_url}/score", json=item, timeout=60).status_code == 200
