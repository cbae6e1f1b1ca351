"""One composition root: only server/composition.py builds Switchboard's long-lived parts; the
web app, the worker, the CLI commands and Studio receive them. And a web process does not load
the CLI package."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]
PRODUCT = ("server", "graph", "nodes", "tools", "knowledge")
THE_ROOT = "server/composition.py"
BUILDERS = frozenset({"open_pool", "open_redis", "build_services", "PostgresShop", "Desk",
                      "DeskPlanner", "Scheduler", "TurnWorker", "OutboxWorker", "Intake",
                      "SlaWatcher", "open_media", "open_knowledge_base", "Conversations",
                      "VerificationLedger"})
"""Constructors of what a process holds open or builds once: called only by the root."""
DEFINED_IN = {"open_pool": "server/database.py", "open_redis": "server/redis_client.py",
              "build_services": "graph/services.py", "open_media": "server/media/__init__.py",
              "open_knowledge_base": "knowledge/base.py"}
"""Where a builder is defined (a module may call its own, e.g. a test helper beside it)."""


def builder_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of each call in `source` to one of BUILDERS, by plain or dotted name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in BUILDERS:
                found.append((node.lineno, name))
    return sorted(found)


def test_the_check_finds_builders():
    source = "pool = await open_pool(settings)\nshop = tools.shop.PostgresShop(pool)\nx = len(pool)\n"
    assert builder_calls(source) == [(1, "open_pool"), (2, "PostgresShop")]


def test_only_the_composition_root_builds_the_parts():
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == THE_ROOT:
                continue
            offenders += [f"{relative}:{line} {name}" for line, name in
                          builder_calls(path.read_text()) if DEFINED_IN.get(name) != relative]
    assert offenders == [], "build it in server/composition.py and pass it in"


def test_a_web_process_does_not_load_the_cli_package(tmp_path):
    # What each process of `switchboard serve --processes N` runs: uvicorn's factory.
    script = ("import sys, server.app; server.app.serve_app(); print(sorted("
              "m for m in sys.modules if m == 'server.cli' or m.startswith('server.cli.')))")
    env = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded.splitlines()[-1] == "[]"
