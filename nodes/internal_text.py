"""Internal text in a reply: what was written for the model, never for the customer.

Only customer-facing text reaches customers. A reply is internal when it carries a tool's
refusal or instructions (graph/base/tool_results.py), a raw customer profile (its line
formats, same module), phrasing of our own prompts (nodes/prompts.py), a tool or schema name,
or a dump of data (JSON, Python reprs). Every marker is taken from the texts the code itself
defines, so a new prompt rule or tool is covered without a list to keep up to date.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Literal, get_args

from graph.base import tool_results
from graph.state import Intent
from nodes import prompts
from nodes.schemas import Reply, RouteDecision
from tools import TOOLS

Finding = Literal["tool_refusal", "instructions", "profile_dump", "tool_name", "data_dump"]

MIN_CLAUSE_WORDS = 5
"""A prompt clause this long found in a reply is our phrasing, not a coincidence."""
PROMPTS = (prompts.AGENT_PROMPT, prompts.ROUTER_PROMPT, prompts.INJECTION_NOTE,
           prompts.HANDBACK_NOTE, prompts.HANDBACK_MARK, prompts.REPLY_REJECTED,
           *tool_results.INSTRUCTIONS)
"""Texts written for the model: none of their clauses belongs in a reply."""

_DATA_DUMP = re.compile(r"""\{\s*["'][^"'\n]{1,60}["']\s*:|\b[A-Z]\w+\(\w+=""")
"""A JSON object or dict (`{"answer": ...`) or a Python repr (`AIMessage(content=...`)."""


def _words(text: str) -> str:
    """Lower-case words separated by single spaces, padded, for whole-word containment."""
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))) + " "


@functools.cache
def _prompt_clauses() -> tuple[str, ...]:
    clauses = []
    for template in PROMPTS:
        literal = "".join(part for part, *_ in string.Formatter().parse(template))
        for clause in re.split(r"[.;:!?()\[\]\n]+", literal):
            words = _words(clause)
            if len(words.split()) >= MIN_CLAUSE_WORDS:
                clauses.append(words)
    return tuple(clauses)


@functools.cache
def _prompt_fields() -> re.Pattern[str]:
    """Line labels of the agent prompt ("Intent: ...", "Passages:") and the passage markup."""
    labels = re.findall(r"^([A-Z][A-Za-z ]{1,30}):(?: \{\w+\})?$", prompts.AGENT_PROMPT, re.M)
    markup = prompts.PASSAGE.split("{", 1)[0]
    return re.compile(rf"^\s*(?:{'|'.join(map(re.escape, labels))}):|{re.escape(markup)}", re.M)


@functools.cache
def _names() -> re.Pattern[str]:
    """Tool, schema and intent names as the model sees them: identifiers, never prose."""
    names = {tool.name for tool in TOOLS} | {Reply.__name__, RouteDecision.__name__}
    names |= {intent for intent in get_args(Intent) if "_" in intent}
    # A one-word name ("Reply") is an identifier only when used as one.
    words = [n for n in names if "_" not in n and not re.search(r"[a-z][A-Z]", n)]
    identifiers = sorted(names - set(words), key=len, reverse=True)
    return re.compile(rf"\b(?:{'|'.join(map(re.escape, identifiers))})\b"
                      rf"|\b(?:{'|'.join(map(re.escape, words))})(?:\(| tool\b| call\b)")


@functools.cache
def _profile_lines() -> tuple[re.Pattern[str], ...]:
    return tuple(tool_results.template_pattern(marker) for marker in tool_results.PROFILE_MARKERS)


def internal_findings(text: str) -> list[Finding]:
    """What internal text the reply carries, if any (empty for a customer-facing reply)."""
    findings: list[Finding] = []
    if tool_results.REFUSED in text:
        findings.append("tool_refusal")
    words = _words(text)
    if _prompt_fields().search(text) or any(clause in words for clause in _prompt_clauses()):
        findings.append("instructions")
    if any(line.search(text) for line in _profile_lines()):
        findings.append("profile_dump")
    if _names().search(text):
        findings.append("tool_name")
    if _DATA_DUMP.search(text):
        findings.append("data_dump")
    return findings
