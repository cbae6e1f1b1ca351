"""The template catalogue's file as pydantic models: one [[template]] table per name and
language, each checked on its own (keys, Meta's language codes and categories, placeholders
against parameters, Meta's body limit), and the file across its entries (duplicates, one
category per name, the re-engagement templates). Read and looked up in
server/outbox/templates_catalog.py; the format: docs/templates.md."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pywa.types.templates import TemplateLanguage

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A {{parameter}} in a template's example text."""
BODY_LIMIT = 1024
"""Meta's limit on a template body, parameters filled in."""
META_LANGUAGES = frozenset(str(code.value) for code in TemplateLanguage if code.value != "None")
"""Meta's template language codes (en, es, pt_BR, ...), as pywa knows them."""


class Category(StrEnum):
    """Meta's template categories."""

    UTILITY = "utility"
    MARKETING = "marketing"
    AUTHENTICATION = "authentication"


def base_language(code: str) -> str:
    """"pt" for pt_BR, pt-BR or pt: what a detected customer language is compared by."""
    return code.replace("-", "_").split("_")[0].lower()


def _meta_language(code: str) -> str:
    if code not in META_LANGUAGES:
        raise ValueError(f"{code!r} is not one of Meta's template languages (e.g. en, es, de, fr, pt_BR)")
    return code


class Parameter(BaseModel):
    """One named parameter: filled by the agent (or the code) when the template is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    description: str = Field(min_length=1, max_length=200)
    example: str = Field(min_length=1, max_length=200)
    """A sample value: the console and the docs show the example text filled with these."""


class Template(BaseModel):
    """One template in one language, as approved by Meta."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: Annotated[str, AfterValidator(_meta_language)]
    category: Category
    example: str = Field(min_length=1)
    """The text as approved, each parameter as {{name}}."""
    parameters: tuple[Parameter, ...] = ()
    parameter_format: Literal["named", "positional"] = "named"
    """Meta's parameter format: named ({{order_number}}) or positional ({{1}}, sent in order)."""
    reengagement: bool = False
    """Sent by the outbox for a bot reply when the customer's window has closed (one per language)."""

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.language

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def render(self, values: Mapping[str, str] | None = None) -> str:
        """The example text with `values` (else each parameter's example) in its placeholders."""
        filled = {p.name: p.example for p in self.parameters} | dict(values or {})
        return PLACEHOLDER.sub(lambda m: filled.get(m[1], m[0]), self.example)

    @model_validator(mode="after")
    def _placeholders_match_parameters(self) -> Template:
        named = self.parameter_names
        if duplicate := [n for n, count in Counter(named).items() if count > 1]:
            raise ValueError(f"parameter {duplicate[0]!r} is listed twice")
        used = PLACEHOLDER.findall(self.example)
        if missing := [n for n in named if n not in used]:
            raise ValueError(f"parameter {missing[0]!r} has no {{{{{missing[0]}}}}} in example")
        if unknown := [n for n in used if n not in named]:
            raise ValueError(f"example has {{{{{unknown[0]}}}}}, which is not one of its parameters")
        if len(self.render()) > BODY_LIMIT:
            raise ValueError(f"example is over Meta's {BODY_LIMIT} characters with its parameters filled")
        if self.reengagement and (self.parameters or self.category != Category.UTILITY):
            raise ValueError("a re-engagement template must be a utility template without parameters"
                             " (the outbox has nothing to fill them with)")
        return self


class CatalogFile(BaseModel):
    """The whole file: a list of [[template]] tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: tuple[Template, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _across_entries(self, info: ValidationInfo) -> CatalogFile:
        seen: dict[tuple[str, str], int] = {}
        categories: dict[str, Category] = {}
        reengaging: dict[str, str] = {}
        for t in self.template:
            if t.key in seen:
                raise ValueError(f"{t.name} is listed twice in language {t.language}")
            seen[t.key] = 1
            if categories.setdefault(t.name, t.category) != t.category:
                raise ValueError(f"{t.name} has category {t.category} in {t.language} but"
                                 f" {categories[t.name]} in another language (Meta keeps one per template)")
            if t.reengagement and reengaging.setdefault(t.language, t.name) != t.name:
                raise ValueError(f"two re-engagement templates in {t.language}:"
                                 f" {reengaging[t.language]} and {t.name}")
        default = (info.context or {}).get("default_language")
        if default and not any(base_language(lang) == base_language(default) for lang in reengaging):
            raise ValueError(f"no re-engagement template (reengagement = true) in the default"
                             f" language {default!r} (the first of BUSINESS__LANGUAGES)")
        return self
