"""The token never reaches a log: a real ``reward-service serve`` (access log on, as users run
it) driven on every route with the token in the query and in the header, right, wrong and
repeated; its whole output, and everything it answered, are searched for the tokens."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from reward_service.api.log_redaction import REDACTED, RedactCredentials, redact_url
from reward_service.bench.local_server import ServiceProcess
from tests.conftest import make_response

TOKEN = "right-token-0123456789abcdef"
WRONG = "wrong-token-fedcba9876543210"
REPEATED = "repeated-token-aaaabbbbcccc"


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/openrlhf/get_reward?token=abc", "/openrlhf/get_reward?token=REDACTED"),
        ("/x?a=1&TOKEN=s3&token=q&b=2", "/x?a=1&TOKEN=REDACTED&token=REDACTED&b=2"),
        ("/x?%74oken=zz", "/x?%74oken=REDACTED"),
        ("/x?tok%65n=zz;Token=y", "/x?tok%65n=REDACTED;Token=REDACTED"),
        ("/x?+token=zz", "/x?+token=REDACTED"),
        ("/x?token", "/x?token"),
        ("/x?atoken=1&tokens=2", "/x?atoken=1&tokens=2"),  # other keys are kept
        ("/score", "/score"),
    ],
)
def test_credential_values_are_cut_out_of_urls(url: str, logged: str) -> None:
    assert redact_url(url) == logged


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("/score/s3cr+et/x?y=1", "/score/REDACTED/x?y=1"),  # across path segments
        ("/%73%33cr%2Bet", "/REDACTED"),  # percent-encoded, any case of the hex
        ("/s/%73%33cr%2bet/x", "/s/REDACTED/x"),
        ("/stats?x=s3cr%2Bet&y=2", "/stats?x=REDACTED&y=2"),  # under another key
        ("/stats?t=%73%33cr+et", "/stats?t=REDACTED"),  # + as a plus
        ("/stats?s3cr%2Bet", "/stats?REDACTED"),  # a parameter with no value
        ("/stats?limit=5", "/stats?limit=5"),
    ],
)
def test_the_services_own_token_is_cut_out_wherever_it_stands(url: str, logged: str) -> None:
    assert redact_url(url, frozenset({"s3cr+et"})) == logged


def test_an_access_record_keeps_everything_else() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/openrlhf/get_reward?token=abc&x=1", "1.1", 401),
        None,
    )
    assert RedactCredentials().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "POST /openrlhf/get_reward?token=REDACTED&x=1 HTTP/1.1" 401'
    )


def _drive_every_route(url: str) -> list[str]:
    """Every route, with the token in the query (right, wrong, repeated, other spellings) and
    in the header (right, wrong); returns every body the service answered."""
    item = {"response": make_response(), "ground_truth": "12.8"}
    openrlhf = {"query": [make_response()], "prompts": [""], "labels": ["12.8"]}
    queries = [
        f"token={TOKEN}",
        f"token={WRONG}",
        f"token={TOKEN}&token={REPEATED}",
        f"TOKEN={TOKEN}",
        f"%74oken={TOKEN}",
        f"Token={WRONG}&limit=5",
    ]
    headers = [{"authorization": f"Bearer {TOKEN}"}, {"authorization": f"Bearer {WRONG}"}, {}]
    bodies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for query in queries:
            for header in headers:
                answers = [
                    client.post(f"/score?{query}", json=item, headers=header),
                    client.post(f"/openrlhf/get_reward?{query}", json=openrlhf, headers=header),
                    client.post(f"/score?{query}", content=b"{", headers=header),  # 415
                    client.post(f"/score?{query}", json={"items": []}, headers=header),  # 422
                    client.get(f"/stats?{query}", headers=header),
                    client.get(f"/stats/responses/1?{query}", headers=header),
                    client.get(f"/dashboard?{query}", headers=header),
                    client.get(f"/health?{query}", headers=header),
                    client.get(f"/metrics?{query}", headers=header),
                    client.get(f"/docs?{query}", headers=header),
                    client.get(f"/openapi.json?{query}", headers=header),
                    client.get(f"/no-such-route/{TOKEN}?{query}", headers=header),
                    client.get(f"/stats/?{query}", headers=header),  # no redirect repeats it
                    client.get(f"/stats?limit={TOKEN}", headers=header),  # a 422 echoes nothing
                    client.get(f"/record/steps/{TOKEN}", headers=header),
                    client.get(f"/%{ord(TOKEN[0]):02X}{TOKEN[1:]}?{query}", headers=header),
                ]
                bodies += [answer.text for answer in answers]
        bodies.append(client.get("/stats", headers=headers[0]).text)
        bodies.append(client.get("/metrics").text)
        for path in (f"/openrlhf/get_reward?token={TOKEN}", f"/{TOKEN}", f"/stats?x={TOKEN}"):
            bodies.append(_websocket_handshake(url, path))
    return bodies


def _websocket_handshake(url: str, path: str) -> str:
    """A WebSocket upgrade of ``path`` (the service has no WebSocket route: uvicorn refuses
    it, and logs it in its error log); returns the answer's status line and headers."""
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "MDEyMzQ1Njc4OWFiY2RlZg==",
        "sec-websocket-version": "13",
    }
    answer = httpx.get(f"{url}{path}", headers=upgrade, timeout=60)
    return f"{answer.status_code} {answer.headers} {answer.text}"


def test_no_log_line_or_answer_holds_a_token() -> None:
    service = ServiceProcess(env={"REWARD_SERVICE_API_TOKEN": TOKEN, "REWARD_SERVICE_WORKERS": "1"})
    with service:
        bodies = _drive_every_route(service.url)
    output = service.output
    for secret in (TOKEN, WRONG, REPEATED):
        assert secret not in output
        assert not [body for body in bodies if secret in body]
    # the access log is on, and says everything but the credentials
    access = re.findall(r'"(GET|POST) (\S+) HTTP/1.1" (\d{3})', output)
    assert len(access) >= 6 * 3 * 16
    assert output.count('"WebSocket ') == 3  # the handshakes are logged, their URLs redacted
    assert ("POST", "/openrlhf/get_reward?token=REDACTED", "200") in access
    assert ("POST", "/score?TOKEN=REDACTED", "200") in access  # the header's token counts
    assert ("GET", "/stats?Token=REDACTED&limit=5", "401") in access
    assert ("GET", f"/no-such-route/{REDACTED}?%74oken=REDACTED", "404") in access
    assert ("GET", "/stats/?token=REDACTED", "404") in access
