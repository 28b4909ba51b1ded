"""sqla_magic: see where SQLAlchemy time goes, from a notebook cell or a `with` block.

`%load_ext sqla_magic` then `%%sqlprofile` on a cell, or `with profile() as report:` in
plain Python.  Heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqla_magic import model
from sqla_magic.model import (
    CallNode,
    Finding,
    Memory,
    MemoryLine,
    Plan,
    PlanNode,
    Report,
    Rewrite,
    Statement,
)

if TYPE_CHECKING:
    from sqla_magic.budgets import BudgetExceeded, budget
    from sqla_magic.pipeline import profile

__version__ = "0.1.0"

pytest_plugins = ["sqla_magic.pytest_plugin"]
"""What `pytest -p sqla_magic` loads when the package is not installed (installed, the
`pytest11` entry point names the plugin module itself)."""

__all__ = [
    "BudgetExceeded",
    "CallNode",
    "Finding",
    "Memory",
    "MemoryLine",
    "Plan",
    "PlanNode",
    "Report",
    "Rewrite",
    "Statement",
    "budget",
    "last_report",
    "load_ipython_extension",
    "profile",
    "save",
    "unload_ipython_extension",
]


# The model imports nothing of the package; its display and file methods are these.


def _text(report: Report) -> str:
    from sqla_magic.render.text import render_text

    return render_text(report)


def _fragment(report: Report) -> str:
    from sqla_magic.render.html import render_fragment

    return render_fragment(report)


def _page(report: Report) -> str:
    from sqla_magic.render.html import render_page

    return render_page(report)


def save(report: Report, path: Any, redact: bool = False) -> None:
    """Write `report` to `path`: `.html` as a standalone page, `.json` as `Report.to_json`.

    `redact` replaces parameter values with `?` in what is written.
    """
    from sqla_magic.render.files import save_report

    save_report(report, path, redact=redact)


def _statements_frame(report: Report) -> Any:
    from sqla_magic.render.frames import statements_frame

    return statements_frame(report)


def _groups_frame(report: Report) -> Any:
    from sqla_magic.render.frames import groups_frame

    return groups_frame(report)


def _findings_frame(report: Report) -> Any:
    from sqla_magic.render.frames import findings_frame

    return findings_frame(report)


def _comparison_text(comparison: model.Comparison) -> str:
    from sqla_magic.render.compare import render_comparison_text

    return render_comparison_text(comparison)


def _comparison_fragment(comparison: model.Comparison) -> str:
    from sqla_magic.render.html import render_comparison_fragment

    return render_comparison_fragment(comparison)


def _comparison_page(comparison: model.Comparison) -> str:
    from sqla_magic.render.html import render_comparison_page

    return render_comparison_page(comparison)


model.VIEWS = model.Views(
    text=_text,
    fragment=_fragment,
    page=_page,
    save=save,
    statements_frame=_statements_frame,
    groups_frame=_groups_frame,
    findings_frame=_findings_frame,
    comparison_text=_comparison_text,
    comparison_fragment=_comparison_fragment,
    comparison_page=_comparison_page,
)


def __getattr__(name: str) -> Any:
    if name == "profile":
        from sqla_magic.pipeline import profile

        return profile
    if name in ("budget", "BudgetExceeded"):
        from sqla_magic import budgets

        return getattr(budgets, name)
    if name == "magic":
        import importlib

        return importlib.import_module("sqla_magic.magic")
    raise AttributeError(f"module 'sqla_magic' has no attribute {name!r}")


def last_report() -> Optional[Report]:
    """The latest `Report` of this kernel (from `%%sqlprofile` or `profile()`), or None."""
    from sqla_magic.pipeline import last_report as latest

    return latest()


def load_ipython_extension(shell: Any) -> None:
    from sqla_magic.magic import load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    from sqla_magic.magic import unload

    unload(shell)
