"""Identity plumbing for tools: who the customer is comes from graph state, never from arguments."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime

from graph.services import Services, services_for

SupportRuntime = ToolRuntime[Any, Any]
"""What a tool is handed besides the model's arguments: graph state (a `State`), the run's
`Context`, the tool call id. Typed loosely so pydantic does not rebuild both per call."""

NOT_VERIFIED = ("Not allowed: the customer is not verified yet. Tell them you need to verify "
                "them first; do not guess.")


def _get(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key, None)


def verified_customer(runtime: SupportRuntime) -> dict | None:
    """The verified customer of this conversation, or None."""
    verification = _get(runtime.state, "verification") or {}
    if verification.get("status") != "verified":
        return None
    return _get(runtime.state, "customer")


async def shop_services(runtime: SupportRuntime) -> Services:
    return await services_for(runtime.context)
