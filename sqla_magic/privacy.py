"""What a report must never show (passwords) and what `--redact` takes out (the data).

One walker, `transform`, goes through a Report's dataclasses, mappings and sequences and
hands every string to a policy together with the name of the field it sits in; a policy
decides by the field and by the structure of the text, never by replacing a word
everywhere (a password `postgres` must not turn `postgresql://` into `***ql`):

- Passwords, always (`without_passwords`): the password field of any URL in free text
  (`scheme://user:PASSWORD@`), in the clear or URL-encoded; `password=...` and
  `'password': '...'` pairs; a parameter whose value *is* a known password.  The known
  passwords are those of every engine that connected or tried to (`watch_connections`):
  the URL's, its `?password=` and the `connect_args`.  Code (the cell, rewrites) and SQL
  are never touched.
- `--redact` (`redacted`): every parameter value becomes `?`; in free text and SQL (plan
  filters, errors, notes) every string literal, number, UUID and decimal goes whole; in
  code, the parameter values that appear in it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqla_magic.model import CallNode, Finding, field_column, is_one_object, pending_rewrite, run_starts

MASK = "***"
REDACTED = "?"
PASSWORD_KEYS = ("password", "passwd", "pwd")
MIN_SCRUBBED_LENGTH = 4
"""Shorter parameter values are not searched for in code: they would match ordinary words."""

CODE_FIELDS = frozenset({"source", "original", "rewritten", "fix"})
"""Fields holding code the user wrote or will run: passwords are never masked there."""
SQL_FIELDS = frozenset({"sql"})
PARAM_FIELDS = frozenset({"params"})
KEY_FIELDS = frozenset(
    {
        "fingerprint",
        "dialect",
        "engine",
        "rule",
        "severity",
        "kind",
        "method",
        "name",
        "file",
        "function",
        "path",
    }
)
"""Identifiers, names and code locations, never data (`engine` is rendered without its password)."""

Policy = Callable[[str, str], str]
"""(field as `Class.name`, text) -> text."""
OUR_WORDS = frozenset({"Finding.title", "Finding.message", "PlanWarning.message"})
"""Text this package writes about the data (counts, names): only parameter values leave it."""

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/?#@\s'\"]*:)(?P<password>[^@\s'\"/]*)(?=@)")
_PASSWORD_PAIR = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\b['\"]?\s*[:=]\s*['\"]?)(?P<password>[^'\"\s,;&)}]*)",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_NUMBER = re.compile(r"(?<![\w.$])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_PARAMETERS_IN_ERROR = re.compile(r"\[parameters: [^\n]*\]")
_KEY_VALUE_IN_ERROR = re.compile(r"(\)=\()[^)]*(\))")
_TRUNCATION = re.compile(r"… \(\+\d+ chars\)$")


def transform(
    value: Any,
    policy: Policy,
    field: str = "",
    *,
    build: bool = False,
    untouched: frozenset[str] = frozenset(),
) -> Any:
    """`value` with `policy` applied to every string, by field; unchanged parts are the
    same objects.  A finding's rewrite still to be built is left as it is unless `build`.

    `policy` must give the same text for the same field and text: each (field, text) is
    asked once, and a part met twice in one walk (a report's statements share their
    sites and stacks) is walked once.  Values under a field named in `untouched` (the
    bare name: `sql`, not `Statement.sql`) are left as they are without being read, for
    the fields where the policy changes nothing.
    """
    return _Walk(policy, build, untouched).walk(value, field)


_NOT_TEXT = frozenset((int, float, bool, type(None)))
_TEXT_OR_NONE = frozenset((str, type(None)))
_CHILDREN = "CallNode.children"
"""The field a call tree's nodes are walked under once `_tree_unchanged` has said no."""


class _Walk:
    """One `transform`: the policy's answers and the parts already walked, kept for the walk."""

    def __init__(self, policy: Policy, build: bool, untouched: frozenset[str]) -> None:
        self.policy = policy
        self.build = build
        self.untouched = untouched
        self.texts: dict[tuple[str, str], str] = {}
        self.done: dict[tuple[int, str], tuple[Any, Any]] = {}
        """(id, field) -> (the part, its result): the part is held so that its id stays its own."""

    def text(self, field: str, text: str) -> str:
        key = (field, text)
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = self.policy(field, text)
        # an equal text met again stays the object it is (compared as texts, whatever its class)
        return text if str.__eq__(found, text) is True else found

    def walk(self, value: Any, field: str) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(field, value)
        if kind in _NOT_TEXT:
            return value
        key = (id(value), field)
        found = self.done.get(key)
        if found is None:
            found = self.done[key] = (value, self._walk(value, field))
        return found[1]

    def _walk(self, value: Any, field: str) -> Any:
        if isinstance(value, str):
            return self.text(field, value)
        if isinstance(value, (tuple, list)):
            if len(value) >= _BY_COLUMN:
                kinds = set(map(type, value))
                if _NOT_TEXT.issuperset(kinds):
                    return value  # numbers only (a finding's statement positions): no text in it
                if len(kinds) == 1:
                    kind = kinds.pop()
                    if kind is not Finding and dataclasses.is_dataclass(kind):
                        return self._columns(value, kind)
            items = None
            for position, item in enumerate(value):
                new = item if type(item) in _NOT_TEXT else self.walk(item, field)
                if new is not item:
                    if items is None:
                        items = list(value)
                    items[position] = new
            return value if items is None else type(value)(items)
        if isinstance(value, Mapping):
            pairs = None
            for key, item in value.items():
                new = item if type(item) in _NOT_TEXT else self.walk(item, field)
                if new is not item:
                    if pairs is None:
                        pairs = dict(value)
                    pairs[key] = new
            return value if pairs is None else pairs
        if type(value) is CallNode and field != _CHILDREN and self._tree_unchanged(value):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            owner = type(value).__name__
            for name in _field_names(type(value)):
                if name in self.untouched:
                    continue
                if (
                    name == "rewrite"
                    and not self.build
                    and isinstance(value, Finding)
                    and pending_rewrite(value) is not None
                ):
                    continue
                old = getattr(value, name)
                if type(old) in _NOT_TEXT:
                    continue
                new = self.walk(old, f"{owner}.{name}")
                if new is not old:
                    changes[name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    def _tree_unchanged(self, root: CallNode) -> bool:
        """Whether the policy leaves every text of a call tree as it is, read as `_columns`
        reads statements: each field of all its nodes at once, each distinct text once (a
        tree has thousands of nodes and a few words).  Where it would change one, the tree
        is walked node by node."""
        nodes = [root]
        for node in nodes:  # every node, the list growing as it is read
            nodes.extend(node.children)
        for name in _field_names(CallNode):
            if name in self.untouched or name == "children":
                continue
            parts, by_value = _distinct_parts(field_column(nodes, name))
            if not by_value:
                return False
            qualified = f"CallNode.{name}"
            for text in parts:
                if text is not None and self.text(qualified, text) is not text:
                    return False
        return True

    def _columns(self, value: Any, kind: type) -> Any:
        """A sequence of one dataclass walked field by field: each distinct part of a field
        once (a report's statements repeat their origin, thread, site and stack), and the
        items rebuilt only where a part changed.  The same result as walking item by item."""
        owner = kind.__name__
        changed: dict[int, dict[str, Any]] = {}
        for name in _field_names(kind):
            if name in self.untouched:
                continue
            column = field_column(value, name)
            parts, by_value = _distinct_parts(column)
            qualified = f"{owner}.{name}"
            results = {}
            for old in parts:
                if type(old) in _NOT_TEXT:
                    continue
                new = self.walk(old, qualified)
                if new is not old:
                    results[old if by_value else id(old)] = new
            if results:
                for position, old in enumerate(column):
                    new = results.get(old if by_value else id(old))
                    if new is not None:
                        changed.setdefault(position, {})[name] = new
        if not changed:
            return value
        items = list(value)
        for position, changes in changed.items():
            items[position] = dataclasses.replace(items[position], **changes)
        return type(value)(items)


_BY_COLUMN = 8
"""Sequences of one dataclass at least this long are walked by column (`_Walk._columns`)."""


def _distinct_parts(column: Sequence[Any]) -> tuple[Collection[Any], bool]:
    """The parts of a column (one field of many items) that the policy must see, each once,
    and whether they are told apart by value (texts) or by identity (anything else).

    A report's statements share their values in runs (a loop's statements have one cache
    word, origin, thread, site and stack): the first object of each run, found in C by
    identity (`model.run_starts`), stands for the run, and only those have their type read (a
    column of numbers is read whole: they rarely repeat).  Values are compared by value
    only once all are known to be plain texts, numbers or None, whose equality is their
    value's: no object's own `__eq__` or `__hash__` decides what the policy sees.
    """
    parts: Sequence[Any]
    if is_one_object(column):
        parts = column[:1]  # one object throughout: most fields of a loop's statements
    elif type(column[0]) in _NOT_TEXT:
        parts = column
    else:
        parts = list(map(column.__getitem__, run_starts(column)))
    kinds = set(map(type, parts))
    if _NOT_TEXT.issuperset(kinds):
        return (), True
    if _TEXT_OR_NONE.issuperset(kinds):
        return dict.fromkeys(parts).keys(), True
    return dict(zip(map(id, parts), parts, strict=True)).values(), False


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


# -- passwords ---------------------------------------------------------------------------------


def without_passwords(report: Any, engines: Iterable[Any] = (), passwords: Iterable[str] = ()) -> Any:
    """`report` with passwords masked by structure (see the module docstring): those of
    `engines` and `passwords` (from `watch_connections`) as values, any URL's by position."""
    known = {str(p) for p in passwords if p}
    for engine in engines:
        known |= engine_passwords(engine)
    encoded = {urllib.parse.quote_plus(p) for p in known} | {urllib.parse.quote(p, safe="") for p in known}

    def mask(qualified: str, text: str) -> str:
        field = qualified.rpartition(".")[2]
        if field in CODE_FIELDS or field in SQL_FIELDS or field in KEY_FIELDS:
            return text
        if field in PARAM_FIELDS:
            return MASK if text in known or text in encoded else text
        return mask_text(text)

    untouched = CODE_FIELDS | SQL_FIELDS | KEY_FIELDS
    return transform(report, mask, untouched=untouched if known else untouched | PARAM_FIELDS)


def mask_text(text: str) -> str:
    """Free text with the password of every URL and every `password=` pair masked."""
    if "://" in text:
        text = _URL_PASSWORD.sub(_masked, text)
    if re.search(r"pass|pwd", text, re.IGNORECASE):
        text = _PASSWORD_PAIR.sub(_masked, text)
    return text


def _masked(match: re.Match[str]) -> str:
    return match.group("head") + MASK if match.group("password") else match.group(0)


def url_passwords(url: Any) -> set[str]:
    """The URL's password and any `?password=` in its query."""
    found = {str(url.password)} if getattr(url, "password", None) else set()
    query = getattr(url, "query", None) or {}
    for key in PASSWORD_KEYS:
        value = query.get(key)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, (tuple, list)):
            found.update(str(v) for v in value)
    return found


def hidden_url(url: Any) -> str:
    """The URL as text with its password and any password in its query hidden."""
    query = getattr(url, "query", None) or {}
    hidden = {key: MASK for key in query if key.lower() in PASSWORD_KEYS}
    if hidden:
        url = url.update_query_dict(hidden)
    return str(url.render_as_string(hide_password=True))


class _ConnectionPasswords:
    """Passwords of every engine that connected or tried to while a profile ran, taken from
    the connect arguments SQLAlchemy hands the driver (`do_connect`: URL and connect_args)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers = 0
        self._seen: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.collected: list[set[str]] = []

    def _on_connect(self, dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        if not isinstance(cparams, Mapping):
            return
        found = {str(cparams[key]) for key in PASSWORD_KEYS if cparams.get(key)}
        for target in self.collected:
            target.update(found)

    @contextlib.contextmanager
    def watch(self) -> Iterator[set[str]]:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        found: set[str] = set()
        with self._lock:
            if self._watchers == 0:
                event.listen(Engine, "do_connect", self._on_connect)
            self._watchers += 1
            self.collected.append(found)
        try:
            yield found
        finally:
            with self._lock:
                self.collected.remove(found)
                self._watchers -= 1
                if self._watchers == 0:
                    event.remove(Engine, "do_connect", self._on_connect)


_CONNECTIONS = _ConnectionPasswords()


def watch_connections() -> contextlib.AbstractContextManager[set[str]]:
    """While inside, the set it yields fills with the passwords of connections opened."""
    return _CONNECTIONS.watch()


def engine_passwords(engine: Any) -> set[str]:
    """An engine's URL passwords (its `connect_args` come from `watch_connections` or the
    caller, who can read them through `_compat.connect_args`)."""
    return url_passwords(engine.url)


# -- redaction ---------------------------------------------------------------------------------


def redacted(report: Any) -> Any:
    """A copy of `report` without its data: parameter values become `?`; literals in SQL
    and free text go whole; parameter values also leave the code that quotes them."""
    values = _parameter_texts(statement.params for statement in report.statements)
    ordered = sorted(values, key=len, reverse=True)  # longest first, so no value is half-replaced
    in_code = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(qualified: str, text: str) -> str:
        field = qualified.rpartition(".")[2]
        if field in KEY_FIELDS:
            return text
        if field in PARAM_FIELDS:
            return REDACTED
        if field in CODE_FIELDS:
            return in_code.sub(REDACTED, text) if in_code is not None else text
        text = _PARAMETERS_IN_ERROR.sub(f"[parameters: {REDACTED}]", text)
        text = _KEY_VALUE_IN_ERROR.sub(rf"\g<1>{REDACTED}\g<2>", text)
        if in_code is not None:
            text = in_code.sub(REDACTED, text)
        return text if qualified in OUR_WORDS else scrub_literals(text)

    cleaned = transform(report, redact, build=True, untouched=KEY_FIELDS)
    statements = tuple(
        dataclasses.replace(statement, params=_shape_only(original.params))
        for statement, original in zip(cleaned.statements, report.statements, strict=True)
    )
    return dataclasses.replace(cleaned, statements=statements)


def scrub_literals(text: str) -> str:
    """Every string literal, UUID and number in `text` replaced whole."""
    text = _STRING_LITERAL.sub(f"'{REDACTED}'", text)
    text = _UUID.sub(REDACTED, text)
    return _NUMBER.sub(REDACTED, text)


def _shape_only(value: Any) -> Any:
    """The same shape (names, positions, parameter sets), every value a `"?"`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _shape_only(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_shape_only(item) for item in value)
    return REDACTED


def _parameter_texts(params: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    pending = list(params)
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
        elif value is not None and not isinstance(value, bool):
            text = _TRUNCATION.sub("", str(value))
            if len(text) >= MIN_SCRUBBED_LENGTH:
                found.add(text)
    return found
