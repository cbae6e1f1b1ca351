"""The catalogue compared with Meta's templates: every kind of difference, and none."""

from __future__ import annotations

from server.outbox.templates_catalog import parse
from server.outbox.templates_meta import Finding, MetaTemplate, compare, placeholders

REENGAGE = {"name": "order_update_v1", "language": "en", "category": "utility", "reengagement": True,
            "example": "We have an update for you. Reply to see it."}
SHIPPED = {"name": "order_shipped_v1", "language": "en", "category": "utility",
           "example": "Order {{order_number}} arrives {{delivery_date}}.",
           "parameters": [{"name": "order_number", "description": "the order", "example": "HP-1"},
                          {"name": "delivery_date", "description": "the day", "example": "Friday"}]}
CATALOG = parse({"template": [REENGAGE, SHIPPED, {**SHIPPED, "name": "legacy_v1", "parameter_format": "positional"}]},
                "cat.toml", "en")
MATCHING = [MetaTemplate("order_update_v1", "en", "APPROVED", "utility", ()),
            MetaTemplate("order_shipped_v1", "en", "APPROVED", "utility", ("delivery_date", "order_number")),
            MetaTemplate("legacy_v1", "en", "APPROVED", "utility", ("1", "2"))]


def test_placeholders_come_from_a_text_header_the_body_and_button_urls_once_each():
    components = [{"type": "HEADER", "format": "TEXT", "text": "Hi {{name}}"},
                  {"type": "HEADER", "format": "IMAGE"},
                  {"type": "BODY", "text": "Order {{ order_number }} for {{name}}"},
                  {"type": "FOOTER", "text": "{{not_a_parameter}}"},
                  {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://t.example/{{1}}"},
                                                  {"type": "QUICK_REPLY", "text": "Stop"}]}]
    assert placeholders(components) == ("name", "order_number", "1")


def test_a_matching_list_has_no_findings():
    assert compare(CATALOG, MATCHING) == []
    # Meta's templates that are not approved and not in the catalogue do not matter.
    assert compare(CATALOG, [*MATCHING, MetaTemplate("old_v1", "en", "REJECTED", "utility", ())]) == []


def test_every_kind_of_difference_is_found():
    meta = [MetaTemplate("order_update_v1", "en", "PAUSED", "marketing", ()),
            MetaTemplate("order_shipped_v1", "en", "APPROVED", "utility", ("order_number", "courier")),
            MetaTemplate("legacy_v1", "en", "APPROVED", "utility", ("1",)),
            MetaTemplate("order_update_v1", "es", "APPROVED", "utility", ())]
    assert compare(CATALOG, meta) == [
        Finding("not_approved", "order_update_v1", "en", "status PAUSED"),
        Finding("category_mismatch", "order_update_v1", "en", "catalogue says utility, Meta says marketing"),
        Finding("parameter_mismatch", "order_shipped_v1", "en",
                "catalogue has 2 (order_number, delivery_date), Meta has 2 (order_number, courier)"),
        Finding("parameter_mismatch", "legacy_v1", "en", "catalogue has 2 (order_number, delivery_date), Meta has 1 (1)"),
        Finding("missing_from_catalogue", "order_update_v1", "es", "approved at Meta, not in the catalogue")]
    assert compare(CATALOG, MATCHING[:1]) == [
        Finding("missing_from_meta", "order_shipped_v1", "en", "in the catalogue, not in Meta's list"),
        Finding("missing_from_meta", "legacy_v1", "en", "in the catalogue, not in Meta's list")]
