"""What `langgraph dev` and LangGraph Studio serve (langgraph.json): the support graph, with
the process-wide services opened on first use from settings."""

from __future__ import annotations

from graph.base.settings import get_settings
from graph.graph import graph
from graph.services import Services, build_services, open_defaults_with

__all__ = ["graph"]


async def open_services() -> Services:
    """Postgres (migrated, demo shop seeded), the knowledge base and the models from settings."""
    from knowledge.base import open_knowledge_base
    from server.database import open_pool, setup_lock
    from server.migrations import migrate_pool
    from tools.seed import seed_if_empty
    from tools.shop import PostgresShop
    from tools.verification import VerificationLedger

    settings = get_settings()
    pool = await open_pool(settings)
    shop, ledger = PostgresShop(pool), VerificationLedger(pool, settings)
    async with setup_lock(pool):
        await migrate_pool(pool)
        await seed_if_empty(shop)
    return build_services(shop, await open_knowledge_base(settings), settings,
                          verification=ledger)


open_defaults_with(open_services)
