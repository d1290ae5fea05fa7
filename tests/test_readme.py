"""README stays true: the settings table is generated, the commands name real entry points."""

from __future__ import annotations

import re
from pathlib import Path

from reward_service.settings import settings_table

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_settings_table_is_generated_from_the_settings_class() -> None:
    block = README.split("<!-- settings-table -->\n", 1)[1].split("<!-- /settings-table -->", 1)[0]
    assert block.strip() == settings_table()


def _command_after(marker: str) -> str:
    return README.split(f"<!-- {marker} -->\n```bash\n", 1)[1].split("\n", 1)[0]


def test_exactly_two_setup_commands() -> None:
    assert len(re.findall(r"<!-- (main|test)-command -->", README)) == 2
    assert _command_after("main-command").endswith("reward-service serve")
    assert _command_after("test-command") == "bash .ci/setup && bash .ci/test"
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci


def test_the_openrlhf_request_body_is_answered_as_shown(service_url: str) -> None:
    import httpx
    import orjson

    section = README.split("## Train with OpenRLHF", 1)[1].split("## ", 1)[0]
    body = section.split("-d '", 1)[1].split("'\n```", 1)[0]
    shown = section.split("```json\n", 1)[1].split("```", 1)[0]
    headers = {"content-type": "application/json"}
    answer = httpx.post(
        f"{service_url}/openrlhf/get_reward", content=body, headers=headers, timeout=60
    )
    assert answer.json() == orjson.loads(shown)
