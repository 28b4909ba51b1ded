"""Where in the user's own code a statement came from, read off the stack it ran on.

The statement listener already walks the stack out to the profiled code's line; the same
walk notes the frames of the user's own code (the profiled cell or file, and any file
outside the standard library, installed packages, IPython/ipykernel, SQLAlchemy and this
package, plus the installed packages named in `user_packages`), whether the ORM's unit of
work is on the stack (a flush statement, whatever options it ran with), and the request
a WSGI or ASGI test client is running.  A file is classified once per profile; a frame then
costs one dict lookup.  Frames of Jinja2 templates carry the template in their globals,
which maps the generated code's line back to the template's own.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any, Optional

from sqla_magic import _compat

OTHER = 0
USER = 1
TEMPLATE = 2
"""User code that may be a Jinja2 template (not a `.py` file): its lines need mapping."""
UNIT_OF_WORK = 3
"""SQLAlchemy's unit of work: a statement with this on its stack was emitted by a flush."""


RequestReader = Callable[[types.FrameType], Optional[tuple[str, int]]]

_request_numbers = itertools.count()
_REQUEST_KEY = "sqla_magic.request"
"""WSGI environ key numbering the requests: a dotted extension key, as PEP 3333 allows."""


def _package_dirs(names: Iterable[str]) -> tuple[str, ...]:
    dirs = []
    for name in names:
        module = sys.modules.get(name)
        for path in getattr(module, "__path__", ()) or ():
            dirs.append(os.path.join(os.path.abspath(path), ""))
    return tuple(dirs)


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.join(os.path.abspath(paths[k]), "") for k in ("stdlib", "platstdlib") if k in paths}
    dirs.update(_package_dirs(("sqlalchemy", "sqla_magic", "IPython", "ipykernel")))
    return tuple(sorted(dirs))


class SiteFinder:
    """Classifies files and frames for one profile (its `user_packages` included)."""

    def __init__(self, profiled_files: frozenset[str], user_packages: Iterable[str] = ()) -> None:
        self.profiled_files = profiled_files
        self.user_packages = tuple(user_packages)
        self.user_dirs = _package_dirs(self.user_packages)
        self.library_dirs = _library_dirs()
        self.kinds: dict[str, int] = {}
        self.requests: dict[Any, RequestReader] = _request_readers()
        self.client_requests: dict[Any, RequestReader] = _client_request_readers(self)
        """Readers of the frame that waits for an ASGI app run on another thread."""
        self.scopes: dict[int, tuple[dict[str, Any], int]] = {}
        """ASGI scopes seen, by id, held so that an id is not reused: the request's number."""

    def kind(self, filename: str) -> int:
        kind = self.kinds.get(filename)
        if kind is None:
            kind = self.kinds[filename] = self._classify(filename)
        return kind

    def _classify(self, filename: str) -> int:
        if filename in self.profiled_files:
            return USER
        path = filename.replace("\\", "/")
        if path.endswith(_compat.UNIT_OF_WORK_FILES) and "sqlalchemy/" in path:
            return UNIT_OF_WORK
        if filename.startswith("<"):
            return OTHER
        absolute = os.path.abspath(filename)
        if self.user_dirs and absolute.startswith(self.user_dirs):
            return USER
        for name in self.user_packages:
            if f"/site-packages/{name}/" in path or path.endswith(f"/site-packages/{name}.py"):
                return USER
        if "/site-packages/" in path or "/dist-packages/" in path or absolute.startswith(self.library_dirs):
            return OTHER
        return USER if filename.endswith(".py") else TEMPLATE


def walk(
    frame: Optional[types.FrameType], finder: SiteFinder
) -> tuple[dict[str, int], list[Any], bool, Optional[tuple[str, int]]]:
    """One pass over the stack: the innermost line of each profiled file, the user's
    frames innermost first out to the profiled code, whether a flush is running, and the
    request being served (through async greenlets too).

    The frames come as one flat list, file, line and function of each in turn: a record
    holds it until the report is built, and a tuple per frame would be three objects more
    a statement to keep and to size (`held_by_records`)."""
    profiled = finder.profiled_files
    kinds = finder.kinds
    requests = finder.requests
    lines: dict[str, int] = {}
    frames: list[Any] = []
    in_flush = False
    request: Optional[tuple[str, int]] = None
    collecting = True
    greenlet_checked = False
    while True:
        while frame is not None:
            code = frame.f_code
            name = code.co_filename
            kind = kinds.get(name)
            if kind is None:
                kind = finder.kind(name)
            if kind in (USER, TEMPLATE):
                if collecting:
                    line = frame.f_lineno
                    if kind == TEMPLATE:
                        line = _template_line(frame, line)
                    frames += name, line, code.co_qualname
                if name in profiled and name not in lines:
                    lines[name] = frame.f_lineno
                    collecting = False
                    if len(lines) == len(profiled):
                        return lines, frames, in_flush, request
            elif kind == UNIT_OF_WORK:
                in_flush = True
            elif requests and request is None:
                reader = requests.get(code)
                if reader is not None:
                    request = reader(frame)
            frame = frame.f_back
        if greenlet_checked:
            if request is None and not lines and finder.client_requests:
                request = _request_of_another_thread(finder)
            return lines, frames, in_flush, request
        greenlet_checked = True
        frame = _compat.greenlet_parent_frame()


def _template_line(frame: types.FrameType, line: int) -> int:
    template = frame.f_globals.get("__jinja_template__")
    if template is None:
        return line
    try:
        return int(template.get_corresponding_lineno(line))
    except Exception:  # a template object of another shape: keep the generated line
        return line


def _wsgi_request(frame: types.FrameType) -> Optional[tuple[str, int]]:
    environ = frame.f_locals.get("environ")
    if not isinstance(environ, dict):
        return None
    number = environ.get(_REQUEST_KEY)
    if number is None:
        number = environ[_REQUEST_KEY] = next(_request_numbers)
    query = environ.get("QUERY_STRING") or ""
    text = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return (f"{text}?{query}" if query else text), int(number)


def _request_of_another_thread(finder: SiteFinder) -> Optional[tuple[str, int]]:
    """The request a test client waits for on another thread, if exactly one does.

    Starlette's `TestClient` (FastAPI's too) runs the ASGI app on an event loop thread and
    plain `def` endpoints on worker threads, so a statement of the app does not have the
    client's frame on its own stack: a statement that did not reach the profiled code looks
    for it among the other threads' stacks.  Two requests waited for at once cannot be told
    apart this way: the statement then has none.
    """
    readers = finder.client_requests
    me = threading.get_ident()
    found = None
    for thread, top in _compat.other_threads_frames().items():
        if thread == me:
            continue
        frame: Optional[types.FrameType] = top
        while frame is not None:
            reader = readers.get(frame.f_code)
            if reader is not None:
                request = reader(frame)
                if request is not None:
                    if found is not None and found != request:
                        return None
                    found = request
                break
            frame = frame.f_back
    return found


def _asgi_request(finder: SiteFinder, frame: types.FrameType) -> Optional[tuple[str, int]]:
    scope = frame.f_locals.get("scope")
    if not isinstance(scope, dict) or scope.get("type") not in ("http", "websocket"):
        return None
    seen = finder.scopes.get(id(scope))
    if seen is None or seen[0] is not scope:
        seen = finder.scopes[id(scope)] = (scope, next(_request_numbers))
    method = scope.get("method", "WEBSOCKET") if scope["type"] == "http" else "WEBSOCKET"
    text = f"{method} {scope.get('path', '/')}"
    query = scope.get("query_string") or b""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    return (f"{text}?{query}" if query else text), seen[1]


def _client_request_readers(finder: SiteFinder) -> dict[Any, RequestReader]:
    """Starlette's test client builds each request's ASGI `scope` in
    `_TestClientTransport.handle_request` and waits there while the app runs."""
    readers: dict[Any, RequestReader] = {}
    code = _compat.asgi_test_client_code()
    if code is not None:
        readers[code] = functools.partial(_asgi_request, finder)
    return readers


def _request_readers() -> dict[Any, RequestReader]:
    """The frames that serve one test-client request, for the frameworks already imported
    (none is imported here): werkzeug's test client runs every WSGI app (Flask's included)
    through `werkzeug.test.run_wsgi_app`, whose `environ` is the request's."""
    readers: dict[Any, RequestReader] = {}
    werkzeug_test = sys.modules.get("werkzeug.test")
    run_wsgi_app = getattr(werkzeug_test, "run_wsgi_app", None)
    code = getattr(run_wsgi_app, "__code__", None)
    if code is not None:
        readers[code] = _wsgi_request
    return readers
