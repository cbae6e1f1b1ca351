"""Markdown to WhatsApp markup: what changes, what must not, and that twice is once."""

from __future__ import annotations

import pytest

from nodes import prompts
from nodes.common import say
from nodes.whatsapp_format import to_whatsapp

CASES = [
    # emphasis
    ("**Transit** takes 2 days", "*Transit* takes 2 days"),
    ("__Transit__ takes 2 days", "*Transit* takes 2 days"),
    ("***both*** and ___both___", "*_both_* and *_both_*"),
    ("~~old~~ new", "~old~ new"),
    ("**bold with *inner* italic**", "*bold with _inner_ italic*"),
    ("~~**gone bold**~~", "~*gone bold*~"),
    # links
    ("See [Returns policy](https://help.harborandpine.example/returns).",
     "See Returns policy: https://help.harborandpine.example/returns."),
    ("[https://a.example/x](https://a.example/x)", "https://a.example/x"),
    ("[a.example/x](https://a.example/x/)", "https://a.example/x/"),
    ('[Guide](https://a.example/g "the guide")', "Guide: https://a.example/g"),
    ("![Photo](https://a.example/p.png)", "Photo: https://a.example/p.png"),
    ("<https://a.example/a_b_c>", "https://a.example/a_b_c"),
    ("[Wiki](https://en.wikipedia.org/wiki/Foo_(bar)) here",
     "Wiki: https://en.wikipedia.org/wiki/Foo_(bar) here"),
    ("[Refunds]([link removed])", "Refunds: [link removed]"),
    ("**[Refunds](https://a.example/r)**", "*Refunds: https://a.example/r*"),
    # blocks
    ("# Returns\nText", "*Returns*\nText"),
    ("### **Care** guide ###", "*Care guide*"),
    ("- one\n* two\n+ three\n  - nested", "• one\n• two\n• three\n  • nested"),
    ("1. first\n2. second", "1. first\n2. second"),
    ("> quoted", "> quoted"),
    ("above\n---\nbelow", "above\n\nbelow"),
    ("```python\nx = **y**\n```", "```\nx = **y**\n```"),
    ("Run `a__b__c` then **go**", "Run `a__b__c` then *go*"),
]

UNCHANGED = [
    "2*3 = 6, 5 ** 2 = 25 and a*b*c",
    "£5 * 2 = £10",
    "snake_case_name and file_name_v2.txt",
    "Write to john_doe_smith@example.com today",
    "https://a.example/__private__/x_y_z?q=*a*&r=~~b~~ is the page",
    "www.a.example/__x__ and a.example/__y__",
    "word**bold**word",
    "*already bold* _already italic_ ~already struck~",
    "• a bullet\n1. a step",
    "Hi! 👋 How can I help you today?",
]


@pytest.mark.parametrize("markdown, whatsapp", CASES)
def test_markdown_becomes_whatsapp_markup(markdown, whatsapp):
    assert to_whatsapp(markdown) == whatsapp


@pytest.mark.parametrize("text", UNCHANGED)
def test_text_without_markdown_or_inside_urls_is_left_alone(text):
    assert to_whatsapp(text) == text


@pytest.mark.parametrize("text", [m for m, _ in CASES] + UNCHANGED)
def test_formatting_twice_is_formatting_once(text):
    once = to_whatsapp(text)
    assert to_whatsapp(once) == once


def test_every_canned_text_is_sent_as_written():
    texts = [v for k, v in vars(prompts).items()
             if k.isupper() and isinstance(v, str) and not k.endswith("_PROMPT")]  # prompts are not sent
    assert texts and all(to_whatsapp(t) == t for t in texts)


def test_placeholder_characters_in_the_text_leave_it_untouched():
    text = "odd \ue0000\ue001 **text**"
    assert to_whatsapp(text) == text


def test_say_formats_then_judges_links_on_the_text_as_sent():
    said = say("**Refunds**: [our page](https://help.harborandpine.example/refunds) or "
               "[this](https://evil.example/x_y)", allowed_hosts=["help.harborandpine.example"])
    [text] = said["outbound"]
    assert text == "*Refunds*: our page: https://help.harborandpine.example/refunds or this: [link removed]"
    assert said["messages"][0].content == text  # the transcript keeps what the customer saw
