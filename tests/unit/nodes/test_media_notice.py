"""Media the bot cannot read: the customer is told plainly and offered a human."""

from langgraph.graph import END

from graph.base import media_text
from graph.routes import after_input_guardrail
from graph.state import State
from nodes import prompts
from nodes.input_guardrail import input_guardrail


def test_placeholders_round_trip():
    assert media_text.placeholder("image") == "[image]"
    assert media_text.placeholder("image", caption="cracked leg") == "[image] cracked leg"
    assert media_text.placeholder("document", filename="a]\nb.pdf") == "[document: a b.pdf]"
    assert media_text.unread_kind("[image] cracked leg") == ("image", True)
    assert media_text.unread_kind("[document: a b.pdf]") == ("document", False)
    assert media_text.unread_kind(media_text.transcribed("where is my order")) is None
    assert media_text.unread_kind("my [image] is here") is None


async def test_a_photo_alone_gets_the_notice_and_the_turn_ends(runtime):
    update = await input_guardrail(State(), runtime(["[image]"]))
    (said,) = update["outbound"].value
    assert said == prompts.MEDIA_UNREAD.format(what="photos") and '"agent"' in said
    assert {"media:image", "media_only"} <= set(update["flags"])
    assert [m.type for m in update["messages"]] == ["human", "ai"]
    state = State(messages=update["messages"], flags=update["flags"])
    assert after_input_guardrail(state) == END


async def test_an_unheard_voice_note_asks_the_customer_to_type(runtime):
    update = await input_guardrail(State(), runtime(["[voice]"]))
    assert update["outbound"].value == [prompts.VOICE_UNREAD]


async def test_words_beside_media_are_still_answered(runtime):
    update = await input_guardrail(State(), runtime(["[document: invoice.pdf] is this right?", "hello"]))
    assert update["outbound"].value == [prompts.MEDIA_UNREAD.format(what="documents")]
    assert "media_only" not in update["flags"] and "media:document" in update["flags"]
    assert [m.type for m in update["messages"]] == ["human", "human"]
    assert after_input_guardrail(State(messages=update["messages"], flags=update["flags"])) == "router"


async def test_a_sticker_alone_is_like_an_emoji_and_a_transcript_is_text(runtime):
    update = await input_guardrail(State(), runtime(["[sticker]"]))
    assert update["silence"] == "noise" and not update["outbound"].value
    update = await input_guardrail(State(), runtime([media_text.transcribed("where is HP-10001?")]))
    assert not update["outbound"].value and update["order_refs"] == ["HP-10001"]
