"""End-to-end tests reuse the real-server fixture of the integration tests."""

from tests.integration.server.conftest import start_server  # noqa: F401
