"""Media kept in an S3-compatible bucket: moto's real S3 server on a free port (not a mock of
the client). The console's link sends the agent's browser to a presigned URL that lives a
minute, and the pages' Content-Security-Policy lets media load from that endpoint only."""

from __future__ import annotations

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from graph.base.settings import MediaSettings
from server.media.store import S3MediaStore, browser_origins, new_key
from server.security_headers import headers_for
from tests.conftest import free_port
from tests.integration.server.console.conftest import console_for, ref_for
from tests.integration.server.media.helpers import JPEG, links, media_row, replies_to

pytestmark = pytest.mark.integration
BUCKET = "switchboard-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def s3_settings(endpoint: str) -> MediaSettings:
    return MediaSettings(s3_bucket=BUCKET, s3_endpoint_url=endpoint, s3_region="us-east-1",
                         s3_access_key="test", s3_secret_key="test", s3_prefix="tests/")


async def test_the_s3_store_keeps_files_and_presigns_short_links(s3_endpoint):
    store = S3MediaStore(s3_settings(s3_endpoint))
    key = new_key("jpg")
    await store.put(key, JPEG, "image/jpeg")
    assert await store.get(key) == JPEG
    url = await store.delivery(key, content_type="image/jpeg", download_name="photo.jpg", inline=True)
    assert url.startswith(f"{s3_endpoint}/{BUCKET}/tests/{key}?") and "X-Amz-Expires=60" in url
    async with httpx.AsyncClient() as http:
        fetched = await http.get(url)
        assert fetched.content == JPEG and fetched.headers["content-type"] == "image/jpeg"
        assert fetched.headers["content-disposition"].startswith('inline; filename="photo.jpg"')


async def test_photos_in_s3_reach_the_console_through_presigned_urls(start_server, phone, s3_endpoint):
    server = await start_server(media=s3_settings(s3_endpoint))
    await server.fake_cloud_api.send_customer_media(phone, "image", JPEG, "image/jpeg")
    row = await media_row(server, phone)
    assert boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test").get_object(
        Bucket=BUCKET, Key="tests/" + row["storage_key"])["Body"].read() == JPEG
    await replies_to(server, phone)

    agent = await console_for(server)
    page = await agent.http.get(f"/console/c/{await ref_for(server, phone)}")
    csp = page.headers["content-security-policy"]
    assert f"img-src 'self' data: {s3_endpoint};" in csp and f"media-src 'self' {s3_endpoint};" in csp
    assert "script-src 'self';" in csp  # nothing else loosened
    (link,) = links(page.text)
    redirect = await agent.http.get(link)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith(s3_endpoint)
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(redirect.headers["location"])).content == JPEG
    assert (await server.http.get(link)).status_code in (303, 401)  # no session, no URL
    await agent.aclose()


def test_the_policy_names_the_bucket_endpoint_only_when_s3_is_configured(settings, s3_endpoint):
    assert browser_origins(settings) == []
    configured = settings.model_copy(update={"media": s3_settings(s3_endpoint)})
    assert browser_origins(configured) == [s3_endpoint]
    default = dict(headers_for("/console"))[b"content-security-policy"].decode()
    assert "media-src" not in default and s3_endpoint not in default


async def test_erasure_and_retention_delete_objects_from_the_bucket(s3_endpoint):
    store = S3MediaStore(s3_settings(s3_endpoint))
    key = new_key("jpg")
    await store.put(key, JPEG, "image/jpeg")
    await store.delete(key)
    with pytest.raises(store.client.exceptions.NoSuchKey):
        await store.get(key)
    await store.delete(key)  # already gone: no error, so a re-run erasure finishes
