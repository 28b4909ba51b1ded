"""What a tab of the notebook view is: its name, title, label count and the requests it answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqla_magic.model import Report

if TYPE_CHECKING:
    from sqla_magic.render.view_model import ReportView


@dataclass(frozen=True)
class Tab:
    name: str
    title: str
    count: Callable[[Report], str]
    """What the tab's label shows beside its title ("" for nothing)."""
    requests: Mapping[str, Callable[[ReportView, Mapping[str, Any]], Any]]
    """Request name -> the payload it gets, cleaned for display."""
