"""The golden conversations' YAML schema, and the set shipped with Switchboard."""

from __future__ import annotations

from collections import Counter
from typing import get_args

import pytest
import yaml

from graph.base.media_text import TRANSCRIBED
from server.evals.golden import (
    GoldenFileError,
    GoldenTurn,
    Kind,
    load_conversations,
    load_file,
)
from tools import TOOLS
from tools.seed import CUSTOMERS


def test_the_shipped_set_loads_and_covers_every_kind_the_issue_names():
    conversations = load_conversations()
    assert len(conversations) >= 40
    kinds = Counter(c.kind for c in conversations)
    assert set(kinds) >= {"verification", "order_status", "returns", "billing", "complaint",
                          "human_request", "injection", "multi_order", "language", "voice_note",
                          "late_message"}
    assert set(kinds) <= set(get_args(Kind))


def test_the_shipped_set_speaks_of_the_demo_shop():
    phones = {c[2] for c in CUSTOMERS if c[2]}
    tools = {t.name for t in TOOLS}
    for conversation in load_conversations():
        assert conversation.phone is None or conversation.phone in phones, conversation.name
        for turn in conversation.turns:
            assert {t.name for t in turn.tools or []} <= tools, conversation.name


def test_a_turn_reads_as_the_server_hands_it_over():
    assert GoldenTurn(voice=" where is my rug ").text == f"{TRANSCRIBED} where is my rug"
    assert GoldenTurn(media="image").text == "[image]"
    assert GoldenTurn(say="hi").text == "hi"


@pytest.mark.parametrize("turn, problem", [
    ({}, "exactly one of say, voice or media"),
    ({"say": "hi", "voice": "hi"}, "exactly one of say, voice or media"),
    ({"media": "hologram"}, "media must be one of"),
    ({"say": "hi", "intent": "weather"}, "intent"),
    ({"say": "hi", "handof": True}, "handof"),
    ({"say": "hi", "must_contain": [[]]}, "empty fact"),
    ({"say": "hi", "tools": [{"args": {}}]}, "tools.0.name"),
])
def test_a_malformed_turn_is_refused_with_the_file_and_field(tmp_path, turn, problem):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"conversations": [
        {"name": "broken-one", "kind": "billing", "turns": [turn]}]}))
    with pytest.raises(GoldenFileError) as error:
        load_file(path)
    message = str(error.value)
    assert message.startswith("broken.yaml: conversations.0.turns.0")
    assert problem in message


def test_invalid_yaml_and_missing_fields_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("conversations: [\n")
    with pytest.raises(GoldenFileError, match="a.yaml: not valid YAML"):
        load_file(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("conversations:\n  - name: Bad Name\n    kind: billing\n")
    with pytest.raises(GoldenFileError, match=r"conversations\.0\.name.*conversations\.0\.turns"):
        load_file(tmp_path / "b.yaml")


def test_names_are_unique_across_files(tmp_path):
    text = "conversations:\n  - name: same\n    kind: billing\n    turns: [{say: hi}]\n"
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(GoldenFileError, match="two conversations are named 'same'"):
        load_conversations(tmp_path)
