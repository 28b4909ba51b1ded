"""Writing a report to a file: a standalone HTML page or the lossless JSON.

Parameters are the part of a report most likely to hold secrets (passwords, tokens,
personal data), and exported files travel further than notebooks; `redact=True`
takes the data out before anything is written (`privacy.redacted`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from sqla_magic import privacy
from sqla_magic.model import Report


def save_report(report: Report, path: Union[str, os.PathLike[str]], redact: bool = False) -> None:
    """Write `report` to `path`: `.html` as a standalone page, `.json` as `Report.to_json`,
    `.sarif` as the findings in SARIF 2.1.0, `.csv` as one row per statement."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".json", ".sarif", ".csv"):
        raise ValueError(
            f"cannot save a report as {str(target)!r}: use a .html (standalone page), .json, "
            ".sarif (findings) or .csv (statements) file name"
        )
    if redact:
        report = redacted(report)
    if suffix == ".json":
        text = report.to_json(indent=1)
    elif suffix == ".sarif":
        from sqla_magic.render.sarif import render_sarif

        text = render_sarif(report)
    elif suffix == ".csv":
        from sqla_magic.render.statements_csv import render_csv

        text = render_csv(report)
    else:
        from sqla_magic.render.html import render_page

        text = render_page(report)
    # open() puts the path in the OSError it raises, so a failure says which file it was.
    with open(target, "w", encoding="utf-8") as output:
        output.write(text)


def redacted(report: Report) -> Report:
    """A copy of `report` without its data (`privacy.redacted`)."""
    cleaned: Report = privacy.redacted(report)
    return cleaned
