"""Which layer a profiled function's time belongs to.

A function is classified by its file suffix and name (never by line numbers, which move
between SQLAlchemy releases).  A function that matches no rule inherits the layer of its
caller, so `Query.all` → `loading.instances` → `strategies...` all count as `orm_load`,
until something below starts another layer (a compile, a DBAPI execute or fetch).
The DBAPI's `commit()` / `rollback()` are C calls that cProfile (without builtins) does
not see: their time is the self time of the dialect's `do_commit` / `do_rollback`, which
therefore count as `database`.  The unit of work's bookkeeping (sorting, collecting
parameters, syncing keys) is `flush`; the SQL it runs is compiled and executed in the
layers below.  Names checked on SQLAlchemy 1.4, 2.0 and 2.1.
"""

from __future__ import annotations

from typing import Optional

_ORM_LOAD_FILES = ("orm/loading.py",)
_ORM_LOAD_FUNCTIONS = {
    ("orm/instrumentation.py", "new_instance"),
    ("orm/state.py", "__init__"),
    ("orm/identity.py", "_add_unpresent"),
}
_COMPILE_FILES = ("sql/compiler.py", "sql/cache_key.py", "sql/traversals.py")
_COMPILE_FUNCTIONS = {
    ("sql/elements.py", "_compile_w_cache"),
    ("sql/elements.py", "compile"),
    ("sql/elements.py", "_compiler"),
    ("sql/base.py", "_generate_cache_key"),
    ("orm/context.py", "create_for_statement"),
    ("orm/context.py", "orm_pre_session_exec"),
}
_MAPPER_CONFIG_FUNCTIONS = {
    ("orm/mapper.py", "configure_mappers"),
    ("orm/mapper.py", "_configure_registries"),
    ("orm/mapper.py", "_do_configure_registries"),
    ("orm/mapper.py", "_configure_all"),
    ("orm/decl_api.py", "configure"),
}
_DATABASE_NAMES = (
    "do_execute",
    "do_executemany",
    "do_execute_no_params",
    "do_commit",
    "do_rollback",
    "do_commit_twophase",
    "do_rollback_twophase",
    "do_rollback_to_savepoint",
    "do_release_savepoint",
)
_FLUSH_FILES = ("orm/unitofwork.py", "orm/persistence.py", "orm/dependency.py", "orm/sync.py")
_FLUSH_FUNCTIONS = {("orm/session.py", "flush"), ("orm/session.py", "_flush")}
_FETCH_NAMES = ("fetchone", "fetchmany", "fetchall")


def classify(file: str, name: str) -> Optional[str]:
    """The layer a function starts, or None if it continues its caller's layer."""
    path = file.replace("\\", "/")
    if path == "~":
        return "fetch" if any(n in name for n in _FETCH_NAMES) else None
    if "sqlalchemy/" not in path:
        if path.endswith("sqla_magic/capture/statements.py") and name in _FETCH_NAMES:
            return "fetch"
        return None
    tail = path.rsplit("sqlalchemy/", 1)[1]
    if name in _DATABASE_NAMES:
        return "database"
    if tail.endswith(_ORM_LOAD_FILES) or (tail, name) in _ORM_LOAD_FUNCTIONS:
        return "orm_load"
    if tail.endswith(_FLUSH_FILES) or (tail, name) in _FLUSH_FUNCTIONS:
        return "flush"
    if (tail, name) in _MAPPER_CONFIG_FUNCTIONS:
        return "mapper_config"
    if tail.endswith(_COMPILE_FILES) or (tail, name) in _COMPILE_FUNCTIONS:
        return "compile"
    if name.endswith("_compile_w_cache") or name == "create_for_statement":
        return "compile"
    return None
