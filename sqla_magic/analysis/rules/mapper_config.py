"""mapper-config: mapper configuration ran inside the profiled code.

Evidence: the call tree's `_do_configure_registries` / `configure_mappers` nodes (their
total time), or the `mapper_config` layer, of at least `mapper_config_min_s` seconds.  It
happens once per process, at the first query or instantiation after mapped classes are
defined: in a worker or a request it lands on whoever is first.  The fix is a
`configure_mappers()` call at start-up (before forking workers).
"""

from __future__ import annotations

import operator
from itertools import chain, compress

from sqla_magic import _compat
from sqla_magic.analysis import evidence, sites
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import CallNode, Finding, Report

RULE = "mapper-config"
_CONFIGURE = _compat.MAPPER_CONFIGURE_NAMES


def rule(report: Report, source: str, thresholds: Thresholds) -> list[Finding]:
    configured = 0.0
    if report.call_tree is not None:
        found = _configuring(report.call_tree)
        for name in _CONFIGURE:
            nodes = found.get(name, [])
            configured = sum(n.total_s for n in nodes if not _inside(n, nodes))
            if name == _CONFIGURE[0] and configured:  # the innermost: the configuration itself
                break
    else:
        configured = report.layers.get("mapper_config", 0.0)
    if configured < thresholds.mapper_config_min_s:
        return []
    indexed = evidence.index(report)
    orm = evidence.merged(indexes for origin, indexes in indexed.by_origin.items() if origin != "core")
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
            seconds=configured,
            share=share,
            fix=(
                "Call `sqlalchemy.orm.configure_mappers()` once after all models are imported, at "
                "application start-up (before forking workers), e.g. at the end of your models module."
            ),
        )
    ]


def _configuring(tree: CallNode) -> dict[str, list[CallNode]]:
    """The call tree's nodes of mapper configuration by name, each name's in depth-first
    order: found level by level (each level read in C), in the order of `walk()` where a
    name is met more than once (its times are summed in that order)."""
    names = frozenset(_CONFIGURE)
    matched: list[CallNode] = []
    level = [tree]
    while level:
        matched.extend(compress(level, map(names.__contains__, map(operator.attrgetter("name"), level))))
        level = list(chain.from_iterable(map(operator.attrgetter("children"), level)))
    by_name: dict[str, list[CallNode]] = {}
    for node in matched:
        if node.file.endswith(_compat.MAPPER_CONFIGURE_FILE):
            by_name.setdefault(node.name, []).append(node)
    if any(len(nodes) > 1 for nodes in by_name.values()):
        by_name = {}
        for node in tree.walk():
            if node.name in names and node.file.endswith(_compat.MAPPER_CONFIGURE_FILE):
                by_name.setdefault(node.name, []).append(node)
    return by_name


def _inside(node: CallNode, nodes: list[CallNode]) -> bool:
    return any(other is not node and any(n is node for n in other.walk()) for other in nodes)
