"""What the mapped classes say about a relationship named in a statement's origin."""

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


def lazy_loaded(origin: str) -> Optional[tuple[str, str]]:
    """("Author", "books") for the origin `lazy load Author.books`."""
    if not origin.startswith("lazy load "):
        return None
    owner, _, key = origin[len("lazy load ") :].partition(".")
    return (owner, key) if owner and key else None
