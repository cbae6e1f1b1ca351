"""Voice notes: with a transcription endpoint (a real HTTP stub of OpenAI's), the words enter
the turn, redacted like any text, and agents read and play them; without one, the customer is
asked to type, with a human offered."""

from __future__ import annotations

import pytest

from graph.base.settings import TranscribeSettings
from nodes import prompts
from tests.integration.server.conftest import first_contact
from tests.integration.server.console.conftest import console_for, ref_for
from tests.integration.server.media.helpers import OGG, links, media_row, replies_to
from tests.transcribe_stub import TranscribeStub

pytestmark = pytest.mark.integration
SAID = "Hi, where is my order HP-10001? You can email me at ana.lopez@example.com"


async def test_without_transcription_the_customer_is_asked_to_type(start_server, phone):
    server = await start_server()
    await server.fake_cloud_api.send_customer_media(phone, "audio", OGG, "audio/ogg; codecs=opus",
                                                    voice=True)
    assert await replies_to(server, phone) == [first_contact(prompts.VOICE_UNREAD)]
    row = await media_row(server, phone)
    assert row["kind"] == "voice" and row["content_type"] == "audio/ogg"
    assert row["transcript"] is None and row["transcript_state"] is None


async def test_a_voice_note_is_heard_and_its_words_answered(start_server, phone):
    # The stub takes longer than the debounce: the turn must wait for the words.
    with TranscribeStub(SAID, delay_s=1.0) as stub:
        server = await start_server(transcribe=TranscribeSettings(
            model="whisper-stub", base_url=stub.url, api_key="stub-key"))
        await server.fake_cloud_api.send_customer_media(phone, "audio", OGG, "audio/ogg", voice=True)
        (reply,) = await replies_to(server, phone)
    (call,) = stub.calls
    assert call["authorised"] and call["model"] == "whisper-stub" and call["data"] == OGG
    assert call["filename"] == "voice.ogg"
    # The words were read: the order number and email the customer said were checked.
    assert reply == first_contact(prompts.VERIFY_RETRY.format(left=2))

    row = await media_row(server, phone)
    assert row["transcript_state"] == "done"
    assert row["transcript"] == "Hi, where is my order HP-10001? You can email me at [email]"
    inbox = await server.wait_for("SELECT body FROM inbound_messages WHERE conversation_key = %s"
                                  " AND state = 'done'", phone)
    assert inbox[0]["body"] == "[voice note] " + row["transcript"]  # redacted once answered
    state = await server.parts.core.conversations.state(phone)
    heard = [m.content for m in state["messages"] if m.type == "human"]
    assert heard == ["[voice note] " + row["transcript"]] and "ana.lopez" not in str(state)

    agent = await console_for(server)
    page = await agent.http.get(f"/console/c/{await ref_for(server, phone)}")
    (link,) = links(page.text)
    assert f'<audio controls preload="none" src="{link.replace("&", "&amp;")}"' in page.text
    assert "[email]" in page.text and "ana.lopez" not in page.text
    played = await agent.http.get(link, headers={"range": "bytes=0-3"})
    assert played.status_code == 206 and played.content == b"OggS"  # seekable in the player
    await agent.aclose()


async def test_a_failing_transcription_endpoint_leaves_the_note_playable(start_server, phone):
    with TranscribeStub(SAID, status=400) as stub:
        server = await start_server(transcribe=TranscribeSettings(
            model="whisper-stub", base_url=stub.url, api_key="stub-key"))
        await server.fake_cloud_api.send_customer_media(phone, "audio", OGG, "audio/ogg", voice=True)
        assert await replies_to(server, phone) == [first_contact(prompts.VOICE_UNREAD)]
    row = await media_row(server, phone)
    assert row["transcript_state"] == "failed" and row["storage_key"]
    assert row["reason"] == "transcription: transcription endpoint answered 400"
