"""What the console offers an agent, and a template send judged and filled by parameter name."""

from __future__ import annotations

import pytest

from server.outbox.templates_catalog import parse
from server.outbox.templates_offer import TemplateRefused, fill, offered

REENGAGE = {"name": "order_update_v1", "language": "en", "category": "utility", "reengagement": True,
            "example": "We have an update for you. Reply to see it."}
SHIPPED = {"name": "order_shipped_v1", "language": "en", "category": "utility",
           "example": "Order {{order_number}} arrives {{delivery_date}}.",
           "parameters": [{"name": "order_number", "description": "the order", "example": "HP-1"},
                          {"name": "delivery_date", "description": "the day", "example": "Friday"}]}
CATALOG = parse({"template": [
    REENGAGE, {**REENGAGE, "language": "es"}, SHIPPED,
    {**SHIPPED, "language": "es", "example": "Pedido {{order_number}}: llega {{delivery_date}}."},
    {**SHIPPED, "name": "legacy_v1", "parameter_format": "positional"},
    {"name": "winter_sale_v1", "language": "en", "category": "marketing", "example": "Sale!"},
    {"name": "login_code_v1", "language": "en", "category": "authentication", "example": "Code {{code}}",
     "parameters": [{"name": "code", "description": "one-time code", "example": "123456"}]},
]}, "cat.toml", "en")
VALUES = {"order_number": "HP-10234", "delivery_date": "Friday 12 December"}


def test_only_utility_templates_are_offered_each_in_the_customers_language_else_the_default():
    assert [(t.name, t.language) for t in offered(CATALOG, "es")] == [
        ("order_update_v1", "es"), ("order_shipped_v1", "es"), ("legacy_v1", "en")]
    assert [(t.name, t.language) for t in offered(CATALOG, "de")] == [
        ("order_update_v1", "en"), ("order_shipped_v1", "en"), ("legacy_v1", "en")]


def test_a_named_template_is_filled_by_parameter_name_in_its_order():
    entry, sent = fill(CATALOG, "es", "order_shipped_v1", "es",
                       {"delivery_date": " viernes ", "order_number": "HP-10234"})
    assert entry.language == "es"
    assert sent == {"name": "order_shipped_v1", "language": "es", "params": [{"type": "body", "parameters": [
        {"type": "text", "text": "HP-10234", "parameter_name": "order_number"},
        {"type": "text", "text": "viernes", "parameter_name": "delivery_date"}]}]}


def test_a_positional_template_goes_in_order_without_names_and_one_without_parameters_has_none():
    _, sent = fill(CATALOG, "en", "legacy_v1", "en", VALUES)
    assert sent["params"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "HP-10234"}, {"type": "text", "text": "Friday 12 December"}]}]
    assert fill(CATALOG, "en", "order_update_v1", "", {})[1] == {"name": "order_update_v1", "language": "en"}


@pytest.mark.parametrize(("name", "language", "values", "reason"), [
    ("nothing_v1", "en", {}, "there is no template 'nothing_v1' in the catalogue"),
    ("winter_sale_v1", "en", {}, "winter_sale_v1 is not offered from the console"),
    ("login_code_v1", "en", {"code": "1"}, "login_code_v1 is not offered from the console"),
    ("order_shipped_v1", "en", VALUES, "order_shipped_v1 goes to this customer in es, not 'en'"),
    ("order_shipped_v1", "fr", VALUES, "order_shipped_v1 goes to this customer in es, not 'fr'"),
    ("order_shipped_v1", "es", {**VALUES, "coupon": "X"}, "order_shipped_v1 has no parameter 'coupon'"),
    ("order_shipped_v1", "es", {"order_number": "HP-1"}, "order_shipped_v1: fill in delivery_date"),
    ("order_shipped_v1", "es", {**VALUES, "delivery_date": "  "}, "fill in delivery_date"),
    ("order_shipped_v1", "es", {**VALUES, "delivery_date": "Friday\nor Monday"}, "must be one line"),
    ("order_shipped_v1", "es", {**VALUES, "delivery_date": "Friday\tnoon"}, "must be one line"),
    ("order_shipped_v1", "es", {**VALUES, "delivery_date": "Friday      noon"}, "runs of spaces"),
    ("order_shipped_v1", "es", {**VALUES, "delivery_date": "x" * 201}, "delivery_date is over 200 characters"),
])
def test_a_send_that_is_not_offered_or_has_other_parameters_is_refused(name, language, values, reason):
    with pytest.raises(TemplateRefused) as refused:
        fill(CATALOG, "es", name, language, values)
    assert reason in str(refused.value)


def test_an_empty_language_means_the_one_offered():
    entry, sent = fill(CATALOG, "pt", "order_shipped_v1", "", VALUES)
    assert entry.language == sent["language"] == "en"
