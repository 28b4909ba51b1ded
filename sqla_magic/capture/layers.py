"""Which layer a profiled function's time belongs to.

A function is classified by its file suffix and name (never by line numbers, which move
between SQLAlchemy releases).  A function that matches no rule inherits the layer of its
caller, so `Query.all` → `loading.instances` → `strategies...` all count as `orm_load`,
until something below starts another layer (a compile, a DBAPI execute or fetch).  An
attribute access that fires a loader (a lazy load, a deferred column) starts `orm_load`
too: the loader builds its statement and runs it through the session and the engine,
bookkeeping that is SQLAlchemy's loading, not the user's own Python.
The DBAPI's `commit()` / `rollback()` are C calls that cProfile (without builtins) does
not see: their time is the self time of the dialect's `do_commit` / `do_rollback`, which
therefore count as `database`.  The unit of work's bookkeeping (sorting, collecting
parameters, syncing keys) is `flush`; the SQL it runs is compiled and executed in the
layers below.  The names are SQLAlchemy's own, so they live in `_compat`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from sqla_magic._compat import (
    COMPILE_FILES,
    COMPILE_FUNCTIONS,
    COMPILE_NAME_SUFFIXES,
    COMPILE_NAMES,
    DATABASE_NAMES,
    FETCH_NAMES,
    FLUSH_FILES,
    FLUSH_FUNCTIONS,
    MAPPER_CONFIG_FUNCTIONS,
    ORM_LOAD_FILES,
    ORM_LOAD_FUNCTIONS,
)


def classify(file: str, name: str) -> Optional[str]:
    """The layer a function starts, or None if it continues its caller's layer."""
    path = file.replace("\\", "/")
    if path == "~":
        return "fetch" if any(n in name for n in FETCH_NAMES) else None
    if "sqlalchemy/" not in path:
        if path.endswith("sqla_magic/capture/statements.py") and name in FETCH_NAMES:
            return "fetch"
        return None
    tail = path.rsplit("sqlalchemy/", 1)[1]
    if name in DATABASE_NAMES:
        return "database"
    if tail.endswith(ORM_LOAD_FILES) or (tail, name) in ORM_LOAD_FUNCTIONS:
        return "orm_load"
    if tail.endswith(FLUSH_FILES) or (tail, name) in FLUSH_FUNCTIONS:
        return "flush"
    if (tail, name) in MAPPER_CONFIG_FUNCTIONS:
        return "mapper_config"
    if tail.endswith(COMPILE_FILES) or (tail, name) in COMPILE_FUNCTIONS:
        return "compile"
    if name.endswith(COMPILE_NAME_SUFFIXES) or name in COMPILE_NAMES:
        return "compile"
    return None


def file_classifier(file: str) -> Callable[[str], Optional[str]]:
    """`classify` for the functions of one file, by name: what depends on the file alone
    (its SQLAlchemy path, its file rules) is worked out once, where a call graph classifies
    hundreds of functions from a few dozen files."""
    path = file.replace("\\", "/")
    if path == "~":
        return _builtin_layer
    if "sqlalchemy/" not in path:
        if path.endswith("sqla_magic/capture/statements.py"):
            return _fetch_layer
        return _no_layer
    return _SqlalchemyFile(path.rsplit("sqlalchemy/", 1)[1]).layer


def _builtin_layer(name: str) -> Optional[str]:
    return "fetch" if any(n in name for n in FETCH_NAMES) else None


def _fetch_layer(name: str) -> Optional[str]:
    return "fetch" if name in FETCH_NAMES else None


def _no_layer(name: str) -> Optional[str]:
    return None


_FILE_RULES = ((ORM_LOAD_FILES, 0, "orm_load"), (FLUSH_FILES, 1, "flush"), (COMPILE_FILES, 3, "compile"))
"""`classify`'s file suffix rules with their rank among its rules (0 is checked first)."""
_FUNCTION_RULES = (
    (ORM_LOAD_FUNCTIONS, "orm_load"),
    (FLUSH_FUNCTIONS, "flush"),
    (MAPPER_CONFIG_FUNCTIONS, "mapper_config"),
    (COMPILE_FUNCTIONS, "compile"),
)
"""`classify`'s (file suffix, name) rules, the rank of each its position."""
_DATABASE_LAYER = dict.fromkeys(DATABASE_NAMES, "database")
_FUNCTIONS_BY_TAIL: dict[str, list[tuple[int, str, str]]] = {}
for _rank, (_functions, _layer) in enumerate(_FUNCTION_RULES):
    for _tail, _name in sorted(_functions):
        _FUNCTIONS_BY_TAIL.setdefault(_tail, []).append((_rank, _name, _layer))


class _SqlalchemyFile:
    """`classify`'s answers for one SQLAlchemy file: a name's own rule (the database names,
    then the function rules ranked before the file's own), else the file's, else the
    compile names'."""

    __slots__ = ("file_layer", "named")

    def __init__(self, tail: str) -> None:
        rank, self.file_layer = len(_FUNCTION_RULES), None
        for suffixes, file_rank, layer in _FILE_RULES:
            if tail.endswith(suffixes):
                rank, self.file_layer = file_rank, layer
                break
        self.named = _DATABASE_LAYER
        functions = _FUNCTIONS_BY_TAIL.get(tail)
        if functions:
            self.named = dict(_DATABASE_LAYER)
            for function_rank, name, layer in functions:
                if function_rank < rank:
                    self.named.setdefault(name, layer)

    def layer(self, name: str) -> Optional[str]:
        named = self.named.get(name) or self.file_layer
        if named is not None:
            return named
        return "compile" if name.endswith(COMPILE_NAME_SUFFIXES) or name in COMPILE_NAMES else None
