"""Reading a whole Chroma collection in pages.

An unbounded `collection.get()` fails past ~30k rows on embedded Chroma ("too many SQL
variables"), so everything that reads all chunks goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import chromadb
    from chromadb.api.types import Include

T = TypeVar("T")

PAGE = 5000


def get_all(collection: chromadb.Collection, include: Include, where: dict | None = None,
            page: int = PAGE) -> dict[str, list]:
    """`collection.get` for every matching row: ids plus each included field, as lists."""
    out: dict[str, list] = {"ids": [], **{field: [] for field in include}}
    offset = 0
    while True:
        found: Mapping[str, Any] = collection.get(where=where, include=include, limit=page,
                                                  offset=offset)
        for key in out:
            out[key] += list(found[key])
        if len(found["ids"]) < page:
            return out
        offset += page


def included(value: T | None, field: str) -> T:
    """A result field Chroma returns because the query asked to include it."""
    if value is None:
        raise RuntimeError(f"Chroma returned no {field}")
    return value
