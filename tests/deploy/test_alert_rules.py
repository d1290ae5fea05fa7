"""deploy/alerts.yml: Prometheus's alerting rules for the alarms, checked and unit-tested by
promtool (Prometheus's own rule parser and evaluator), and loaded by the compose
``monitoring`` profile."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from reward_service.stats.alarms import KINDS, PANELS
from reward_service.stats.panels import panels

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "alerts.yml"
RULE_TESTS = Path(__file__).parent / "alerts_test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: .ci/setup takes it from Debian's prometheus package")
    return subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "rules", "deploy/alerts.yml"),
        ("test", "rules", str(RULE_TESTS.relative_to(ROOT))),
        ("check", "config", "deploy/prometheus.yml"),  # its rule_files name alerts.yml
    ],
    ids=["check rules", "test rules", "check config"],
)
def test_promtool_passes(args: tuple[str, ...]) -> None:
    result = _promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def _rules() -> list[dict]:
    [group] = yaml.safe_load(RULES.read_text())["groups"]
    return group["rules"]


def test_one_rule_per_kind_pointing_at_its_panel() -> None:
    # a panel's short name: its title before a colon or a parenthesis
    titles = {p.id: p.title.split(":")[0].split(" (")[0] for p in panels([], [], "tokens")}
    by_kind = {}
    for rule in _rules():
        [kind] = re.findall(r'reward_alarm\{kind="(\w+)"\}', rule["expr"])
        by_kind[kind] = rule
        panel = rule["annotations"]["panel"]
        name = panel.removesuffix(f" (/dashboard#panel-{PANELS[kind]})")
        assert name != panel and name.startswith(titles[PANELS[kind]]), (kind, panel)
        assert "severity" not in rule.get("labels", {})  # the alarm's own severity stays
    assert sorted(by_kind) == sorted(KINDS)


def test_the_monitoring_profile_loads_the_rules() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["prometheus"]["volumes"])
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    config_dir = Path(mounts["./deploy/prometheus.yml"]).parent
    assert [str(config_dir / name) for name in config["rule_files"]] == [
        mounts["./deploy/alerts.yml"]
    ]
