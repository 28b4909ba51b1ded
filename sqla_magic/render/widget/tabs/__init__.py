"""The notebook view's tabs, in the order shown: one module per tab, each giving its title,
the count on its label, the payloads the browser requests for it and its section of the
static report, written from the same payloads (`TAB`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqla_magic.render.widget.tabs import compare, explain, findings, memory, orm, statements, tree
from sqla_magic.render.widget.tabs.tab import Tab

if TYPE_CHECKING:
    from sqla_magic.render.view_model import ReportView

TABS: tuple[Tab, ...] = (
    findings.TAB,
    compare.TAB,
    statements.TAB,
    explain.TAB,
    tree.TAB,
    memory.TAB,
    orm.TAB,
)
"""Also the order of the static report's sections: what to do first, then the evidence."""

REQUESTS: Mapping[str, Callable[[ReportView, Mapping[str, Any]], Any]] = {
    name: answer for tab in TABS for name, answer in tab.requests.items()
}

__all__ = ["REQUESTS", "TABS", "Tab"]
