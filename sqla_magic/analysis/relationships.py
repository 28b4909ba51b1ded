"""What the mapped classes say about a relationship named in a statement's origin, and
about a class's columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqla_magic import _compat


@dataclass(frozen=True)
class RelationshipFacts:
    owner: str
    key: str
    many_to_one: bool
    uselist: bool
    lazy: str
    passive_deletes: bool
    cascade_delete: bool
    target: str
    target_table: str
    table: str


def all_relationships() -> list[RelationshipFacts]:
    return [RelationshipFacts(owner=o, key=k, **facts) for o, k, facts in _compat.mapped_relationships()]


def find(owner: str, key: str) -> Optional[RelationshipFacts]:
    """The relationship `owner.key` of some configured mapper (class names may repeat)."""
    for facts in all_relationships():
        if facts.owner == owner and facts.key == key:
            return facts
    return None


def loaded_relationship(origin: str) -> Optional[tuple[str, str]]:
    """("Author", "books") for the origins `lazy load Author.books` and `eager load Author.books`."""
    for prefix in ("lazy load ", "eager load "):
        if origin.startswith(prefix):
            owner, _, key = origin[len(prefix) :].partition(".")
            return (owner, key) if owner and key else None
    return None


def lazy_loaded(origin: str) -> Optional[tuple[str, str]]:
    """("Author", "books") for the origin `lazy load Author.books`."""
    return loaded_relationship(origin) if origin.startswith("lazy load ") else None


@dataclass(frozen=True)
class ColumnFacts:
    owner: str
    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    """The attribute key of each column."""
    deferred: tuple[str, ...]
    primary_key: tuple[str, ...]

    def key_of(self, column: str) -> Optional[str]:
        return self.keys[self.columns.index(column)] if column in self.columns else None


def columns_of(owner: str) -> Optional[ColumnFacts]:
    """The columns of the mapped class named `owner` (the first, if names repeat)."""
    for name, facts in _compat.mapped_columns():
        if name == owner:
            return ColumnFacts(owner=name, **facts)
    return None


def mapped_tables() -> dict[str, ColumnFacts]:
    """Column facts of every configured mapper, by table name."""
    found: dict[str, ColumnFacts] = {}
    for name, facts in _compat.mapped_columns():
        found.setdefault(facts["table"], ColumnFacts(owner=name, **facts))
    return found
