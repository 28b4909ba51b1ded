"""What `%config SqlProfile.<name> = value` sets: reports kept, the user's packages, allocation
tracing, thresholds."""

from __future__ import annotations

import dataclasses
from typing import Any

import traitlets
from IPython.core.magic import Magics

from sqla_magic.analysis.thresholds import Thresholds


class Settings(Magics):
    """The configurable part of the `%%sqlprofile` magics (one trait per threshold is added
    by `threshold_traits`)."""

    keep_reports = traitlets.Int(
        10, min=1, help="how many past reports to hold (sqla_magic.last_report() is the latest)"
    ).tag(config=True)

    user_packages = traitlets.List(
        traitlets.Unicode(),
        help="installed packages whose code counts as your own (where findings point, their rewrites)",
    ).tag(config=True)

    allocations = traitlets.Bool(
        False, help="trace allocations for every profile's memory headline, as --allocations does"
    ).tag(config=True)

    @traitlets.observe("keep_reports")
    def _keep_reports_changed(self, change: Any) -> None:
        from sqla_magic.pipeline import keep_reports

        keep_reports(change["new"])

    def thresholds(self) -> Thresholds:
        """The rules' thresholds as currently configured with `%config SqlProfile.*`."""
        return Thresholds(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Thresholds)})


def threshold_traits() -> dict[str, Any]:
    """One config trait per `Thresholds` field, with its default and help."""
    kinds = {bool: traitlets.Bool, int: traitlets.Int, float: traitlets.Float}
    return {
        f.name: kinds[type(f.default)](f.default, help=f.metadata.get("help", "")).tag(config=True)
        for f in dataclasses.fields(Thresholds)
    }


def loaded_settings(shell: Any) -> Any:
    """The shell's loaded `%%sqlprofile` magics, or None before `%load_ext sqla_magic`."""
    return next((c for c in shell.configurables if isinstance(c, Settings)), None)
