"""One verdict per (response, label), whatever environment scores it.

The service's own install has antlr4-python3-runtime 4.13.2; the trainer's (verl pulls
hydra, which pins 4.9.*) has 4.9.3, and latex2sympy2_extended parses with a different
generated parser in each. This test scores a corpus of real answer shapes here and in the
other environment's interpreter, and requires identical results.

The other interpreter is ``$REWARD_SERVICE_PEER_PYTHON`` (``.ci/test`` sets it to the
service's environment; the test fails if it is set and missing); unset, it is whichever of
``.venv-service`` and ``.venv`` under the repository is not the running one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reward_service.scoring import MultiSignalMathReward, scorer_version
from tests.answer_corpus import all_pairs, qwen_response

ROOT = Path(__file__).parents[2]
PEER_VARIABLE = "REWARD_SERVICE_PEER_PYTHON"
REFLECTIONS = [
    case["reflection"]
    for case in json.loads((ROOT / "tests" / "data" / "reflections.json").read_text())
]
PEER_SCRIPT = """
import json, sys
from reward_service.scoring import MultiSignalMathReward, scorer_version
reward = MultiSignalMathReward()
items = json.load(sys.stdin)
results = [reward.score(response, label).to_dict() for response, label in items]
json.dump({"scorer_version": scorer_version(), "results": results}, sys.stdout)
"""


def _peer_python() -> Path:
    configured = os.environ.get(PEER_VARIABLE)
    if configured:
        path = Path(configured)
        assert path.exists(), f"{PEER_VARIABLE}={configured} does not exist"
        return path
    running = Path(sys.prefix).resolve()
    for venv in (ROOT / ".venv-service", ROOT / ".venv"):
        python = venv / "bin" / "python"
        if python.exists() and venv.resolve() != running:
            return python
    pytest.skip(f"no other environment to compare with ({PEER_VARIABLE} is unset)")


def corpus_items() -> list[tuple[str, str]]:
    """Every pair of the answer corpus as a full response, each with a reflection of the
    reflection corpus (so the verdict reading is compared as well)."""
    return [
        (qwen_response(answer, REFLECTIONS[index % len(REFLECTIONS)]), label)
        for index, (answer, label) in enumerate(all_pairs())
    ]


def _start_scoring_in(python: Path, items_file: Path) -> subprocess.Popen[str]:
    with items_file.open() as items:
        return subprocess.Popen(
            [str(python), "-c", PEER_SCRIPT],
            stdin=items,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def _results_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    output, errors = process.communicate(timeout=600)  # both pipes read together
    assert process.returncode == 0, errors[-3000:]
    return json.loads(output)


def test_the_corpus_is_a_few_hundred_pairs() -> None:
    assert len(all_pairs()) >= 300


def test_every_environment_gives_the_same_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = corpus_items()
    (tmp_path / "items.json").write_text(json.dumps(items))
    peer = _start_scoring_in(_peer_python(), tmp_path / "items.json")  # scores meanwhile
    try:
        reward = MultiSignalMathReward()
        here = [reward.score(response, label).to_dict() for response, label in items]
        there = _results_of(peer)
    finally:
        peer.kill()
    differences = [
        {"answer": response, "label": label, "here": mine, "there": theirs}
        for (response, label), mine, theirs in zip(items, here, there["results"], strict=True)
        if mine != theirs
    ]
    with capsys.disabled():
        print(f"\nhere:  {scorer_version()}\nthere: {there['scorer_version']}")
    assert differences == []
