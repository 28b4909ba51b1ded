"""The notebook view's tabs, in the order shown: one module per tab, each giving its title,
the count on its label and the payloads the browser requests for it (`TAB`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqla_magic.render.widget.tabs import explain, findings, memory, orm, statements, tree
from sqla_magic.render.widget.tabs.tab import Tab

if TYPE_CHECKING:
    from sqla_magic.render.view_model import ReportView

TABS: tuple[Tab, ...] = (findings.TAB, statements.TAB, tree.TAB, memory.TAB, explain.TAB, orm.TAB)

REQUESTS: Mapping[str, Callable[[ReportView, Mapping[str, Any]], Any]] = {
    name: answer for tab in TABS for name, answer in tab.requests.items()
}

__all__ = ["REQUESTS", "TABS", "Tab"]
