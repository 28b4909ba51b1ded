"""The statement index the rules share: one pass, grouped by verb, fingerprint, origin, line and place."""

from __future__ import annotations

import dataclasses

from sqla_magic.analysis import evidence
from sqla_magic.model import Plan, Report, Site

from .test_rules import report, stmt

MODULE = Site("/app/shop/services.py", 38, "order_notes")
CELL = "<ipython-input-1>"
LAZY = "SELECT b FROM u WHERE t_id = ?"


def _report() -> Report:
    return dataclasses.replace(
        report(
            stmt("SELECT a FROM t WHERE id = ?", line=3, site=Site(CELL, 3, "<module>")),
            *[stmt(LAZY, origin="lazy load T.us", line=4, site=MODULE, stack=(MODULE,)) for _ in range(2)],
            stmt("UPDATE t SET a = ?", origin="flush", line=5),
            stmt("SELECT 1", line=None),
        ),
        filename=CELL,
    )


def test_statements_are_grouped_by_each_key_in_order() -> None:
    index = evidence.index(_report())
    assert index.verbs == ("SELECT", "SELECT", "SELECT", "UPDATE", "SELECT")
    assert index.of_verb("SELECT") == [0, 1, 2, 4]
    assert index.of_verb("UPDATE", "SELECT") == [0, 1, 2, 3, 4]
    assert index.of_origin("lazy load T.us") == [1, 2]
    assert index.by_line == {3: [0], 4: [1, 2], 5: [3]}
    assert index.on_lines(4, 5) == [1, 2, 3]
    assert index.on_lines(3, 5, "UPDATE") == [3]
    assert sorted(map(len, index.by_fingerprint.values())) == [1, 1, 1, 2]


def test_a_statements_place_is_its_innermost_user_frame_else_its_line_in_the_profiled_file() -> None:
    index = evidence.index(_report())
    assert index.places == (
        (CELL, 3),
        (MODULE.file, MODULE.line),
        (MODULE.file, MODULE.line),
        (CELL, 5),  # no site recorded (a report saved before sites): the cell line
        None,  # outside the user's code
    )
    assert index.of_place((MODULE.file, 38)) == [1, 2]
    assert index.of_place((CELL, 4)) == []


def test_the_index_is_built_once_for_a_report_and_its_copies_with_the_same_statements() -> None:
    first = _report()
    built = evidence.index(first)
    assert evidence.index(first) is built
    assert evidence.index(dataclasses.replace(first, plans=(Plan("f", "sqlite", False, None),))) is built
    other = dataclasses.replace(first, statements=first.statements[:2])
    assert evidence.index(other) is not built
    assert evidence.index(other).of_verb("SELECT") == [0, 1]
