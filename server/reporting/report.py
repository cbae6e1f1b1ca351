"""`service_report`: the figures of a window, read in one snapshot of the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.pq import TransactionStatus

from graph.base.sql import Conn
from server.desk import report_facts
from server.reporting import facts
from server.reporting.figures import figures


async def service_report(conn: Conn, since: datetime, until: datetime) -> dict[str, Any]:
    """The report for [since, until) (definitions: server/reporting/figures.py), with its
    per-day series under "daily". Reads in one repeatable-read transaction, so the figures
    agree with each other while turns and agents keep writing."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    async with conn.transaction():
        if fresh:  # else the caller's transaction decides what it sees
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conversations = await facts.started(conn, since, until)
        escalations = await report_facts.escalations(
            conn, [(c.key, c.started_at) for c in conversations])
        handoffs = await report_facts.handoffs(conn, since, until)
        ratings = await report_facts.ratings(conn, since, until)
        cost = await facts.model_cost(conn, since, until)
    return figures(since=since, until=until, conversations=conversations,
                   escalations=escalations, handoffs=handoffs, ratings=ratings, cost=cost)
