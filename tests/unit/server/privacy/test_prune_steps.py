"""The shape of retention: every class has steps, a period of 0 keeps a class forever, and
the data map's conditions pick a customer's rows by exact key (LIKE wildcards escaped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.base.settings import RetentionSettings, Settings
from server.privacy.data_map import PLACES, DataClass, Subject
from server.privacy.prune import STEPS, Pruning

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def test_every_class_of_data_has_a_step_and_a_documented_default():
    assert {step.data_class for step in STEPS} == set(DataClass)
    defaults = Settings(_env_file=None).retention
    assert all(getattr(defaults, f"{c}_days") > 0 for c in DataClass)


def test_the_cutoff_is_now_minus_the_period_and_zero_keeps_forever():
    pruning = Pruning(None, None, RetentionSettings(raw_payload_days=30, audit_days=0))  # type: ignore[arg-type]
    assert pruning.cutoff(DataClass.RAW_PAYLOAD, NOW) == NOW - timedelta(days=30)
    assert pruning.cutoff(DataClass.AUDIT, NOW) is None


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION__MEDIA_DAYS", "7")
    assert Settings(_env_file=None).retention.media_days == 7


def test_turn_keys_match_the_conversation_exactly():
    subject = Subject(keys=["bsuid:US_1%"], refs=["c_" + "0" * 20])
    assert subject.params()["turn_keys"] == ["bsuid:US\\_1\\%:%"]
    assert subject.threads == ["wa:c_" + "0" * 20]


def test_table_rules_have_a_time_column():
    assert all(place.time_column for place in PLACES if place.rules)
