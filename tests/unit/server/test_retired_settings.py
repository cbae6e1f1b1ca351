"""server/startup_checks.py retired_problems: a setting an older version read is refused by
name with what replaced it, never silently ignored."""

from __future__ import annotations

import pytest

from graph.base.settings import Settings
from server import startup_checks


def test_a_retired_setting_is_named_with_its_replacement():
    problems = startup_checks.retired_problems({"REENGAGEMENT_TEMPLATE": "order_update_v1",
                                                "TEMPLATE_LANGUAGE": "en_US", "HOST": "x"})
    assert len(problems) == 2
    assert problems[0].startswith("REENGAGEMENT_TEMPLATE is no longer read")
    assert "templates.md" in problems[0] and problems[1].startswith("TEMPLATE_LANGUAGE")


def test_without_retired_settings_there_is_nothing_to_say():
    assert startup_checks.retired_problems({"TEMPLATES__FILE": "/etc/t.toml", "REENGAGEMENT_TEMPLATE": ""}) == []


def test_the_start_is_refused_while_one_is_set(monkeypatch):
    monkeypatch.setenv("REENGAGEMENT_TEMPLATE", "order_update_v1")
    with pytest.raises(startup_checks.StartupRefused, match="REENGAGEMENT_TEMPLATE"):
        startup_checks.check_startup(Settings(_env_file=None))
