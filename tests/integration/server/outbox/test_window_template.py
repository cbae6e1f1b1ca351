"""The window template in the customer's language: a bot reply that cannot go as free text (the
customer wrote more than 24 hours ago) becomes the catalogue's re-engagement template in the
language the customer wrote in, and the fake Cloud API, knowing the catalogue's templates as
Meta would, takes it."""

from __future__ import annotations

import time
import uuid

import pytest

from server.outbox.templates_catalog import load
from tests.integration.server.conftest import text_message

pytestmark = pytest.mark.integration
REPLIES = ("SELECT kind, template, status FROM outbox WHERE conversation_key = %s"
           " AND kind IN ('text', 'template') ORDER BY id")


@pytest.mark.parametrize(("text", "language"), [
    ("¿Cuánto tardan los reembolsos? Necesito ayuda con mi pedido, por favor.", "es"),
    ("Wie lange dauert eine Rückerstattung? Ich brauche Hilfe mit meiner Bestellung.", "de"),
    ("How long do refunds take? I need help with my order.", "en"),
])
async def test_a_late_reply_goes_as_the_reengagement_template_in_the_customers_language(start_server, text, language):
    server = await start_server()
    for t in load():
        server.fake_cloud_api.templates.add(t.name, t.language, t.example, category=t.category.upper())
    phone = "4476" + str(uuid.uuid4().int)[:8]
    await server.post_meta(text_message(phone, text, timestamp=int(time.time()) - 30 * 3600))
    rows = await server.wait_for(REPLIES, phone, within_s=30)
    assert [(r["kind"], r["template"]) for r in rows] == [
        ("template", {"name": "order_update_v1", "language": language})]
    settled = await server.wait_for("SELECT status FROM outbox WHERE conversation_key = %s AND kind = 'template'"
                                    " AND status IN ('sent', 'delivered', 'read', 'failed')", phone)
    assert settled and settled[0]["status"] != "failed"
    [sent] = [m for m in server.fake_cloud_api.sent if m["to"] == phone and m["type"] == "template"]
    assert sent["template"]["language"]["code"] == language
