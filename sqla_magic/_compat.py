"""SQLAlchemy and IPython differences and every private API the package touches.

Each helper names the versions it was checked on: SQLAlchemy 1.4.54, 2.0.x and 2.1.x,
IPython 8.x and 9.x.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Optional

import sqlalchemy
from sqlalchemy.engine import default as _engine_default

SQLALCHEMY_VERSION = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2])

# `context.cache_hit` values: module-level symbols in 1.4, members of the `CacheStats`
# enum re-exported under the same names in 2.0 / 2.1.
_CACHE_WORDS = {
    _engine_default.CACHE_HIT: "cached",
    _engine_default.CACHE_MISS: "generated",
    _engine_default.NO_CACHE_KEY: "no key",
    _engine_default.CACHING_DISABLED: "no cache",
    _engine_default.NO_DIALECT_SUPPORT: "no cache",
}


def cache_state(cache_hit: Any, compiled: bool) -> str:
    """Word for `context.cache_hit`, as SQLAlchemy's engine logging words it.

    Driver SQL (`exec_driver_sql`, `compiled is None`) is never compiled, so never cached:
    SQLAlchemy logs it as "raw sql", reported here as `no cache`.
    """
    if not compiled:
        return "no cache"
    return _CACHE_WORDS.get(cache_hit, "unknown")


def is_flush_statement(execution_options: Any, engine: Any) -> bool:
    """True for statements the unit of work emits during a flush.

    `orm/persistence.py` runs them with the mapper's own `compiled_cache` execution option
    (checked on 1.4, 2.0, 2.1); statements run any other way carry the engine's cache or none.
    """
    cache = execution_options.get("compiled_cache")
    return cache is not None and cache is not getattr(engine, "_compiled_cache", None)


def orm_origin(state: Any) -> str:
    """Origin words for an `ORMExecuteState` (the `do_orm_execute` event's argument).

    `is_relationship_load`, `lazy_loaded_from` and `loader_strategy_path` raise on
    `text()` and DML, hence the `is_select` guard (1.4, 2.0, 2.1).
    """
    if not state.is_select:
        return "orm statement"
    if state.is_relationship_load:
        relationship = _relationship_of(state)
        kind = "lazy load" if state.lazy_loaded_from is not None else "eager load"
        return f"{kind} {relationship}" if relationship else kind
    if getattr(state, "is_column_load", False):
        mapper = state.bind_arguments.get("mapper")
        name = mapper.class_.__name__ if mapper is not None else ""
        return f"refresh {name}".rstrip()
    return "query"


def _relationship_of(state: Any) -> str:
    try:
        prop = state.loader_strategy_path.path[-1]
        return f"{prop.parent.class_.__name__}.{prop.key}"
    except (AttributeError, IndexError, TypeError):
        return ""


def engine_url(engine: Any) -> str:
    """The engine URL with the password hidden (`URL.render_as_string`, 1.4+)."""
    return str(engine.url.render_as_string(hide_password=True))


def greenlet_parent_frame() -> Optional[types.FrameType]:
    """The frame the parent greenlet waits in, for code run by SQLAlchemy's async layer.

    `AsyncSession` / `AsyncConnection` run the sync API in a greenlet whose stack does not
    reach the caller's coroutine; the parent greenlet, suspended in `greenlet_spawn`,
    does (greenlet 3.x).
    """
    greenlet_module = sys.modules.get("greenlet")
    if greenlet_module is None:
        return None
    current = greenlet_module.getcurrent()
    parent = getattr(current, "parent", None)
    if parent is None:
        return None
    return getattr(parent, "gr_frame", None)


def cell_id(shell: Any) -> Optional[str]:
    """The notebook cell id of the running execute request (ipykernel 6+, JupyterLab 3+)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent()
    except Exception:
        return None
    metadata = parent.get("metadata") or {}
    value = metadata.get("cellId")
    return str(value) if value else None
