"""Shared bits of the media tests: small real files, and waiting for what the customer gets."""

from __future__ import annotations

import asyncio
import html
import re
import time

from tests.integration.server.conftest import RunningServer

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(256)) * 4 + b"\xff\xd9"
OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
LINK = re.compile(r'(?:src|href)="(/console/media/\d+\?exp=\d+&amp;sig=[0-9a-f]{64})"')


async def replies_to(server: RunningServer, phone: str, count: int = 1,
                     within_s: float = 20) -> list[str]:
    """The texts the fake Cloud API was asked to send to `phone`, once there are `count`."""
    deadline = time.monotonic() + within_s
    while True:
        texts = [m["text"] for m in server.fake_cloud_api.sent if m["to"] == phone and m["text"]]
        if len(texts) >= count or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(0.05)


async def media_row(server: RunningServer, phone: str, *states: str, within_s: float = 15) -> dict:
    rows = await server.wait_for(
        "SELECT * FROM inbound_media WHERE conversation_key = %s AND state = ANY(%s)", phone,
        list(states or ("stored",)), within_s=within_s)
    assert rows, f"no media row in {states or 'stored'} for the conversation"
    return rows[0]


def links(page: str) -> list[str]:
    """The page's distinct media links (a picture is both shown and linked)."""
    return list(dict.fromkeys(html.unescape(link) for link in LINK.findall(page)))
