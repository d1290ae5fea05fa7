"""The alarms' thresholds and windows are REWARD_SERVICE_ALARM_* settings, validated, and a
service raises its alarms with them."""

from __future__ import annotations

from dataclasses import fields

import httpx
import pytest
from pydantic import ValidationError

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ALARM_PREFIX, ServiceSettings, settings_errors
from reward_service.stats.alarms import DEFAULT_ALARM_SETTINGS, AlarmSettings
from tests.stats import known_alarms


def test_every_alarm_threshold_and_window_is_a_setting_with_its_default() -> None:
    names = {name for name in ServiceSettings.model_fields if name.startswith(ALARM_PREFIX)}
    assert names == {ALARM_PREFIX + field.name for field in fields(AlarmSettings)}
    assert ServiceSettings().alarm_settings() == DEFAULT_ALARM_SETTINGS


def test_alarm_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARD_SERVICE_ALARM_FAILURE_SHARE", "0.05")
    monkeypatch.setenv("REWARD_SERVICE_ALARM_RECENT_STEPS", "4")
    alarms = ServiceSettings().alarm_settings()
    assert (alarms.failure_share, alarms.recent_steps) == (0.05, 4)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REWARD_SERVICE_ALARM_RECENT_STEPS", "0"),
        ("REWARD_SERVICE_ALARM_HOLD_FRACTION", "1.5"),
        ("REWARD_SERVICE_ALARM_COLLAPSE_SHARE", "0"),
        ("REWARD_SERVICE_ALARM_MIN_Z", "0"),
        ("REWARD_SERVICE_ALARM_FORMAT_WARMUP_STEPS", "-1"),
        ("REWARD_SERVICE_ALARM_PERSIST_STEPS", "three"),
    ],
)
def test_unsafe_alarm_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        ServiceSettings()
    [line] = settings_errors(refused.value)
    assert line.startswith(f"{name}: ")


def test_a_service_raises_its_alarms_with_its_settings() -> None:
    """The known run's scoring failures (5% of the items) are no alarm past a 10% threshold."""
    settings = ServiceSettings(workers=1, alarm_failure_share=0.1)
    with serve_in_thread(create_app(settings)) as url:
        for body in known_alarms.bodies():
            httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
        kinds = [alarm["kind"] for alarm in httpx.get(f"{url}/stats").json()["alarms"]]
    expected = [kind for kind, *_ in known_alarms.EXPECTED if kind != "scoring_failures"]
    assert kinds == expected
