"""sqla_magic: see where SQLAlchemy time goes, from a notebook cell or a `with` block.

`%load_ext sqla_magic` then `%%sqlprofile` on a cell, or `with profile() as report:` in
plain Python.  Heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

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
    from sqla_magic.capture.run import profile

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
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name == "profile":
        from sqla_magic.capture.run import profile

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
    from sqla_magic.capture.run import last_report as latest

    return latest()


def load_ipython_extension(shell: Any) -> None:
    from sqla_magic.magic import load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    from sqla_magic.magic import unload

    unload(shell)
