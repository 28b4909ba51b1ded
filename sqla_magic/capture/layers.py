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
