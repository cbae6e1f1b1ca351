"""The simulator: a fake WhatsApp Cloud API that plays Meta for local runs and tests."""

from server.simulator.fake_cloud_api import (
    FakeCloudApi,
    create_fake_cloud_api,
    serve_in_thread,
    sign_body,
)

__all__ = ["FakeCloudApi", "create_fake_cloud_api", "serve_in_thread", "sign_body"]
