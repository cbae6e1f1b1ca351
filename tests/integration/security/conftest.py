"""The attack suite drives the same real servers as the server tests."""

from tests.integration.server.conftest import redis_server, start_server  # noqa: F401
