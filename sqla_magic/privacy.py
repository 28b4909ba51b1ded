"""Secrets out of the report: the passwords of the engines it saw, masked everywhere.

A password reaches a report's text in more places than the engine URL: an exception or
warning that quotes a full URL, a DBAPI error, a parameter.  One walker visits every
string of the finished report, so a new field cannot be forgotten.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable
from typing import Any

from sqla_magic.model import Finding, Report, pending_rewrite

MIN_HIDDEN_PASSWORD = 4
"""Shorter passwords are not searched for in the report's text: they would match ordinary words."""


def without_passwords(report: Report, engines: Iterable[Any]) -> Report:
    """`report` with the passwords of `engines` replaced by `***` wherever they appear."""
    passwords = {
        str(password)
        for engine in engines
        if (password := engine.url.password) is not None and len(str(password)) >= MIN_HIDDEN_PASSWORD
    }
    if not passwords:
        return report
    pattern = re.compile("|".join(re.escape(p) for p in sorted(passwords, key=len, reverse=True)))
    cleaned: Report = _hide(report, pattern)
    return cleaned


def _hide(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` with `pattern` masked in every string; unchanged parts are the same objects."""
    if isinstance(value, str):
        return pattern.sub("***", value) if pattern.search(value) else value
    if isinstance(value, (tuple, list)):
        items = [_hide(item, pattern) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if isinstance(value, dict):
        pairs = [(_hide(k, pattern), _hide(v, pattern)) for k, v in value.items()]
        changed = any(
            nk is not k or nv is not v for (nk, nv), (k, v) in zip(pairs, value.items(), strict=True)
        )
        return dict(pairs) if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        pending = pending_rewrite(value) if isinstance(value, Finding) else None
        if pending is not None:  # masked once built, without building it now
            changes["rewrite"] = pending.then(functools.partial(_hide, pattern=pattern))
        for f in dataclasses.fields(value):
            if f.name in changes:
                continue
            old = getattr(value, f.name)
            new = _hide(old, pattern)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
