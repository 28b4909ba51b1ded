"""SQLAlchemy and IPython differences and every private API the package touches.

Each helper names the versions it was checked on: SQLAlchemy 1.4.54, 2.0.x and 2.1.x,
IPython 8.x and 9.x.
"""

from __future__ import annotations

import contextlib
import operator
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, Optional

import sqlalchemy
from sqlalchemy.engine import default as _engine_default
from sqlalchemy.event import attr as _event_attr
from sqlalchemy.orm import ORMExecuteState

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


_CURSOR_EXECUTE_CODE = getattr(
    getattr(sqlalchemy.engine.Connection, "_cursor_execute", None), "__code__", None
)


CLASS_LEVEL_LISTENERS_ONLY: Any = _event_attr._EmptyListener
"""Type of an instance's event dispatch that has class-level listeners only, kept in call
order in its `parent_listeners` deque (1.4.54, 2.0.x, 2.1.x)."""


# The statement listeners' reads of SQLAlchemy's execution internals, as C callables:
# cProfile (builtins=False) makes no frame for them, where a helper function here would add
# a timed frame to every statement.

SINGLE_EXECUTE_STYLE: Any = getattr(getattr(_engine_default, "ExecuteStyle", None), "EXECUTE", False)
"""What `execute_style(context)` is for a one-parameter-set execution: `ExecuteStyle.EXECUTE`
(2.0.x, 2.1.x) or `False` (1.4.54, where it reads the plain `executemany` attribute)."""

execute_style: Callable[[Any], Any] = operator.attrgetter(
    "executemany" if SINGLE_EXECUTE_STYLE is False else "execute_style"
)
"""`context.execute_style`, compared with `SINGLE_EXECUTE_STYLE`: in 2.x it spares the
`executemany` property's frame."""

listeners_in_order: Callable[[Any], Any] = operator.attrgetter("parent_listeners")
"""The class-level listeners of a `CLASS_LEVEL_LISTENERS_ONLY` dispatch, in call order."""

execution_facts: Callable[[Any], tuple[Any, Any, Any, Any]] = operator.attrgetter(
    "cache_hit", "compiled", "execution_options", "invoked_statement"
)
"""What a statement's record keeps of its `DefaultExecutionContext` (1.4.54, 2.0.x, 2.1.x):
the compiled cache's outcome (see `cache_state`), the compiled object (None for driver
SQL), the execution options and the statement object the caller invoked."""

CURSOR = "cursor"
"""`DefaultExecutionContext.cursor`, which the result reads its rows from after the DBAPI
call (1.4.54, 2.0.x, 2.1.x): set to a wrapper by `setattr(context, CURSOR, ...)` (a C call),
the fetches are counted and timed."""


def is_side_execution(caller: types.FrameType) -> bool:
    """True when a `do_execute` listener was called from `Connection._cursor_execute`:
    a single statement SQLAlchemy runs on the side of the main one (a pre-executed
    default, a sequence), which shares the main statement's context and so its
    `executemany` flag (1.4, 2.0, 2.1)."""
    return caller.f_code is _CURSOR_EXECUTE_CODE


def is_server_side(context: Any) -> bool:
    """True when the statement runs on a server-side cursor (`stream_results` on
    PostgreSQL / MySQL), whose `description` stays None until the first fetch.

    `DefaultExecutionContext._is_server_side` (1.4.54, 2.0.x, 2.1.x).
    """
    return bool(getattr(context, "_is_server_side", False))


_ORM_OPTIONS = frozenset(
    (
        "_result_disable_adapt_to_context",
        "_sa_orm_load_options",
        "_sa_orm_update_options",
        "_sa_orm_insert_options",
    )
)
"""Execution options `Session.execute` adds to ORM statements on their way to the
connection: every select (`orm_pre_session_exec`), loads with load options, ORM
UPDATE/DELETE, ORM INSERT (1.4 has all but the last; 2.0 and 2.1 all)."""


def orm_origin(statement: Any, execution_options: Any, memo: dict[Any, Optional[str]]) -> Optional[str]:
    """Origin words for an execution `Session.execute` made (a query, a lazy or eager
    load, a refresh, an ORM DML statement), read after the fact from what the cursor saw:
    its `invoked_statement` and execution options.  None when the ORM was not involved.

    The answer comes from an `ORMExecuteState` built on them, as `do_orm_execute` would
    see it; listening to that event instead would cost every ORM execution a second
    `orm_pre_session_exec` pass.  `is_relationship_load`, `lazy_loaded_from` and
    `loader_strategy_path` raise on `text()` and DML, hence the `is_select` guard.
    The constructor's signature is the same in 1.4, 2.0 and 2.1.

    Building that state costs more than the rest of a statement's record, and the answer
    depends on little: the statement's kind, its ORM compile options' load path (one
    interned object per relationship path) and refreshed object, and whether the load
    options name a lazy-loaded parent.  `memo`, a dict that lives while the statements do
    (one report's build), keeps the answer per such shape: the N+1's lazy loads, each its
    own statement object, share one.
    """
    if statement is None or _ORM_OPTIONS.isdisjoint(execution_options):
        return None
    key = _origin_shape(statement, execution_options)
    if key not in memo:
        memo[key] = _orm_origin(statement, execution_options)
    return memo[key]


def _origin_shape(statement: Any, execution_options: Any) -> tuple[Any, ...]:
    """What `_orm_origin` reads: `_compile_options._current_path` / `._for_refresh_state`
    and the load options' `_lazy_loaded_from` (1.4.54, 2.0.x, 2.1.x).  A refresh names
    its statement's entity: keyed by the statement itself."""
    compile_options = getattr(statement, "_compile_options", None)
    refreshed = getattr(compile_options, "_for_refresh_state", None)
    load_options = execution_options.get("_sa_orm_load_options")
    return (
        type(statement),
        bool(getattr(statement, "is_select", False)),
        id(getattr(compile_options, "_current_path", None)),
        id(statement) if refreshed else None,
        getattr(load_options, "_lazy_loaded_from", None) is not None,
    )


def _orm_origin(statement: Any, execution_options: Any) -> Optional[str]:
    state = ORMExecuteState(None, statement, None, execution_options, {}, None, [])  # type: ignore[arg-type]
    if not state.is_select:
        return "orm statement"
    if state.is_relationship_load:
        relationship = _relationship_of(state)
        kind = "lazy load" if state.lazy_loaded_from is not None else "eager load"
        return f"{kind} {relationship}" if relationship else kind
    if getattr(state, "is_column_load", False):
        return f"refresh {_entity_name(statement)}".rstrip()
    return "query"


def _entity_name(statement: Any) -> str:
    """The class name of the statement's first ORM entity ('' if none)."""
    try:
        for description in statement.column_descriptions:
            entity = description.get("entity")
            if entity is not None:
                return str(getattr(entity, "__name__", ""))
    except (AttributeError, TypeError):
        pass
    return ""


def _relationship_of(state: Any) -> str:
    try:
        prop = state.loader_strategy_path.path[-1]
        return f"{prop.parent.class_.__name__}.{prop.key}"
    except (AttributeError, IndexError, TypeError):
        return ""


def engine_url(engine: Any) -> str:
    """The engine URL with its password, and any password in its query, hidden."""
    url = engine.url
    hidden = {key: "***" for key in url.query if key.lower() in ("password", "passwd", "pwd")}
    if hidden:
        url = url.update_query_dict(hidden)
    return str(url.render_as_string(hide_password=True))


async def greenlet_spawn(work: Any) -> Any:
    """Run the sync callable `work` from async code the way `AsyncEngine` does (in a
    greenlet that can await the driver).  `sqlalchemy.util.greenlet_spawn` is internal;
    the same on 1.4, 2.0 and 2.1."""
    from sqlalchemy.util import greenlet_spawn as spawn

    return await spawn(work)


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


def asgi_test_client_code() -> Optional[types.CodeType]:
    """The code of the frame in which Starlette's `TestClient` (FastAPI's is the same)
    waits for one request, with the request's ASGI `scope` as a local: the private
    `starlette.testclient._TestClientTransport.handle_request` (starlette 0.21 to 1.10).
    None when `starlette.testclient` is not imported."""
    testclient = sys.modules.get("starlette.testclient")
    transport = getattr(testclient, "_TestClientTransport", None)
    code = getattr(getattr(transport, "handle_request", None), "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def other_threads_frames() -> dict[int, types.FrameType]:
    """The current frame of every thread (`sys._current_frames`, CPython 3.11 to 3.13)."""
    return sys._current_frames()


def mapped_tables() -> list[Any]:
    """The `Table`s of every configured mapper (the same private registry set as
    `mapped_relationships`; 1.4.54, 2.0.x, 2.1.x)."""
    try:
        from sqlalchemy.orm import mapperlib

        registries = list(mapperlib._mapper_registries)
    except (ImportError, AttributeError):
        return []
    tables: dict[int, Any] = {}
    for registry in registries:
        for mapper in list(getattr(registry, "mappers", ())):
            if getattr(mapper, "configured", False):
                for table in getattr(mapper, "tables", ()):
                    tables.setdefault(id(table), table)
    return list(tables.values())


def identifier_quoter(dialect_name: str) -> Callable[[str], str]:
    """The dialect's own identifier quoting (`user` -> `"user"` on PostgreSQL, `` `user` ``
    on MySQL), through its `IdentifierPreparer`; ANSI double quotes for a dialect SQLAlchemy
    cannot load."""
    try:
        from sqlalchemy.dialects import registry

        # MariaDB is served by the MySQL dialect (`mariadb://` URLs name a driver of it).
        dialect = registry.load("mysql" if dialect_name == "mariadb" else dialect_name)()
        preparer = dialect.identifier_preparer
        return preparer.quote  # type: ignore[no-any-return]
    except Exception:
        return lambda name: '"' + name.replace('"', '""') + '"'


def _configured_mappers() -> Iterator[Any]:
    """Every configured mapper of every registry, through the private registry set
    `sqlalchemy.orm.mapperlib._mapper_registries` (1.4.54, 2.0.x, 2.1.x); unconfigured
    mappers are skipped so reading never triggers configuration."""
    try:
        from sqlalchemy.orm import mapperlib

        registries = list(mapperlib._mapper_registries)
    except (ImportError, AttributeError):
        return
    for registry in registries:
        for mapper in list(getattr(registry, "mappers", ())):
            if getattr(mapper, "configured", False):
                yield mapper


def mapped_relationships() -> list[tuple[str, str, dict[str, Any]]]:
    """Every relationship of every configured mapper: (class name, key, facts).

    Facts: `many_to_one`, `uselist`, `lazy`, `passive_deletes`, `cascade_delete`, `target`
    (class name), `target_table`, `table`.
    """
    found = []
    for mapper in _configured_mappers():
        try:
            relationships = list(mapper.relationships)
        except Exception:
            continue
        for prop in relationships:
            target = prop.mapper
            found.append(
                (
                    mapper.class_.__name__,
                    prop.key,
                    {
                        "many_to_one": prop.direction.name == "MANYTOONE",
                        "uselist": bool(prop.uselist),
                        "lazy": str(prop.lazy),
                        "passive_deletes": bool(prop.passive_deletes),
                        "cascade_delete": bool(prop.cascade.delete),
                        "target": target.class_.__name__,
                        "target_table": getattr(target.local_table, "name", ""),
                        "table": getattr(mapper.local_table, "name", ""),
                    },
                )
            )
    return found


def mapped_columns() -> list[tuple[str, dict[str, Any]]]:
    """Every configured mapper's columns: (class name, facts).

    Facts: `table`, `columns` (column names of the mapped table), `keys` (the attribute key
    of each of those columns), `deferred` (column names mapped with `deferred()` /
    `defer`-by-default), `primary_key` (attribute keys of the primary key, in order).
    """
    found = []
    for mapper in _configured_mappers():
        try:
            properties = list(mapper.column_attrs)
            primary_key = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
        except Exception:
            continue
        columns: list[str] = []
        keys: list[str] = []
        deferred: list[str] = []
        for prop in properties:
            names = [getattr(c, "name", "") for c in prop.columns]
            columns.extend(names)
            keys.extend(prop.key for _ in names)
            if getattr(prop, "deferred", False):
                deferred.extend(names)
        found.append(
            (
                mapper.class_.__name__,
                {
                    "table": getattr(mapper.local_table, "name", ""),
                    "columns": tuple(columns),
                    "keys": tuple(keys),
                    "deferred": tuple(deferred),
                    "primary_key": primary_key,
                },
            )
        )
    return found


class RelationshipReads:
    """Which relationships are read through their attribute (`obj.rel`) while it runs.

    Nothing in SQLAlchemy announces the read of an attribute that is already loaded, so
    each configured mapper's relationship descriptor (an `InstrumentedAttribute`) gets,
    for the run, a subclass of its own class as `__class__` whose `__get__` notes the read
    and puts the original class back: a relationship costs one noted read, then nothing.
    Columns are not touched.  `stop()` restores every descriptor not read.  Mappers
    configured after `start()`, and descriptors another watcher holds (a profile inside a
    profile), are not watched: `watched` names what was.  Swapping
    `__class__` needs the subclass to add no slots (checked on 1.4.54, 2.0.x, 2.1.x);
    a descriptor that refuses is left alone and its reads are not seen.  A cache key that
    holds the attribute (1.4's loader options) names the subclass: such a statement is
    compiled once more while watched.
    """

    def __init__(self) -> None:
        self.read: set[str] = set()
        self.watched: set[str] = set()
        """Every relationship whose reads were watched (`Class.key`)."""
        self._watched: dict[int, tuple[Any, type, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for mapper in _configured_mappers():
            try:
                props = list(mapper.relationships)
                manager = mapper.class_manager
            except Exception:
                continue
            for prop in props:
                descriptor = manager.get(prop.key)
                owners = (mapper.class_.__name__, prop.parent.class_.__name__)
                self._watch(descriptor, tuple(f"{owner}.{prop.key}" for owner in owners))

    def _watch(self, descriptor: Any, names: tuple[str, ...]) -> None:
        original = type(descriptor)
        if descriptor is None or id(descriptor) in self._watched or original.__name__ == "_ReadNoted":
            return
        watching = _read_noting(original)
        try:
            descriptor.__class__ = watching
        except TypeError:
            return
        self._watched[id(descriptor)] = (descriptor, original, names)
        self.watched.update(names)
        _READ_WATCHERS[id(descriptor)] = self

    def outcome(self) -> dict[str, bool]:
        """Each watched relationship (`Class.key`): whether it was read."""
        return {name: name in self.read for name in sorted(self.watched)}

    def noted(self, descriptor: Any) -> None:
        with self._lock:
            watched = self._watched.pop(id(descriptor), None)
        _READ_WATCHERS.pop(id(descriptor), None)
        if watched is not None:
            self.read.update(watched[2])
            descriptor.__class__ = watched[1]

    def stop(self) -> None:
        with self._lock:
            watched, self._watched = self._watched, {}
        for key, (descriptor, original, _names) in watched.items():
            _READ_WATCHERS.pop(key, None)
            descriptor.__class__ = original


_READ_WATCHERS: dict[int, RelationshipReads] = {}
_READ_NOTING: dict[type, type] = {}


def _read_noting(original: type) -> type:
    """`original` with a `__get__` that tells the watcher of the descriptor on an instance read."""
    noting = _READ_NOTING.get(original)
    if noting is None:
        read = original.__get__  # type: ignore[attr-defined]

        def __get__(self: Any, instance: Any, owner: Any = None) -> Any:  # noqa: N807 - the descriptor hook
            if instance is not None:
                watcher = _READ_WATCHERS.get(id(self))
                if watcher is not None:
                    watcher.noted(self)
            return read(self, instance, owner)

        # `inherit_cache`: statements and options naming the attribute keep their cache key
        namespace = {"__slots__": (), "__get__": __get__, "inherit_cache": True}
        noting = _READ_NOTING[original] = type("_ReadNoted", (original,), namespace)
    return noting


def private_engine(engine: Any) -> Any:
    """An `Engine` for the same database as `engine` whose connections never enter its pool.

    Same dialect object, URL, connection creator and pool event listeners (so `connect`
    hooks such as `SET search_path` or `PRAGMA` still run), but a `NullPool`: each
    connection is opened for the caller and closed on release.  Used by EXPLAIN, which must
    not wait on an exhausted pool, hand back a connection with changed session settings, or
    reuse an async driver's connection from another event loop.  `Pool._creator`,
    `Pool._dialect` and the `_dispatch` argument are what `Pool.recreate()` itself uses
    (checked on 1.4.54, 2.0.58, 2.1.9).
    """
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import NullPool

    pool = engine.pool
    fresh = NullPool(pool._creator, _dispatch=pool.dispatch, dialect=pool._dialect)
    return Engine(fresh, engine.dialect, engine.url)


def shares_one_connection(engine: Any) -> bool:
    """True when the engine's pool hands every checkout the same DBAPI connection (per thread):
    `StaticPool` and `SingletonThreadPool`, the pools of in-memory SQLite."""
    from sqlalchemy.pool import SingletonThreadPool, StaticPool

    return isinstance(engine.pool, (StaticPool, SingletonThreadPool))


def shared_dbapi_connection(engine: Any) -> Optional[Any]:
    """The DBAPI connection a `StaticPool` / `SingletonThreadPool` holds (for this thread),
    without a checkout, whose return would reset (roll back) the user's transaction.

    `StaticPool.connection` is a memoized `_ConnectionRecord`; `SingletonThreadPool._conn`
    a thread-local with a weak reference to one (1.4.54, 2.0.58, 2.1.9).  None when the
    pool has not connected yet.
    """
    from sqlalchemy.pool import SingletonThreadPool, StaticPool

    pool = engine.pool
    record: Any = None
    if isinstance(pool, StaticPool):
        record = pool.__dict__.get("connection")
    elif isinstance(pool, SingletonThreadPool):
        current = getattr(pool._conn, "current", None)
        record = current() if current is not None else None
    if record is None:
        return None
    return getattr(record, "dbapi_connection", None)


def main_thread_scheduler(kernel: Any) -> Optional[Callable[[Callable[[], None]], None]]:
    """A function running jobs on the kernel's main thread, one at a time and never during a cell.

    JupyterLab 4.6 sends widget messages to a kernel subshell, whose handler runs on
    another thread; the user's objects may refuse that thread (SQLite) and a running
    cell may be using them.  `kernel.io_loop` is the main thread's Tornado loop and
    `kernel._main_asyncio_lock` the lock every main-shell execute request holds (checked
    on ipykernel 7.4).  ipykernel 6, without subshells, handles comm messages on the main
    thread between cells already, and gets `None`: run the job directly.
    """
    loop = getattr(kernel, "io_loop", None)
    lock = getattr(kernel, "_main_asyncio_lock", None)
    if loop is None or lock is None or not hasattr(lock, "acquire"):
        return None

    async def run(job: Callable[[], None]) -> None:
        async with lock:
            job()

    def schedule(job: Callable[[], None]) -> None:
        loop.add_callback(run, job)

    return schedule


# -- SQLAlchemy's own functions, by file suffix and name as cProfile reports them ---------
# Checked on SQLAlchemy 1.4, 2.0 and 2.1.  Classified by name, never by line number, which
# moves between releases.  `layers.classify` reads the layers from these.

ORM_LOAD_FILES = ("orm/loading.py",)
ORM_LOAD_FUNCTIONS = {
    ("orm/instrumentation.py", "new_instance"),
    ("orm/state.py", "__init__"),
    ("orm/identity.py", "_add_unpresent"),
    # The loaders an attribute access fires (a lazy load, a deferred column): building the
    # lambda statement, the session's and the engine's execution path up to the compile and
    # the DBAPI call, then the rows (`orm/loading.py`).
    ("orm/strategies.py", "__call__"),  # LoadLazyAttribute, LoadDeferredColumns
    ("orm/strategies.py", "_load_for_state"),
    ("orm/strategies.py", "_emit_lazyload"),
}
COMPILE_FILES = ("sql/compiler.py", "sql/cache_key.py", "sql/traversals.py")
COMPILE_FUNCTIONS = {
    ("sql/elements.py", "_compile_w_cache"),
    ("sql/elements.py", "compile"),
    ("sql/elements.py", "_compiler"),
    ("sql/base.py", "_generate_cache_key"),
    ("orm/context.py", "create_for_statement"),
    ("orm/context.py", "orm_pre_session_exec"),
}
MAPPER_CONFIG_FUNCTIONS = {
    ("orm/mapper.py", "configure_mappers"),
    ("orm/mapper.py", "_configure_registries"),
    ("orm/mapper.py", "_do_configure_registries"),
    ("orm/mapper.py", "_configure_all"),
    ("orm/decl_api.py", "configure"),
}
DATABASE_NAMES = (
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
COMPILE_NAME_SUFFIXES = ("_compile_w_cache",)
"""Compile entry points by name alone, in whichever file defines them (`ClauseElement` and
the ORM's `_compile_w_cache` variants)."""
COMPILE_NAMES = ("create_for_statement",)
"""The ORM's compile-state constructors, on every `CompileState` subclass."""
FLUSH_FILES = ("orm/unitofwork.py", "orm/persistence.py", "orm/dependency.py", "orm/sync.py")
FLUSH_FUNCTIONS = {("orm/session.py", "flush"), ("orm/session.py", "_flush")}
FETCH_NAMES = ("fetchone", "fetchmany", "fetchall")
UNIT_OF_WORK_FILES = ("orm/unitofwork.py",)
"""The unit of work: a statement with a frame of this file on its stack came from a flush."""

ORM_ROW_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "orm/loading.py": ("_instance", "_populate_full", "_populate_partial", "chunks", "_instance_processor"),
    "orm/instrumentation.py": ("new_instance",),
    "orm/state.py": ("__init__",),
    "orm/identity.py": ("_add_unpresent",),
}
"""The ORM's row-to-object functions, by file suffix (names as cProfile reports them)."""

MAPPER_CONFIGURE_NAMES = ("_do_configure_registries", "_configure_registries", "configure_mappers")
"""The mapper configuration's entry points in `orm/mapper.py`, innermost first: the first
one the call tree has measures the configuration itself (1.4, 2.0 and 2.1 all have it)."""
MAPPER_CONFIGURE_FILE = "mapper.py"


# -- the verify sandbox (checked on 2.0.58) -------------------------------------------------


def is_savepoint_clause(clause: Any) -> bool:
    """SQLAlchemy's own SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT constructs."""
    from sqlalchemy.sql.elements import ReleaseSavepointClause, RollbackToSavepointClause, SavepointClause

    return isinstance(clause, (SavepointClause, ReleaseSavepointClause, RollbackToSavepointClause))


def is_ddl(clause: Any) -> bool:
    """A DDL construct (`CreateTable`, `DDL(...)`, what `metadata.create_all` executes).

    `DDLElement` is the executable base on 1.4 and its alias `ExecutableDDLElement` on 2.0/2.1."""
    from sqlalchemy.schema import DDLElement

    return isinstance(clause, DDLElement)


def textual_sql(clause: Any) -> Optional[str]:
    """The SQL of a `text()` construct or an `exec_driver_sql` string; None for
    constructs SQLAlchemy compiles itself."""
    from sqlalchemy.sql.elements import TextClause

    if isinstance(clause, str):
        return clause
    if isinstance(clause, TextClause):
        return str(clause.text)
    return None


def compiled_is_dml(context: Any) -> Optional[bool]:
    """Whether a compiled statement's execution context is an INSERT/UPDATE/DELETE;
    None for textual SQL, which the context cannot tell."""
    if getattr(context, "compiled", None) is None or getattr(context, "isddl", False):
        return None
    return bool(context.isinsert or context.isupdate or context.isdelete)


def savepoint_name(transaction: Any) -> Optional[str]:
    """The SAVEPOINT name of a Core `NestedTransaction` (`_savepoint`) or of a nested
    `SessionTransaction` (through its connections' transactions, `_connections`)."""
    name = getattr(transaction, "_savepoint", None)
    if isinstance(name, str):
        return name
    for entry in getattr(transaction, "_connections", {}).values():
        name = getattr(entry[1], "_savepoint", None)
        if isinstance(name, str):
            return name
    return None


def is_autocommit(conn: Any) -> bool:
    """True when the connection runs without transactions: AUTOCOMMIT set on it or on its
    engine (`Connection._is_autocommit_isolation`, 2.0), or the driver connection in
    autocommit mode whatever SQLAlchemy was told."""
    check = getattr(conn, "_is_autocommit_isolation", None)
    if callable(check) and check():
        return True
    try:
        dbapi_connection = conn.connection.dbapi_connection
    except Exception:
        return False
    return dbapi_autocommit(dbapi_connection) is True


def dbapi_autocommit(dbapi_connection: Any) -> Optional[bool]:
    """The driver's own autocommit flag (sqlite3, psycopg2/psycopg, pymysql/mysqlclient);
    None when the driver does not say."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        flag = getattr(dbapi_connection, "autocommit", None)  # Python 3.12+
        if flag is True:
            return True
        return dbapi_connection.isolation_level is None
    getter = getattr(dbapi_connection, "get_autocommit", None)
    if callable(getter):
        return bool(getter())
    flag = getattr(dbapi_connection, "autocommit", None)
    if isinstance(flag, bool):
        return flag
    return None


def dbapi_in_transaction(dbapi_connection: Any) -> Optional[bool]:
    """Whether the driver connection is inside a transaction, as the driver knows it;
    None when the driver does not say."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        return bool(dbapi_connection.in_transaction)
    info = getattr(dbapi_connection, "info", None)
    status = getattr(info, "transaction_status", None)
    if isinstance(status, int):  # psycopg2 / psycopg: 0 is IDLE, 4 UNKNOWN
        return None if status == 4 else status != 0
    server_status = getattr(dbapi_connection, "server_status", None)
    if isinstance(server_status, int):  # pymysql: SERVER_STATUS_IN_TRANS
        return bool(server_status & 1)
    return None


@contextlib.contextmanager
def shared_pools_without_reset() -> Iterator[None]:
    """While inside, the pools that share one DBAPI connection (`StaticPool`,
    `SingletonThreadPool`: in-memory SQLite) do not roll it back when a connection is
    returned, from any thread.  `Pool._reset_on_return` and the `reset_none` marker are
    what `Pool.__init__` sets (2.0.58); pools are found among live objects, since the
    sandbox does not know which engines the cell will reach."""
    import gc

    from sqlalchemy.pool import SingletonThreadPool, StaticPool
    from sqlalchemy.pool import base as pool_base

    changed = []
    for pool in gc.get_objects():
        if isinstance(pool, (StaticPool, SingletonThreadPool)):
            changed.append((pool, pool._reset_on_return))
            pool._reset_on_return = pool_base.reset_none
    try:
        yield
    finally:
        for pool, reset in changed:
            pool._reset_on_return = reset


def connect_args(engine: Any) -> dict[str, Any]:
    """The keyword arguments the engine's pool hands the driver (`connect_args` merged
    with the URL's), read from the `cparams` cell of the creator `create_engine` builds
    (2.0.58); empty when the creator is the user's own."""
    creator = getattr(engine.pool, "_creator", None)
    code = getattr(creator, "__code__", None)
    cells = getattr(creator, "__closure__", None) or ()
    if code is None:
        return {}
    for name, cell in zip(code.co_freevars, cells, strict=False):
        if name == "cparams":
            with contextlib.suppress(ValueError):
                value = cell.cell_contents
                if isinstance(value, dict):
                    return value
    return {}


def cancel_statement(dbapi_connection: Any) -> None:
    """Stop the statement running on a DBAPI connection, from another thread: sqlite3's
    `interrupt()`, psycopg2/psycopg's `cancel()`; drivers without one (pymysql) are left
    to their statement time limit."""
    for name in ("interrupt", "cancel"):
        method = getattr(dbapi_connection, name, None)
        if callable(method):
            with contextlib.suppress(Exception):
                method()
            return
