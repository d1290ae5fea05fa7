"""The README's tables of what counts as a right answer say what the scorer does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reward_service.scoring._extract import extract_answer
from reward_service.scoring._format import format_failures
from reward_service.scoring._reflect import classify_verdict
from reward_service.scoring._verify import verify_answer

SECTION = (
    (Path(__file__).parents[2] / "README.md")
    .read_text()
    .split("## What counts as a right answer\n", 1)[1]
    .split("\n## ", 1)[0]
)
_CODE = re.compile(r"`([^`]+)`")


def _table(header: str) -> list[list[str]]:
    """The rows of the section's table whose header row is ``header``, as cells."""
    lines = SECTION.split(header + "\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def _alternatives(cell: str, count: int) -> list[str]:
    """A cell's `a` / `b` alternatives, or its one value repeated ``count`` times."""
    values = [value.split(" (")[0].strip() for value in cell.split(" / ")]
    return values if len(values) == count else values * count


def verify_rows() -> list[tuple[str, str, int]]:
    """(answer, label, verify) for each pair the table states: a cell of answers separated
    by commas gives them all one verdict; "x / y" cells pair up in order."""
    rows: list[tuple[str, str, int]] = []
    for answers_cell, labels_cell, verdicts_cell in _table("| answer | label | verify |"):
        answers, labels = _CODE.findall(answers_cell), _CODE.findall(labels_cell)
        verdicts = [int(value) for value in verdicts_cell.split(" / ")]
        if len(verdicts) == 1:
            rows += [(answer, label, verdicts[0]) for answer in answers for label in labels]
            continue
        count = len(verdicts)
        answers = answers * count if len(answers) == 1 else answers
        labels = labels * count if len(labels) == 1 else labels
        rows += list(zip(answers, labels, verdicts, strict=True))
    return rows


def reflection_rows() -> list[tuple[str, str | None]]:
    """(reflection, verdict) for each reflection the table states."""
    rows = []
    for reflections_cell, verdicts_cell in _table("| reflection | verdict |"):
        reflections = reflections_cell.split(" / ")
        for reflection, verdict in zip(
            reflections, _alternatives(verdicts_cell, len(reflections)), strict=True
        ):
            rows.append((reflection, None if verdict == "`null`" else verdict))
    return rows


def answer_region_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    """(response, answer, format failures) for each row of the answer-region table."""
    rows = []
    for response_cell, answer_cell, failures_cell in _table(
        "| response | answer | format failures |"
    ):
        response, answer = _CODE.findall(response_cell)[0], _CODE.findall(answer_cell)[0]
        rows.append((response, answer, tuple(_CODE.findall(failures_cell))))
    return rows


def test_the_tables_are_read() -> None:
    assert len(verify_rows()) >= 25
    assert len(reflection_rows()) >= 20
    assert len(answer_region_rows()) >= 4


@pytest.mark.parametrize(("answer", "label", "verdict"), verify_rows(), ids=str)
def test_the_verify_table(answer: str, label: str, verdict: int) -> None:
    outcome = verify_answer(answer, label)
    assert (int(outcome.equal), outcome.status) == (verdict, "ok")


@pytest.mark.parametrize(("reflection", "verdict"), reflection_rows(), ids=str)
def test_the_reflection_table(reflection: str, verdict: str | None) -> None:
    assert classify_verdict(reflection) == verdict


@pytest.mark.parametrize(("response", "answer", "failures"), answer_region_rows(), ids=str)
def test_the_answer_region_table(response: str, answer: str, failures: tuple[str, ...]) -> None:
    assert (extract_answer(response), format_failures(response)) == (answer, failures)
