"""verl and TRL are never installed together: not by an extra, CI's setup or the trainer image.

With TRL importable, verl 0.9.1's model build imports TRL's value-head model, which TRL 1.x
no longer has, so every actor build fails (the preflight catches it at run time:
test_trainer_preflight.py::test_trl_beside_verl_stops_the_run_in_one_line).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements
    }


def installed_with(extras: set[str]) -> set[str]:
    """The distributions ``pip install -e '.[extras]'`` asks for, following self-references."""
    names: set[str] = set()
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in EXTRAS[extra]:
            if requirement.startswith("reward-service["):
                todo += requirement.split("[", 1)[1].split("]", 1)[0].split(",")
        names |= _names(EXTRAS[extra])
    return names


def test_no_extra_brings_verl_and_trl_together() -> None:
    for extra in EXTRAS:
        assert not {"verl", "trl"} <= installed_with({extra}), extra
    assert "trl" not in installed_with({"trainer", "gpu"})
    assert "verl" not in installed_with({"trl"})


def test_ci_builds_them_in_separate_environments() -> None:
    setup = (ROOT / ".ci" / "setup").read_text()
    environments = re.findall(r"^make_venv (\S+) (\S+)", setup, flags=re.MULTILINE)
    assert environments, "no environments found in .ci/setup"
    for name, extras in environments:
        assert not {"verl", "trl"} <= installed_with(set(extras.split(","))), name


def test_the_trainer_image_has_no_trl() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = dockerfile.split(" AS trainer", 1)[1].split("\nFROM ", 1)[0]
    commands = "\n".join(line for line in stage.splitlines() if not line.lstrip().startswith("#"))
    installs = re.findall(r'"\.\[([^\]]+)\]"', commands)
    assert installs, "no pip install of the project in the trainer stage"
    for extras in installs:
        assert "trl" not in installed_with(set(extras.split(","))), extras
    assert not re.search(r"\btrl\b", commands, flags=re.IGNORECASE)
