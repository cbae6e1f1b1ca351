"""The order a turn is about: named in the message, picked from our question, the only one in
play, or asked for."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from nodes.order_choice import (
    Option,
    offered_options,
    order_meant,
    picked_option,
    which_order_question,
)

OPTIONS = [Option("HP-10007", "Ceramic table lamp"), Option("HP-10008", "Cotton throw")]
QUESTION = which_order_question(OPTIONS)


def test_the_question_numbers_the_options_and_reads_back_from_the_transcript():
    assert QUESTION == ("Which order do you mean?\n1) HP-10007 Ceramic table lamp\n"
                        "2) HP-10008 Cotton throw\nReply with the number.")
    assert offered_options([AIMessage(QUESTION), HumanMessage("2")]) == OPTIONS
    # Only our last message counts, and only when it is the question.
    assert offered_options([AIMessage(QUESTION), HumanMessage("2"), AIMessage("Here's the latest."),
                            HumanMessage("1")]) == []
    assert offered_options([HumanMessage("2")]) == []


@pytest.mark.parametrize("reply, picked", [
    ("2", "HP-10008"), ("1.", "HP-10007"), ("number 2 please", "HP-10008"), ("#1", "HP-10007"),
    ("the second one", "HP-10008"), ("the first", "HP-10007"), ("the last one", "HP-10008"),
    ("the throw", "HP-10008"), ("the lamp please", "HP-10007"), ("el segundo", "HP-10008"),
    ("3", None), ("no idea", None), ("the cotton lamp", None),
    ("I have 2 questions about returns and a lot more to say", None),
])
def test_a_reply_picks_by_number_place_or_item(reply, picked):
    assert picked_option(reply, OPTIONS) == picked


def test_the_order_named_in_this_message_wins_over_those_seen_before():
    # Issue 13: HP-10007, then HP-10008, then HP-10007 again must be HP-10007.
    in_play = ["HP-10007", "HP-10008"]
    assert order_meant("where is my order HP-10007?", in_play, []) == "HP-10007"
    assert order_meant("and HP-10008?", in_play, []) == "HP-10008"


def test_else_the_pick_else_the_only_one_in_play_else_ask():
    asked = [AIMessage(QUESTION), HumanMessage("2")]
    assert order_meant("2", ["HP-10007"], asked) == "HP-10008"
    assert order_meant("when will it arrive?", ["HP-10007"], []) == "HP-10007"
    assert order_meant("when will it arrive?", ["HP-10007", "HP-10008"], []) is None
    assert order_meant("when will it arrive?", [], []) is None
    assert order_meant("HP-10007 or HP-10008, where are they?", [], []) is None
