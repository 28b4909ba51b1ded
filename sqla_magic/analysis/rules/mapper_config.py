"""mapper-config: mapper configuration ran inside the profiled code.

Evidence: the call tree's `_do_configure_registries` / `configure_mappers` nodes (their
total time), or the `mapper_config` layer, of at least `mapper_config_min_s` seconds.  It
happens once per process, at the first query or instantiation after mapped classes are
defined: in a worker or a request it lands on whoever is first.  The fix is a
`configure_mappers()` call at start-up (before forking workers).
"""

from __future__ import annotations

from sqla_magic import _compat
from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import CallNode, Finding, Report

RULE = "mapper-config"
_CONFIGURE = _compat.MAPPER_CONFIGURE_NAMES


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    configured = 0.0
    if report.call_tree is not None:
        for name in _CONFIGURE:
            nodes = [n for n in report.call_tree.walk() if n.name == name and n.file.endswith("mapper.py")]
            configured = sum(n.total_s for n in nodes if not _inside(n, nodes))
            if name == "_do_configure_registries" and configured:
                break
    else:
        configured = report.layers.get("mapper_config", 0.0)
    if configured < thresholds.mapper_config_min_s:
        return []
    orm = [i for i, s in enumerate(report.statements) if s.origin != "core"]
    first_line = evidence.lines_of(report, orm[:1])
    first = sites.site(report, report.statements[orm[0]]) if orm else None
    share = configured / report.wall_s if report.wall_s else 0.0
    return [
        Finding(
            rule=RULE,
            severity="medium" if share >= 0.2 else "low",
            title="Mapper configuration inside the profiled code",
            message=(
                f"Configuring the mappers took {evidence.ms(configured)} ({share:.0%} of "
                f"{evidence.ms(report.wall_s)}), paid by the first ORM use here"
                f"{' at ' + sites.where(report, first) if first is not None else ''}. It happens once per "
                "process; doing it at start-up keeps it out of the first request or cell."
            ),
            lines=first_line,
            sites=sites.sites(report, orm[:1]),
            statements=tuple(orm[:1]),
            fix=(
                "Call `sqlalchemy.orm.configure_mappers()` once after all models are imported, at "
                "application start-up (before forking workers), e.g. at the end of your models module."
            ),
        )
    ]


def _inside(node: CallNode, nodes: list[CallNode]) -> bool:
    return any(other is not node and any(n is node for n in other.walk()) for other in nodes)
