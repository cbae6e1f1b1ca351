"""Unit-tier helpers: nodes run on plain State objects with no services behind them."""

from __future__ import annotations

import pytest
from langgraph.runtime import Runtime

from graph.base.conversation import conversation_id
from graph.base.settings import Settings
from graph.context import Context
from graph.services import Services
from nodes.brain import OfflineBrain


@pytest.fixture
def runtime():
    """Factory: a Runtime whose context carries settings and models but no shop or knowledge."""
    def make(inbound=(), now="2026-11-22T12:00:00+00:00", phone="447000000001",
             router_model=None, agent_model=None, **overrides):
        # The server's rule: a conversation with a known number is keyed by it.
        conversation = conversation_id(phone) if phone else None
        brain = OfflineBrain()
        services = Services(settings=Settings(_env_file=None, **overrides),
                            router_model=router_model or brain, agent_model=agent_model or brain,
                            fallback_model=brain, shop=None, knowledge=None)
        return Runtime(context=Context(conversation_id=conversation, phone=phone,
                                       inbound=list(inbound), now=now,
                                       services=services))
    return make
