"""What a tab of the notebook view is: its name, title, label count, the requests it answers,
and its section of the static report, written from the same payloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqla_magic.render.view_model import ReportView


def always(view: ReportView) -> bool:
    return True


@dataclass(frozen=True)
class Tab:
    name: str
    title: str
    count: Callable[[ReportView], str]
    """What the tab's label shows beside its title ("" for nothing)."""
    requests: Mapping[str, Callable[[ReportView, Mapping[str, Any]], Any]]
    """Request name -> the payload it gets, cleaned for display."""
    static: Callable[[ReportView], str]
    """The tab's section of the static HTML report, from the payloads of `requests`."""
    shown: Callable[[ReportView], bool] = always
    """Whether this report has the tab at all (Compare only with a baseline)."""
