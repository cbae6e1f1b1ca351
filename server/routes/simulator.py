"""The local simulator: a fake WhatsApp Cloud API on this server, and a customer phone page.

Messages typed on /simulator travel the real path: the fake Cloud API posts a signed webhook
to /webhooks/meta, a worker runs the turn, the outbox sends the reply to the fake Cloud API,
and the fake reports sent, delivered and read statuses back through the webhook.

It trusts whatever number it is told and shows any conversation without a login: it exists in
demo mode only (server/demo_mode.py), and `mount` refuses anything else.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from graph.base.settings import Settings
from server.demo_mode import demo_mode
from server.deps import ServerDep
from server.simulator.fake_cloud_api import FakeCloudApi
from server.urls import public_url

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
router = APIRouter(prefix="/simulator", tags=["simulator"])


class CustomerMessage(BaseModel):
    """A message typed on the simulator's customer phone page."""

    phone: str = Field(pattern=r"^\d{6,15}$", description="The customer's WhatsApp number, digits only.")
    text: str = Field(min_length=1, max_length=4096)
    name: str = Field(default="Simulator Customer", max_length=100)


@router.get("", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    """The customer's phone, headed with the configured business name (escaped by Jinja)."""
    return templates.TemplateResponse(request, "simulator.html",
                                      {"business": request.app.state.simulator_business})


@router.post("/api/send", status_code=202)
async def send(message: CustomerMessage, request: Request) -> dict:
    """Play the customer: the fake Cloud API delivers a signed webhook to this server."""
    fake: FakeCloudApi = request.app.state.simulator
    try:
        message_id = await fake.send_customer_message(message.phone, message.text, message.name)
    except Exception as error:  # noqa: BLE001 - surface why the webhook was not accepted
        raise HTTPException(502, f"webhook not accepted: {error}") from error
    return {"message_id": message_id}


@router.get("/api/messages")
async def messages(phone: str, runtime: ServerDep, request: Request) -> dict:
    """The conversation as the customer's phone shows it, oldest first, and whose number it is
    (the business name, for `switchboard simulate`)."""
    async with runtime.pool.connection() as conn:
        inbound = await (await conn.execute(
            "SELECT body AS text, sent_at AS at, state FROM inbound_messages"
            " WHERE conversation_key = %s ORDER BY sent_at, id", (phone,))).fetchall()
        outbound = await (await conn.execute(
            "SELECT coalesce(body, template->>'name') AS text, created_at AS at, status,"
            " interactive->'choices' AS choices FROM outbox"
            " WHERE conversation_key = %s AND kind <> 'read_receipt' ORDER BY id", (phone,))).fetchall()
    shown = [{"from": "customer", "text": r["text"], "at": r["at"].isoformat(), "status": ""}
             for r in inbound]
    # Reply buttons or list rows show as buttons under their message; a tap sends the title.
    shown += [{"from": "business", "text": r["text"], "at": r["at"].isoformat(), "status": r["status"],
               "choices": [c["title"] for c in r["choices"] or []]}
              for r in outbound]
    shown.sort(key=lambda m: m["at"])
    typing = any(r["state"] in ("pending", "in_turn") for r in inbound)
    return {"messages": shown, "typing": typing, "business": request.app.state.simulator_business}


def mount(app: FastAPI, settings: Settings) -> FakeCloudApi:
    """Mount the fake Cloud API at /fake-graph and the simulator routes (demo mode only)."""
    if not (demo := demo_mode(settings)).on:
        raise RuntimeError(f"the simulator exists in demo mode only; demo mode is {demo}")
    fake = FakeCloudApi(settings.meta.app_secret.get_secret_value(),
                        f"{public_url(settings)}/webhooks/meta",
                        settings.meta.phone_number_id,
                        access_token=settings.meta.access_token.get_secret_value())
    app.mount("/fake-graph", fake.app)
    app.include_router(router)
    app.state.simulator = fake
    app.state.simulator_business = settings.business.name  # BUSINESS__NAME heads the phone
    return fake
