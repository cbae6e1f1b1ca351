"""A real message through webhook -> worker -> outbox on real Postgres and Redis, with a model
served over HTTP: /metrics shows the counters moved, and the spans of its whole path (webhook,
store, schedule, turn, graph nodes, model calls, send) name one conversation by its opaque ref
and form one trace."""

from __future__ import annotations

import re
import uuid

import pytest

from graph.base.settings import MetricsSettings, ModelSettings
from server import tracing
from server.conversation_ids import ref
from tests.integration.server.conftest import text_message
from tests.model_stub import ModelStub

pytestmark = pytest.mark.integration
QUESTION = "how long do refunds take?"


def sample(scrape: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus text scrape (0 when absent)."""
    for line in scrape.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


async def scrape(server, token: str = "scrape-me") -> str:
    response = await server.http.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.text


async def test_one_message_moves_the_metrics_and_is_traced_end_to_end(start_server, spans):
    phone = "4476" + str(uuid.uuid4().int)[:8]
    with ModelStub(delay_s=0.05) as stub:
        model = ModelSettings(model="stub", base_url=stub.url, api_key="unused", max_retries=0)
        server = await start_server(router=model, agent=model,
                                    metrics=MetricsSettings(token="scrape-me"))
        assert (await server.http.get("/metrics")).status_code == 401
        before = await scrape(server)
        assert (await server.post_meta(text_message(phone, QUESTION))).status_code == 200
        sent = await server.wait_for("SELECT 1 FROM outbox WHERE conversation_key = %s AND kind"
                                     " = 'text' AND status = 'sent'", phone, within_s=30)
        assert sent, "the reply was not sent"
        after = await scrape(server)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    # The message, and delivery statuses that came back before the scrape (for this reply, and
    # for rows of earlier tests in this database that this server's outbox sent meanwhile).
    accepted = moved("switchboard_webhooks_total", channel="meta", outcome="accepted")
    assert accepted >= 1
    assert moved("switchboard_webhook_ack_seconds_count", channel="meta") == accepted
    assert moved("switchboard_due_queue_lag_seconds_count") >= 1
    assert moved("switchboard_turn_seconds_count", brain="model") == 1
    assert moved("switchboard_model_calls_total", outcome="ok") >= 1
    assert moved("switchboard_model_call_seconds_count") >= 1
    assert moved("switchboard_sends_total", provider="meta", status="sent") == 1
    assert "switchboard_outbox_backlog" in after
    assert phone not in after  # no label carries the number

    conversation = ref(phone)
    ours = [s for s in spans.get_finished_spans()
            if s.attributes and s.attributes.get(tracing.CONVERSATION) == conversation]
    names = {s.name for s in ours}
    assert {"webhook", "store", "schedule", "turn", "graph", "model", "send"} <= names, names
    assert {"node input_guardrail", "node router", "node respond"} <= names, names
    traces = {s.context.trace_id for s in ours}
    assert len(traces) == 1, [(s.name, s.context.trace_id % 1000) for s in ours]
    for span in ours:  # no attribute holds the number or the text
        assert all(phone not in str(v) and QUESTION not in str(v)
                   for v in (span.attributes or {}).values()), span.name
    by_id = {s.context.span_id: s for s in ours}
    [model_span] = [s for s in ours if s.name == "model"][:1]
    assert model_span.parent and by_id[model_span.parent.span_id].name.startswith("node ")
    assert model_span.attributes["switchboard.brain"] == "model"


async def test_a_duplicate_and_a_bad_signature_are_counted_by_outcome(start_server):
    server = await start_server()
    before = await server.http.get("/metrics")
    assert before.status_code == 200  # no METRICS__TOKEN: open
    message = text_message("4477" + str(uuid.uuid4().int)[:8], QUESTION)
    assert (await server.post_meta(message)).status_code == 200
    assert (await server.post_meta(message)).status_code == 200  # the provider's retry
    assert (await server.post_meta(message, signature="sha256=" + "0" * 64)).status_code == 403
    after = (await server.http.get("/metrics")).text

    def moved(outcome: str) -> float:
        return (sample(after, "switchboard_webhooks_total", channel="meta", outcome=outcome)
                - sample(before.text, "switchboard_webhooks_total", channel="meta", outcome=outcome))

    assert (moved("accepted"), moved("duplicate"), moved("unauthorized")) == (1, 1, 1)


async def test_a_hanging_model_counts_fallbacks_and_an_offline_turn_and_a_handoff_by_reason(
        start_server):
    """The model never answers: each call times out, the offline brain answers (a fallback by
    reason, the turn timed as offline); "human please" is handed to a human (by reason)."""
    phone = "4478" + str(uuid.uuid4().int)[:8]
    with ModelStub(hang=True) as stub:
        model = ModelSettings(model="stub", base_url=stub.url, api_key="unused", max_retries=0,
                              timeout_s=0.3)
        server = await start_server(router=model, agent=model)
        before = (await server.http.get("/metrics")).text
        assert (await server.post_meta(text_message(phone, "human please"))).status_code == 200
        turns = await server.wait_for("SELECT outcome, reason FROM turns WHERE conversation_key"
                                      " = %s", phone, within_s=30)
        after = (await server.http.get("/metrics")).text
    assert turns and turns[0]["outcome"] == "handoff", turns
    reason = turns[0]["reason"]

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("switchboard_model_fallbacks_total", reason="timeout") >= 1
    assert moved("switchboard_model_calls_total", outcome="timeout") + moved(
        "switchboard_model_calls_total", outcome="error") >= 1
    assert moved("switchboard_turn_seconds_count", brain="offline") == 1
    assert moved("switchboard_handoffs_total", reason=reason) == 1
