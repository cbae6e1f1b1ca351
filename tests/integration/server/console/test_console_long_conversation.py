"""A conversation longer than the retained window, as the human sees it in the console."""

from __future__ import annotations

import pytest

from graph.base.settings import CheckpointSettings
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import console_for, handed_off, new_phone, ref_for

pytestmark = pytest.mark.integration


async def test_the_console_says_earlier_messages_are_no_longer_kept(start_server):
    server = await start_server(debounce_s=0.05, checkpoints=CheckpointSettings(keep_messages=4))
    phone = new_phone()
    texts = ["do you ship to Ireland?", "how long do refunds take?", "can I return a sofa?"]
    for n, text in enumerate(texts, 1):
        await server.post_meta(text_message(phone, text))
        assert len(await server.wait_for("SELECT 1 FROM turns WHERE conversation_key = %s", phone,
                                         count=n, within_s=30)) == n
    await handed_off(server, phone)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        page = (await console.http.get(f"/console/c/{ref}")).text
    finally:
        await console.aclose()
    assert "earlier message(s) of this conversation are no longer kept" in page
    assert "I want to talk to a human" in page and "can I return a sofa?" in page
    assert "do you ship to Ireland?" not in page  # before the window
