"""The long-lived things a turn runs against: models, the shop backend, the knowledge base.

They are built once per process from Settings. Tests build their own and pass them in
`Context.services`, so nothing here is global state that a test has to patch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from graph.base.settings import ModelSettings, Settings, get_settings
from graph.breaker import CircuitBreaker
from graph.state import HandoffPlan
from nodes.brain import OfflineBrain

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase
    from tools.shop import ShopBackend
    from tools.verification import VerificationLedger


class HandoffPlanner(Protocol):
    """What the handoff node needs from the desk: the SLA plan and a link for agents."""

    async def plan(self, *, tier: str, topic: str, reason: str, now: datetime) -> HandoffPlan: ...

    def permalink(self, key: str) -> str: ...


Role = Literal["router", "agent"]
ROLES: tuple[Role, ...] = ("router", "agent")


@dataclass
class Services:
    """Everything a node or tool needs besides state and context."""

    settings: Settings
    router_model: BaseChatModel
    """Classifies each message; the offline brain when no router model is configured."""
    agent_model: BaseChatModel
    """Runs the tool loop; the offline brain when no agent model is configured."""
    fallback_model: BaseChatModel
    """Stands in when a configured model fails: always the offline brain."""
    shop: ShopBackend
    knowledge: KnowledgeBase
    planner: HandoffPlanner | None = None
    """Plans handoffs (warm or cold, SLA, ETA) when a human desk is running; None in the terminal
    chat and LangGraph Studio, where the handoff node promises a wait by priority."""
    verification: VerificationLedger | None = None
    """Counts and records identity checks in Postgres; None refuses every order claim."""
    breakers: dict[Role, CircuitBreaker] = field(init=False, default_factory=dict)
    """One per configured model, for the life of the process; the offline brain has none."""

    def __post_init__(self) -> None:
        # One breaker per endpoint: when router and agent are the same model, a hang seen by
        # either protects both (else the router's open breaker would send every turn on to
        # wait out the agent's calls to the same hanging endpoint).
        guard, by_endpoint = self.settings.model_guard, {}
        for role in ROLES:
            if isinstance(self.model(role), OfflineBrain):
                continue
            config = getattr(self.settings, role)
            endpoint = (config.base_url, config.model) if config.model else role
            if endpoint not in by_endpoint:
                by_endpoint[endpoint] = CircuitBreaker(role, guard.breaker_failures,
                                                       guard.breaker_cool_off_s,
                                                       guard.breaker_slow_call_s)
            else:
                by_endpoint[endpoint].name = "router and agent"
            self.breakers[role] = by_endpoint[endpoint]

    def model(self, role: Role) -> BaseChatModel:
        return self.router_model if role == "router" else self.agent_model

    def model_states(self) -> dict[Role, str]:
        """Each model's breaker state, or "offline" where the offline brain is the model."""
        return {role: self.breakers[role].state if role in self.breakers else "offline"
                for role in ROLES}


def chat_model(config: ModelSettings, fallback: BaseChatModel) -> BaseChatModel:
    """An OpenAI-compatible chat model for `config`, or `fallback` when none is configured."""
    if not config.model:
        return fallback
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=config.model,
        base_url=config.base_url,
        api_key=config.api_key or SecretStr("unset"),  # local endpoints (Ollama, vLLM) take any key
        timeout=config.timeout_s,
        max_retries=config.max_retries,
    )


def build_services(shop: ShopBackend, knowledge: KnowledgeBase, settings: Settings | None = None,
                   router_model: BaseChatModel | None = None,
                   agent_model: BaseChatModel | None = None,
                   verification: VerificationLedger | None = None,
                   planner: HandoffPlanner | None = None) -> Services:
    """Services from settings; explicit models win over configured ones. The composition root
    (server/composition.py) passes the desk's planner when a desk runs."""
    settings = settings or get_settings()
    brain = OfflineBrain()
    return Services(
        settings=settings,
        router_model=router_model or chat_model(settings.router, brain),
        agent_model=agent_model or chat_model(settings.agent, brain),
        fallback_model=brain,
        shop=shop,
        knowledge=knowledge,
        verification=verification,
        planner=planner,
    )


_default: Services | None = None
_opening = asyncio.Lock()
_opener: Callable[[], Awaitable[Services]] | None = None


def open_defaults_with(opener: Callable[[], Awaitable[Services]]) -> None:
    """Say how to open the process-wide services (the server's Studio entry, server/studio.py,
    does); the graph side cannot open stores itself, which sit above it."""
    global _opener
    _opener = opener


async def default_services() -> Services:
    """The process-wide services, opened on first use (LangGraph Studio)."""
    global _default
    if _default is not None:
        return _default
    if _opener is None:
        raise RuntimeError("no services: pass Context.services, or serve the graph through"
                           " server/studio.py")
    async with _opening:  # two first runs at once must not open two pools
        if _default is None:
            _default = await _opener()
    return _default


async def services_for(context: object | None) -> Services:
    """The services a run was given in its context, else the process-wide ones."""
    given = getattr(context, "services", None)
    return given if given is not None else await default_services()
