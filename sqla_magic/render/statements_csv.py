"""Statements as CSV, one row per execution, for spreadsheets and other tools.

The columns are `Statement`'s fields in order (as `Report.statements_frame()` has them);
parameters (and any other structured value) are written as JSON text.  Written with the
standard `csv` module, so it needs no pandas.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from sqla_magic.model import Report, Statement

COLUMNS = tuple(f.name for f in dataclasses.fields(Statement))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=repr)
    return value


def render_csv(report: Report) -> str:
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(("index", *COLUMNS))
    for index, statement in enumerate(report.statements):
        writer.writerow([index, *(_cell(getattr(statement, name)) for name in COLUMNS)])
    return output.getvalue()
