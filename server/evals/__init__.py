"""`switchboard eval conversations`: golden multi-turn conversations run through the real turn
path, checked turn by turn (intent, tool calls, facts, forbidden content, handoff), with latency
and cost per turn. Files: golden.py (the YAML schema), checks.py (one turn's checks),
judge.py (the optional LLM judge), runner.py (runs them on a `Core`), conversations/ (the data).
"""
