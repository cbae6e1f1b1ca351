"""Identity plumbing for tools: who the customer is comes from graph state, never from arguments."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from langgraph.prebuilt import ToolRuntime

from graph.base.tool_results import NOT_VERIFIED
from graph.services import Services, services_for

SupportRuntime = ToolRuntime[Any, Any]
"""What a tool is handed besides the model's arguments: graph state (a `State`), the run's
`Context`, the tool call id. Typed loosely so pydantic does not rebuild both per call."""


def _get(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key, None)


def verified_customer(runtime: SupportRuntime) -> dict | None:
    """The verified customer of this conversation, or None."""
    verification = _get(runtime.state, "verification") or {}
    if verification.get("status") != "verified":
        return None
    return _get(runtime.state, "customer")


P = ParamSpec("P")


def verified_only(tool: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """Run a customer-data tool only for a verified customer; for anyone else it answers
    NOT_VERIFIED, whatever the model asked. The one identity gate in front of every tool that
    reads or changes a customer's data. The tool's signature, and so the schema the model
    sees, is the undecorated function's (`functools.wraps`)."""
    signature = inspect.signature(tool)

    @functools.wraps(tool)
    async def gated(*args: P.args, **kwargs: P.kwargs) -> str:
        if verified_customer(signature.bind(*args, **kwargs).arguments["runtime"]) is None:
            return NOT_VERIFIED
        return await tool(*args, **kwargs)

    return gated


def customer_of(runtime: SupportRuntime) -> dict:
    """The verified customer, inside a `verified_only` tool."""
    customer = verified_customer(runtime)
    if customer is None:  # only reachable without the gate: fail closed, never read data
        raise PermissionError("a customer-data tool ran for an unverified customer")
    return customer


async def shop_services(runtime: SupportRuntime) -> Services:
    """The services a tool call runs with (shop, ledger), from its runtime context."""
    return await services_for(runtime.context)
