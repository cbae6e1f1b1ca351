"""Templates in the console over real HTTP: what is offered (window open or closed, the
customer's language or the default), a template sent with its parameters filled by name
through the outbox to the fake Cloud API (which checks it against its own list, as Meta does),
and every send the catalogue does not allow refused with a 4xx and nothing stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graph.base.settings import TemplateSettings
from server.outbox.templates_catalog import load
from tests.integration.server.conftest import RunningServer, text_message
from tests.integration.server.console.conftest import console_for, new_phone, ref_for

pytestmark = pytest.mark.integration
OUTBOX = "SELECT kind, body, template FROM outbox WHERE conversation_key = %s AND kind <> 'read_receipt' ORDER BY id"
SENT_BY_AGENTS = "SELECT payload FROM desk_events WHERE conversation_key = %s AND kind = 'agent_message'"
OFFERED = re.compile(r'name="template" value="([^"]+)">\s*<input type="hidden" name="template_language" value="([^"]+)"')
SHIPPED = {"template": "order_shipped_v1", "template_language": "es",
           "param_order_number": "HP-10234", "param_delivery_date": "viernes 12 de diciembre"}


def meta_knows_the_catalogue(server: RunningServer, path: Path | None = None) -> None:
    """The fake Cloud API's account has the catalogue's templates: it refuses any other send."""
    for t in load(path):
        server.fake_cloud_api.templates.add(t.name, t.language, t.example, category=t.category.upper())


async def spanish_handoff(server: RunningServer) -> str:
    phone = new_phone()
    await server.post_meta(text_message(phone, "Quiero hablar con una persona, por favor"))
    rows = await server.wait_for("SELECT state FROM desk_conversations WHERE key = %s"
                                 " AND state = 'PENDING_AGENT'", phone, within_s=30)
    assert rows, "the bot did not hand the conversation off"
    assert (await server.parts.core.conversations.state(phone)).get("language") == "es"
    return phone


async def test_templates_in_the_customers_language_are_offered_and_sent_filled_by_name(start_server):
    server = await start_server()
    meta_knows_the_catalogue(server)
    phone = await spanish_handoff(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        page = (await console.http.get(f"/console/c/{ref}")).text
        # Window open: free text and the utility templates, each in Spanish.
        assert 'id="reply-text"' in page and "customer language: es" in page
        assert OFFERED.findall(page) == [("order_update_v1", "es"), ("order_shipped_v1", "es"),
                                         ("refund_issued_v1", "es")]
        assert 'name="param_order_number"' in page and "Buenas noticias: tu pedido HP-10234" in page
        before = len(await server.rows(OUTBOX, phone))
        page = await console.act(ref, "reply", **SHIPPED)
        assert "Sent." in page.text
        sent = await server.wait_for(OUTBOX, phone, count=before + 1)
        assert sent[-1]["kind"] == "template" and sent[-1]["template"] == {
            "name": "order_shipped_v1", "language": "es", "params": [{"type": "body", "parameters": [
                {"type": "text", "text": "HP-10234", "parameter_name": "order_number"},
                {"type": "text", "text": "viernes 12 de diciembre", "parameter_name": "delivery_date"}]}]}
        delivered = await server.wait_for("SELECT status FROM outbox WHERE conversation_key = %s AND kind ="
                                          " 'template' AND status IN ('sent', 'delivered', 'read', 'failed')", phone)
        assert delivered and delivered[0]["status"] != "failed"  # the fake checked it as Meta would
        [payload] = [r["payload"] for r in await server.rows(SENT_BY_AGENTS, phone)]
        assert payload["rendered"] == ("Buenas noticias: tu pedido HP-10234 ha salido y debería llegar antes del"
                                       " viernes 12 de diciembre. Responde aquí si tienes alguna pregunta.")
        assert "viernes 12 de diciembre. Responde" in (await console.http.get(f"/console/c/{ref}")).text
        # Window closed: no free text, the same templates.
        async with server.parts.pool.connection() as conn:
            await conn.execute("UPDATE desk_conversations SET last_customer_at = now() - interval '2 days'"
                               " WHERE key = %s", (phone,))
        page = (await console.http.get(f"/console/c/{ref}")).text
        assert 'id="reply-text"' not in page and "window has closed" in page
        assert [name for name, _ in OFFERED.findall(page)] == ["order_update_v1", "order_shipped_v1", "refund_issued_v1"]
        await console.act(ref, "reply", template="order_update_v1", template_language="es")
        sent = await server.rows(OUTBOX, phone)
        assert sent[-1]["template"] == {"name": "order_update_v1", "language": "es"}
    finally:
        await console.aclose()


@pytest.mark.parametrize(("form", "reason"), [
    ({**SHIPPED, "template": "winter_sale_v1"}, "there is no template &#39;winter_sale_v1&#39; in the catalogue"),
    ({**SHIPPED, "template_language": "en"}, "order_shipped_v1 goes to this customer in es, not &#39;en&#39;"),
    ({**SHIPPED, "param_order_number": ""}, "order_shipped_v1: fill in order_number"),
    ({**SHIPPED, "param_coupon": "FREE"}, "order_shipped_v1 has no parameter &#39;coupon&#39;"),
    ({**SHIPPED, "param_delivery_date": "viernes\r\nDROP TABLE"}, "must be one line"),
    ({**SHIPPED, "text": "and a text"}, "send either a message or a template, not both"),
])
async def test_a_template_the_catalogue_does_not_allow_is_refused_and_nothing_is_stored(start_server, form, reason):
    server = await start_server()
    phone = await spanish_handoff(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        before = await server.rows(OUTBOX, phone)
        refused = await console.act(ref, "reply", **form)
        assert refused.status_code == 400 and reason in refused.text
        assert await server.rows(OUTBOX, phone) == before
        assert await server.rows(SENT_BY_AGENTS, phone) == []
    finally:
        await console.aclose()


@pytest.fixture
def without_spanish_refunds(tmp_path: Path) -> Path:
    """The bundled catalogue without refund_issued_v1's Spanish entry."""
    catalogue, text = tmp_path / "templates.toml", Path(load().source).read_text(encoding="utf-8")
    start = text.index('[[template]]\nname = "refund_issued_v1"\nlanguage = "es"')
    catalogue.write_text(text[:start] + text[text.index("[[template]]", start + 1):], encoding="utf-8")
    return catalogue


async def test_a_template_missing_in_the_customers_language_is_offered_in_the_default(
        start_server, without_spanish_refunds):
    catalogue = without_spanish_refunds
    server = await start_server(templates=TemplateSettings(file=catalogue))
    meta_knows_the_catalogue(server, catalogue)
    phone = await spanish_handoff(server)
    ref = await ref_for(server, phone)
    console = await console_for(server)
    try:
        page = (await console.http.get(f"/console/c/{ref}")).text
        assert OFFERED.findall(page) == [("order_update_v1", "es"), ("order_shipped_v1", "es"),
                                         ("refund_issued_v1", "en")]
        await console.act(ref, "reply", template="refund_issued_v1", template_language="en",
                          param_amount="£42.50", param_order_number="HP-10234")
        sent = await server.rows(OUTBOX, phone)
        assert sent[-1]["template"]["language"] == "en"
        refused = await console.act(ref, "reply", template="refund_issued_v1", template_language="es",
                                    param_amount="£42.50", param_order_number="HP-10234")
        assert refused.status_code == 400 and "goes to this customer in en" in refused.text
    finally:
        await console.aclose()


async def test_another_teams_agent_learns_nothing_from_a_template_send(start_server):
    server = await start_server()
    phone = await spanish_handoff(server)
    ref = await ref_for(server, phone)
    outsider = await console_for(server, team="billing")
    try:
        refused = await outsider.act(ref, "reply", **{**SHIPPED, "template_language": "en"})
        assert refused.status_code == 403 and "belongs to another team" in refused.text
        assert "goes to this customer" not in refused.text and await server.rows(SENT_BY_AGENTS, phone) == []
    finally:
        await outsider.aclose()
