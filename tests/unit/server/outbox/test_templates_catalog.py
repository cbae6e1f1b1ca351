"""The template catalogue's validation: the bundled file, and each problem a bad one can have,
named in one line with the file and the entry."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from graph.base.settings import Settings
from nodes.prompts_i18n import LANGUAGES
from server.outbox import templates_catalog
from server.outbox.templates_catalog import TemplateCatalogError, catalog_for, load, parse

SHIPPED = {"name": "order_shipped_v1", "language": "en", "category": "utility",
           "example": "Order {{order_number}} arrives {{delivery_date}}.",
           "parameters": [{"name": "order_number", "description": "the order", "example": "HP-1"},
                          {"name": "delivery_date", "description": "the day", "example": "Friday"}]}
REENGAGE = {"name": "order_update_v1", "language": "en", "category": "utility", "reengagement": True,
            "example": "We have an update for you. Reply to see it."}


def catalogue(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"template": [copy.deepcopy(e) for e in (entries or (REENGAGE, SHIPPED))]}


def problem(data: dict[str, Any], default_language: str = "en") -> str:
    with pytest.raises(TemplateCatalogError) as refused:
        parse(data, "cat.toml", default_language)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("template catalogue cat.toml: ")
    return message


def test_the_bundled_catalogue_covers_every_language_of_the_canned_replies():
    catalog = load()
    assert catalog.source.endswith("server/outbox/templates.toml")
    for language in LANGUAGES:
        window = catalog.reengagement(language)
        assert window["name"] == "order_update_v1"
        assert templates_catalog.base_language(window["language"]) == language
        for name in catalog.names():
            assert templates_catalog.base_language(catalog.best(name, language).language) == language


def test_a_good_catalogue_parses_and_renders_its_example():
    catalog = parse(catalogue(), "cat.toml")
    shipped = catalog.get("order_shipped_v1", "en")
    assert shipped.parameter_names == ("order_number", "delivery_date")
    assert shipped.render() == "Order HP-1 arrives Friday."
    assert shipped.render({"order_number": "HP-9"}) == "Order HP-9 arrives Friday."


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(extra=1), "cat.toml: extra: unknown key"),
    (lambda d: d["template"][1].update(body="x"), "template 2 (order_shipped_v1, en): body: unknown key"),
    (lambda d: d["template"][1]["parameters"][0].update(kind="text"),
     "template 2 (order_shipped_v1, en): parameters.1.kind: unknown key"),
    (lambda d: d["template"][1].update(category="promotional"),
     "template 2 (order_shipped_v1, en): category: must be one of utility, marketing, authentication"),
    (lambda d: d["template"][1].pop("category"), "template 2 (order_shipped_v1, en): category: required"),
    (lambda d: d["template"][1].update(language="english"),
     "language: 'english' is not one of Meta's template languages"),
    (lambda d: d["template"][1].update(language="pt"), "'pt' is not one of Meta's template languages"),
    (lambda d: d["template"][1].update(name="Order Shipped"), "name: String should match pattern"),
    (lambda d: d["template"][1].update(example="Order {{order_number}} is on its way."),
     "parameter 'delivery_date' has no {{delivery_date}} in example"),
    (lambda d: d["template"][1].update(example="{{order_number}} {{delivery_date}} {{courier}}"),
     "example has {{courier}}, which is not one of its parameters"),
    (lambda d: d["template"][1]["parameters"].append(dict(d["template"][1]["parameters"][0])),
     "parameter 'order_number' is listed twice"),
    (lambda d: d["template"][1]["parameters"][0].update(name="Order-Number"), "String should match pattern"),
    (lambda d: d["template"][1].update(example="x" * 1020 + " {{order_number}} {{delivery_date}}"),
     "example is over Meta's 1024 characters with its parameters filled"),
    (lambda d: d["template"].append(dict(d["template"][1])), "cat.toml: order_shipped_v1 is listed twice in language en"),
    (lambda d: d["template"].append({**d["template"][1], "language": "es", "category": "marketing"}),
     "order_shipped_v1 has category marketing in es but utility in another language"),
    (lambda d: d["template"][0].update(reengagement=False), "no re-engagement template (reengagement = true)"
                                                           " in the default language 'en'"),
    (lambda d: d["template"].append({**d["template"][0], "name": "second_v1"}),
     "two re-engagement templates in en: order_update_v1 and second_v1"),
    (lambda d: d["template"][1].update(reengagement=True), "a re-engagement template must be a utility template"
                                                          " without parameters"),
    (lambda d: d["template"][0].update(category="marketing"), "a re-engagement template must be a utility template"),
    (lambda d: d.update(template=[]), "cat.toml: template: is empty (the file needs [[template]] tables)"),
    (lambda d: d.pop("template"), "cat.toml: template: required"),
    (lambda d: d.update(template=d["template"][0]), "cat.toml: template: must be a list of [[template]] tables"),
    (lambda d: d["template"].append("order_v2"), "cat.toml: template 3: must be a table"),
])
def test_each_problem_is_named(change, expected):
    data = catalogue()
    change(data)
    assert expected in problem(data)


def test_the_reengagement_template_must_exist_in_the_default_language():
    data = catalogue()
    assert "in the default language 'de'" in problem(data, default_language="de")
    data["template"].append({**REENGAGE, "language": "de"})
    assert parse(data, "cat.toml", "de").reengagement(None) == {"name": "order_update_v1", "language": "de"}


def test_more_problems_are_counted():
    data = catalogue()
    data["template"][1].update(category="promo", language="xx")
    assert problem(data).endswith("(and 1 more problem)")


def test_files_that_cannot_be_read_or_parsed(tmp_path: Path):
    with pytest.raises(TemplateCatalogError, match=r"template catalogue .*missing.toml: cannot be read"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[template]\nname = ", encoding="utf-8")
    with pytest.raises(TemplateCatalogError, match=r"bad.toml: not valid TOML"):
        load(bad)


def test_best_language_prefers_the_exact_code_then_the_base_then_the_default():
    data = catalogue(REENGAGE, SHIPPED, {**SHIPPED, "language": "pt_BR"}, {**SHIPPED, "language": "pt_PT"},
                     {**REENGAGE, "language": "es"})
    catalog = parse(data, "cat.toml")
    assert catalog.best("order_shipped_v1", "pt_PT").language == "pt_PT"
    assert catalog.best("order_shipped_v1", "pt").language == "pt_BR"  # the first of its base
    assert catalog.best("order_shipped_v1", "de").language == "en"  # the default language
    assert catalog.best("order_shipped_v1", None).language == "en"
    assert catalog.best("nothing_v1", "en") is None
    assert catalog.reengagement("es") == {"name": "order_update_v1", "language": "es"}
    assert catalog.reengagement("fr") == {"name": "order_update_v1", "language": "en"}


def test_the_settings_name_the_file_and_the_default_language(tmp_path: Path):
    custom = tmp_path / "templates.toml"
    custom.write_text('[[template]]\nname = "hello_v1"\nlanguage = "es"\ncategory = "utility"\n'
                      'reengagement = true\nexample = "Hola"\n', encoding="utf-8")
    settings = Settings(_env_file=None, templates={"file": custom}, business={"languages": ["es-ES", "en"]})
    catalog = catalog_for(settings)
    assert catalog.source == str(custom) and catalog.default_language == "es"
    assert catalog.reengagement("en") == {"name": "hello_v1", "language": "es"}
    assert catalog_for(settings) is catalog  # read once per process
    with pytest.raises(TemplateCatalogError, match="in the default language 'en'"):
        catalog_for(Settings(_env_file=None, templates={"file": custom}))
