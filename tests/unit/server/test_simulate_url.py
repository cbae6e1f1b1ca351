"""`switchboard simulate` without --url looks where `serve` listens with the same settings."""

from __future__ import annotations

import pytest

from graph.base.settings import get_settings
from server.cli.simulate import local_url


@pytest.mark.parametrize("host, port, expected", [
    (None, None, "http://127.0.0.1:8000"),
    ("0.0.0.0", "9001", "http://127.0.0.1:9001"),  # listening everywhere: reach it on loopback
    ("::", "9002", "http://127.0.0.1:9002"),
    ("::1", "9003", "http://[::1]:9003"),
    ("localhost", "9004", "http://localhost:9004"),
])
def test_it_follows_host_and_port(monkeypatch, tmp_path, host, port, expected):
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in (("HOST", host), ("PORT", port)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert local_url() == expected
    finally:
        get_settings.cache_clear()
