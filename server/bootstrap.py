"""Open everything Switchboard runs on: Postgres (checkpoints, demo shop), Chroma, models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graph.base.settings import Settings, get_settings
from graph.graph import make_graph
from graph.services import Services, build_services
from knowledge.base import open_knowledge_base
from server.conversations import Conversations
from server.database import open_pool, setup_lock
from server.migrations import migrate_pool
from tools.seed import seed_if_empty
from tools.shop import PostgresShop
from tools.verification import VerificationLedger


@dataclass
class Switchboard:
    """The graph's services and the conversations on top of them: what every process runs turns
    with."""

    services: Services
    conversations: Conversations


@asynccontextmanager
async def open_switchboard(settings: Settings | None = None, *, database_url: str | None = None,
                           router_model: BaseChatModel | None = None,
                           agent_model: BaseChatModel | None = None) -> AsyncIterator[Switchboard]:
    """Open the database, the checkpointer, the knowledge base and the models; close them on
    exit."""
    settings = settings or get_settings()
    pool = await open_pool(settings, database_url)
    try:
        async with setup_lock(pool):
            checkpointer = AsyncPostgresSaver(pool)
            await checkpointer.setup()  # LangGraph's own tables, by its own migrations
            await migrate_pool(pool)  # every other table: server/migrations/*.sql
            shop = PostgresShop(pool)
            await seed_if_empty(shop)
            ledger = VerificationLedger(pool, settings)
            services = build_services(shop, await open_knowledge_base(settings), settings,
                                      router_model=router_model, agent_model=agent_model,
                                      verification=ledger)
            conversations = Conversations(make_graph(checkpointer), services, pool)
        yield Switchboard(services, conversations)
    finally:
        await pool.close()
