"""The golden conversations' schema: YAML files validated by pydantic, with errors that name
the file and the field.

A file holds `conversations:`, a list of conversations; each has a `name`, a `kind` (what it
covers: verification, order_status, ...), an optional `phone` (a number on file in the demo
shop; without one the conversation comes from a new, unknown number) and its `turns`. A turn
is what the customer sends (`say`, a `voice` note's transcript or a `media` placeholder) and
what must happen: the `intent`, the `tools` called (name + a subset of the arguments), the
facts the replies `must_contain` (each one a string or a list of alternatives, any case), what
they `must_not_contain`, and whether a `handoff` happens. A `late` turn reached us more than
STALE_MESSAGE_AGE_S after it was sent. Unset expectations are not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped, unused-ignore]  # stubs: types-PyYAML, optional
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graph.base.media_text import MEDIA_KINDS, placeholder, transcribed
from graph.state import Intent

GOLDEN_DIR = Path(__file__).parent / "conversations"
"""The golden conversations shipped with Switchboard (written against the demo shop and the
sample help center)."""

Kind = Literal["verification", "order_status", "returns", "billing", "complaint",
               "human_request", "injection", "multi_order", "language", "voice_note",
               "late_message", "product_question", "media", "small_talk"]
Fact = str | list[str]
"""A fact a reply must state: one text, or a list of alternatives (any one will do)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolExpectation(_Strict):
    """A tool call the turn must make: its name and a subset of its arguments."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class GoldenTurn(_Strict):
    """One customer message and what must follow it."""

    say: str | None = None
    voice: str | None = None
    """A voice note, as the server reads it once transcribed (graph/base/media_text.py)."""
    media: str | None = None
    """A file the bot cannot read: its kind (image, document, ...), as the channel writes it."""
    late: bool = False
    """The message reached us later than STALE_MESSAGE_AGE_S after it was sent."""
    intent: Intent | None = None
    tools: list[ToolExpectation] | None = None
    """None: not checked; []: no tool may be called."""
    must_contain: list[Fact] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    handoff: bool | None = None

    @model_validator(mode="after")
    def _one_message(self) -> GoldenTurn:
        given = [f for f in ("say", "voice", "media") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("a turn needs exactly one of say, voice or media")
        if self.media is not None and self.media not in MEDIA_KINDS:
            raise ValueError(f"media must be one of {', '.join(MEDIA_KINDS)}")
        if any(not (f.strip() if isinstance(f, str) else f and all(o.strip() for o in f))
               for f in self.must_contain):
            raise ValueError("must_contain holds an empty fact")
        return self

    @property
    def text(self) -> str:
        """The message as the server hands it to the graph."""
        if self.voice is not None:
            return transcribed(self.voice)
        if self.media is not None:
            return placeholder(self.media)
        return self.say or ""


class GoldenConversation(_Strict):
    """A scripted conversation with a customer and the expected behaviour at each turn."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: Kind
    description: str = ""
    phone: str | None = Field(default=None, pattern=r"^\d{8,15}$")
    turns: list[GoldenTurn] = Field(min_length=1)


class GoldenFile(_Strict):
    """One YAML file of golden conversations."""

    conversations: list[GoldenConversation] = Field(min_length=1)


class GoldenFileError(ValueError):
    """A golden file that is not valid YAML or does not follow the schema."""


def load_file(path: Path) -> list[GoldenConversation]:
    """The conversations of one YAML file.

    Raises:
        GoldenFileError: naming the file and, for schema errors, each field's location.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise GoldenFileError(f"{path.name}: not valid YAML: {error}") from None
    try:
        return GoldenFile.model_validate(raw).conversations
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                             for e in error.errors())
        raise GoldenFileError(f"{path.name}: {problems}") from None


def load_conversations(directory: Path = GOLDEN_DIR) -> list[GoldenConversation]:
    """Every conversation in `directory`'s YAML files, in file order; names must be unique."""
    conversations = [c for path in sorted(directory.glob("*.yaml")) for c in load_file(path)]
    seen: set[str] = set()
    for conversation in conversations:
        if conversation.name in seen:
            raise GoldenFileError(f"two conversations are named {conversation.name!r}")
        seen.add(conversation.name)
    return conversations
