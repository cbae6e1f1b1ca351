"""Twilio media: fetched with the account's Basic credentials from Twilio's API host, which
redirects to where the file lives; the credentials never follow the redirect, and a media URL
on any other host gets no request at all. Real HTTP fakes, real Postgres, the local store."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from graph.base.settings import MediaSettings
from server.channels import twilio
from server.media import jobs
from server.media.fetch import MediaFetcher
from server.media.sources import TwilioSource
from server.media.store import LocalMediaStore
from server.simulator.fake_cloud_api import serve_in_thread
from tests.channels_helpers import load_fixture
from tests.integration.server.media.helpers import JPEG

pytestmark = pytest.mark.integration
SID, TOKEN = "AC" + "1" * 32, "twilio-auth-token"


class TwilioMedia:
    """Twilio's media endpoint (Basic auth, 307 to a CDN) and the CDN, on two origins."""

    def __init__(self):
        self.api_calls: list[bool] = []
        self.cdn_headers: list[dict] = []
        self.cdn_url = ""
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()

        async def media(request: Request) -> Response:
            self.api_calls.append(request.headers.get("authorization") == expected)
            if not self.api_calls[-1]:
                return Response("unauthorised", 401)
            return RedirectResponse(f"{self.cdn_url}/files/{request.path_params['mid']}", 307)

        async def cdn(request: Request) -> Response:
            self.cdn_headers.append(dict(request.headers))
            return Response(JPEG, media_type="image/jpeg")

        self.api = Starlette(routes=[Route(
            "/2010-04-01/Accounts/{sid}/Messages/{msid}/Media/{mid}", media)])
        self.cdn = Starlette(routes=[Route("/files/{mid}", cdn)])


@pytest.fixture
def twilio_media():
    fake = TwilioMedia()
    with serve_in_thread(fake.api) as api_url, serve_in_thread(fake.cdn) as cdn_url:
        fake.cdn_url = cdn_url
        yield fake, api_url


def inbound(media_url: str, phone: str):
    form = dict(load_fixture("twilio/media.form"), MediaUrl0=media_url, WaId=phone,
                From=f"whatsapp:+{phone}", MessageSid="MM" + uuid.uuid4().hex)
    (message,) = twilio.parse_form(form).messages
    return message


async def fetch(pool, tmp_path, api_url: str, message) -> dict:
    async with pool.connection() as conn:
        await jobs.record(conn, [message])
    async with httpx.AsyncClient() as http:
        fetcher = MediaFetcher(pool, LocalMediaStore(tmp_path),
                               {"twilio": TwilioSource(http, api_url, SID, TOKEN)}, MediaSettings())
        for _ in range(10):  # the table may hold other tests' jobs too, taken oldest first
            await fetcher.run_once()
            async with pool.connection() as conn:
                row = await (await conn.execute(
                    "SELECT * FROM inbound_media WHERE provider = 'twilio'"
                    " AND provider_message_id = %s", (message.provider_message_id,))).fetchone()
            if row["state"] not in ("pending", "fetching"):
                return row
    raise AssertionError("the job was never settled")


async def test_twilio_media_is_fetched_with_credentials_that_stay_on_twilio(
        start_server, twilio_media, tmp_path, phone):
    fake, api_url = twilio_media
    server = await start_server(run_workers=False)
    url = f"{api_url}/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME{uuid.uuid4().hex}"
    row = await fetch(server.parts.pool, tmp_path, api_url, inbound(url, phone))
    assert row["state"] == "stored" and row["content_type"] == "image/jpeg"
    assert (tmp_path / row["storage_key"]).read_bytes() == JPEG
    assert row["source_url"] is None  # the URL is dropped once the file is kept
    assert fake.api_calls == [True]
    assert "authorization" not in fake.cdn_headers[0]  # not sent on to the CDN


async def test_a_media_url_off_twilio_gets_no_request(start_server, twilio_media, tmp_path, phone):
    fake, api_url = twilio_media
    server = await start_server(run_workers=False)
    elsewhere = f"{fake.cdn_url}/files/steal-my-credentials"  # a signed webhook could name it
    row = await fetch(server.parts.pool, tmp_path, api_url, inbound(elsewhere, phone))
    assert row["state"] == "failed" and row["reason"] == "the media URL is not on Twilio's API host"
    assert fake.cdn_headers == [] and fake.api_calls == []
