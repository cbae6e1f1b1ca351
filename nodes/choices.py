"""Options offered with a reply as WhatsApp reply buttons or a list, within Meta's limits.

A reply with up to three options goes out as reply buttons (a title of at most 20 characters
each); with four to ten as a list (rows of at most 24 characters, a description of at most
72). The reply's text still names every option, so a customer on any client (or on Twilio,
where free-form buttons need Content templates) can answer by typing. A tap sends the title
back as the customer's text, so a title must be an answer the graph reads when typed: an order
number (nodes/order_choice.py) or words the human-request pattern knows (nodes/humility.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.state import Choice

MAX_BUTTONS = 3
"""Reply buttons Meta allows on one message."""
MAX_ROWS = 10
"""Rows Meta allows in one list message."""
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72


def shortened(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at most, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def as_buttons(choices: Sequence[Choice]) -> bool:
    """Whether `choices` go out as reply buttons (up to three) rather than a list."""
    return len(choices) <= MAX_BUTTONS


def make_choices(options: Sequence[tuple[str, str, str]]) -> list[Choice]:
    """Choices for (id, title, description) options, fitted to the form they will take.

    Args:
        options: in the order shown; an empty description is left out. Options past the
            tenth are dropped (the text still lists them, so they can be typed).

    Returns:
        At most ten choices; titles cut to the button limit for up to three, else the row
        limit; descriptions only for list rows (buttons have none).
    """
    kept = list(options)[:MAX_ROWS]
    buttons = len(kept) <= MAX_BUTTONS
    limit = BUTTON_TITLE_LIMIT if buttons else ROW_TITLE_LIMIT
    choices: list[Choice] = []
    for choice_id, title, description in kept:
        choice = Choice(id=choice_id, title=shortened(title, limit))
        if description and not buttons:
            choice["description"] = shortened(description, ROW_DESCRIPTION_LIMIT)
        choices.append(choice)
    return choices
