"""Display copies of statement parameters: JSON-friendly, bounded, never the originals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_TEXT = 200
"""Characters of a string parameter kept for display."""
MAX_SETS = 10
"""Parameter sets of an executemany kept for display."""
MAX_ITEMS = 100
"""Values of one parameter set kept for display."""


def kept_sets(parameters: Any) -> tuple[Any, int]:
    """(what a record keeps of the list of parameter sets a `cursor.executemany` received,
    how many sets they were).

    Only the first `MAX_SETS` are kept: all the report shows, and EXPLAIN takes the first.
    Keeping every set would hold a bulk insert's rows, which the driver's call no longer
    needs, until the report is built."""
    sets = len(parameters)
    return (parameters[:MAX_SETS] if sets > MAX_SETS else parameters), sets


def display_params(parameters: Any, listed: bool, sets: int) -> Any:
    """The display copy of the parameters: one set, or of a list of `sets` sets (`listed`,
    as `kept_sets` kept them) the first few."""
    if not listed:
        return _one_set(parameters)
    shown = tuple(_one_set(p) for p in parameters[:MAX_SETS])
    if sets > MAX_SETS:
        shown += (f"... {sets - MAX_SETS} more parameter sets",)
    return shown


_PLAIN = (type(None), bool, int, float)
_PLAIN_TYPES = frozenset(_PLAIN)
_STR_TYPE = frozenset((str,))


def _one_set(parameters: Any) -> Any:
    if parameters is None:
        return None
    kind = type(parameters)
    # The common case first, without the (slower) abstract-class checks: a small dict or
    # tuple of plain values, copied as is.
    values = parameters.values() if kind is dict else ()
    if kind is dict and len(parameters) <= MAX_ITEMS and _PLAIN_TYPES.issuperset(map(type, values)):
        # str keys (as SQLAlchemy names them) are what `str(k)` gives back: a plain copy
        if _STR_TYPE.issuperset(map(type, parameters)):
            return dict(parameters)
        return {str(k): v for k, v in parameters.items()}
    if kind is tuple and len(parameters) <= MAX_ITEMS and _PLAIN_TYPES.issuperset(map(type, parameters)):
        return parameters
    if isinstance(parameters, Mapping):
        items = list(parameters.items())
        shown: dict[str, Any] = {str(k): display_value(v) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            shown["..."] = f"{len(items) - MAX_ITEMS} more"
        return shown
    if isinstance(parameters, Sequence) and not isinstance(parameters, (str, bytes)):
        values = tuple(display_value(v) for v in parameters[:MAX_ITEMS])
        if len(parameters) > MAX_ITEMS:
            values += (f"... {len(parameters) - MAX_ITEMS} more",)
        return values
    return display_value(parameters)


def display_value(value: Any) -> Any:
    """A JSON-friendly, bounded stand-in for one parameter value."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return truncate(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return _one_set(value)
    return truncate(safe_text(value, repr))


def safe_text(value: Any, convert: Any = str) -> str:
    """`str(value)` / `repr(value)`, or a stand-in when the user's method raises: a report
    must never fail (or replace the user's exception) over a broken `__repr__`."""
    try:
        return str(convert(value))
    except Exception as problem:
        return f"<{type(value).__name__} object: {convert.__name__}() raised {type(problem).__name__}>"


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} chars)"
