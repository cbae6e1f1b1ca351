"""The desk row is the authority, so only the desk package reads and writes the desk tables:
no SQL outside server/desk/ (and the migrations) names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[4]
PRODUCT = ("server", "graph", "nodes", "tools", "knowledge")
DESK_TABLE = re.compile(r"\b(desk_(?:conversations|events|agents|sessions|csat)|held_messages)\b")
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|LOCK|JOIN|FROM|TRUNCATE)\b")


def desk_sql(source: str) -> list[tuple[int, str]]:
    """(line, table) of each string in `source` that is SQL naming a desk table."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found += [(node.lineno, m.group(1)) for m in DESK_TABLE.finditer(node.value)]
    return found


def test_the_check_finds_desk_sql():
    source = 'q = ("SELECT state FROM desk_conversations"\n     " WHERE key = %s")\ndoc = "desk_agents.last_seen_at"\n'
    assert desk_sql(source) == [(1, "desk_conversations")]


def test_no_desk_table_is_touched_outside_the_desk():
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(("server/desk/", "server/migrations/")):
                continue
            offenders += [f"{relative}:{line} {table}" for line, table in desk_sql(path.read_text())]
    assert offenders == [], "desk tables are the desk's: call server/desk/ instead"
