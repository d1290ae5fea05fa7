"""README stays true: the settings table is generated, the commands name real entry points,
the recipes run."""

from __future__ import annotations

import re
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

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


def test_the_records_reading_recipes_run_as_written(tmp_path: Path) -> None:
    """The DuckDB one-liner and the Python recipes of the record's section, on a record
    that holds a step past 2^31 (the service takes steps up to 10^12)."""
    import duckdb

    from reward_service.record import RecordWriter
    from tests.record.helpers import batch

    section = README.split("## Keep every scored item: the record", 1)[1].split("\n## ", 1)[0]
    root = tmp_path / "record"
    batches = {412: batch(40, seed=1), 413: batch(24, seed=2), 2**31 + 5: batch(8, seed=3)}
    with RecordWriter(root, "replica") as writer:
        for step, scored in batches.items():
            writer.append(step, scored)

    sql = section.split('duckdb -c "', 1)[1].split('"\n', 1)[0]
    rows = duckdb.sql(sql.replace("/data/record", str(root))).fetchall()
    expected = [
        (step, mean(r.verify for r in b.results), mean(r.score for r in b.results), len(b.results))
        for step, b in batches.items()
    ]
    assert rows == [pytest.approx(row) for row in expected]

    recipe = section.split("```python\n", 1)[1].split("```", 1)[0]
    names: dict[str, Any] = {}
    exec(recipe.replace("/data/record", str(root)), names)
    responses = [item.response for item in batches[412].items]
    for reader in ("pyarrow", "pandas", "polars"):
        step = names[f"with_{reader}"]
        assert list(step["response"]) == responses, reader
        assert set(step["step"]) == {412}, reader
