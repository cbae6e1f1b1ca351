"""Customers' files through the whole path on real services: a signed Meta webhook, the media
fetched from the fake Cloud API (Bearer-checked, as Meta's) within seconds, checked, kept in
the local store, answered plainly by the bot, and shown to agents through signed links."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from graph.base.settings import MediaSettings
from nodes import prompts
from tests.integration.server.conftest import first_contact
from tests.integration.server.console.conftest import console_for, ref_for
from tests.integration.server.media.helpers import JPEG, PDF, links, media_row, replies_to

pytestmark = pytest.mark.integration


async def test_a_photo_is_kept_shown_to_agents_and_answered_plainly(start_server, phone, settings):
    server = await start_server()
    fake = server.fake_cloud_api
    await fake.send_customer_media(phone, "image", JPEG, "image/jpeg")
    row = await media_row(server, phone, within_s=5)  # fetched within seconds of the webhook
    assert (row["content_type"], row["size_bytes"]) == ("image/jpeg", len(JPEG))
    assert row["sha256"] == hashlib.sha256(JPEG).hexdigest() and row["attempts"] == 1
    assert (Path(settings.data_dir) / "media" / row["storage_key"]).read_bytes() == JPEG
    calls = [r for r in fake.media.requests if r["media_id"] == row["provider_media_id"]]
    assert [c["kind"] for c in calls] == ["metadata", "download"] and all(c["authorised"] for c in calls)
    assert await replies_to(server, phone) == [first_contact(prompts.MEDIA_UNREAD.format(what="photos"))]

    agent = await console_for(server)
    page = await agent.http.get(f"/console/c/{await ref_for(server, phone)}")
    (link,) = links(page.text)
    assert f'<img src="{link.replace("&", "&amp;")}"' in page.text
    served = await agent.http.get(link)
    assert served.status_code == 200 and served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["content-disposition"].startswith("inline")
    assert served.headers["x-content-type-options"] == "nosniff"

    # Without a session, with another agent's session, or altered: no file.
    anonymous = await server.http.get(link)
    assert anonymous.status_code in (303, 401) and anonymous.content != JPEG
    colleague = await console_for(server)
    assert (await colleague.http.get(link)).status_code == 403
    assert (await agent.http.get(link[:-4] + "0000")).status_code == 403
    assert (await agent.http.get(link.replace("exp=", "exp=1"))).status_code == 403
    assert (await agent.http.get("/console/media/x1?exp=1&sig=2")).status_code == 404
    # A link made for an agent of another team (the conversation moved?) is refused by the
    # desk's own visibility rule, asked again when the file is served.
    other_team = await console_for(server, team="billing")
    row_link = server.parts.media.links.url(row["id"], other_team.agent_id)
    assert (await other_team.http.get(row_link)).status_code == 403
    for console in (agent, colleague, other_team):
        await console.aclose()


async def test_a_disguised_page_is_refused_and_recorded(start_server, phone):
    server = await start_server()
    html_page = b"<!doctype html><script>document.location='https://evil.example'</script>"
    await server.fake_cloud_api.send_customer_media(phone, "image", html_page, "image/jpeg")
    row = await media_row(server, phone, "refused")
    assert row["reason"] == "HTML, SVG or XML" and row["storage_key"] is None
    assert row["declared_type"] == "image/jpeg" and row["content_type"] is None
    assert await replies_to(server, phone) == [first_contact(prompts.MEDIA_UNREAD.format(what="photos"))]
    agent = await console_for(server)
    page = await agent.http.get(f"/console/c/{await ref_for(server, phone)}")
    assert "Not kept: HTML, SVG or XML" in page.text and links(page.text) == []
    await agent.aclose()


async def test_a_provider_hiccup_is_retried_and_a_document_is_a_download(start_server, phone):
    server = await start_server()
    server.fake_cloud_api.media.fail_next(2, http_status=503)
    await server.fake_cloud_api.send_customer_media(
        phone, "document", PDF, "application/pdf", filename="invoice ana@example.com.pdf",
        caption="Is this invoice right?")
    row = await media_row(server, phone, within_s=15)
    assert row["attempts"] == 3 and row["content_type"] == "application/pdf"
    assert row["filename"] == "invoice [email]"  # the sender's file name, redacted
    (reply, *_) = await replies_to(server, phone)
    assert reply.startswith(first_contact(prompts.MEDIA_UNREAD.format(what="documents")))  # then the question
    agent = await console_for(server)
    page = await agent.http.get(f"/console/c/{await ref_for(server, phone)}")
    (link,) = links(page.text)
    assert f'href="{link.replace("&", "&amp;")}" download' in page.text
    served = await agent.http.get(link)
    assert served.content == PDF and served.headers["content-type"] == "application/pdf"
    # Named for what the file is (.pdf), whatever the sender called it.
    assert served.headers["content-disposition"].startswith('attachment; filename="invoice_email_.pdf"')
    await agent.aclose()


async def test_a_file_over_the_limit_is_refused_before_it_is_downloaded(start_server, phone):
    server = await start_server(media=MediaSettings(max_bytes=2048))
    big = JPEG[:-2] + b"\x00" * 4096 + b"\xff\xd9"
    await server.fake_cloud_api.send_customer_media(phone, "image", big, "image/jpeg")
    row = await media_row(server, phone, "refused")
    assert row["reason"] == "too large: 5 KB over the 2 KB limit for image"
    kinds = [r["kind"] for r in server.fake_cloud_api.media.requests
             if r["media_id"] == row["provider_media_id"]]
    assert kinds == ["metadata"]  # the declared size was enough: the file was never fetched
