"""Each rule on hand-built reports: it fires on its evidence and stays quiet without it."""

from __future__ import annotations

from typing import Any

from sqla_magic.analysis import PLAN_RULES, RULES
from sqla_magic.analysis.rules import (
    cartesian_product,
    duplicate_query,
    first_for_exists,
    large_result,
    len_all,
    loop_insert,
    loop_update,
    mapper_config,
    n_plus_one,
    no_cache_key,
    repeated_flush,
    seq_scan,
    unused_columns,
)
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import CallNode, CapturedWarning, Plan, PlanWarning, Report, Statement

LIMITS = Thresholds()
MAGIC = "%%sqlprofile\n"


def stmt(sql: str, origin: str = "query", line: int = 2, **extra: Any) -> Statement:
    values: dict[str, Any] = dict(
        sql=sql,
        params=(),
        duration_s=0.001,
        rowcount=-1,
        executemany=False,
        fingerprint=str(hash(sql)),
        cache="cached",
        line=line,
        origin=origin,
        engine="sqlite://",
        thread="MainThread",
        rows=1,
    )
    values.update(extra)
    return Statement(**values)


def report(*statements: Statement, **extra: Any) -> Report:
    return Report(wall_s=0.5, cpu_s=0.5, statements=statements, **extra)


def test_every_rule_is_registered() -> None:
    names = {rule.__module__.rsplit(".", 1)[-1].replace("_", "-") for rule in RULES + PLAN_RULES}
    contract = {
        "n-plus-one", "len-all", "unused-columns", "loop-update", "loop-insert", "first-for-exists",
        "orm-cascade-delete", "no-cache-key", "mapper-config", "repeated-flush", "large-result",
        "seq-scan", "cartesian-product", "dynamic-relationship", "duplicate-query", "loop-select",
        "column-load",
    }  # fmt: skip
    assert names == contract | {"unused-eager-load"}
    assert [seq_scan.rule] == PLAN_RULES


def test_n_plus_one_counts_lazy_loads_and_rewrites_the_parent_query() -> None:
    source = MAGIC + "authors = session.query(Author).all()\nfor a in authors:\n    a.books\n"
    loads = [stmt("SELECT book", "lazy load Author.books", 4) for _ in range(300)]
    found = n_plus_one.rule(report(stmt("SELECT author", line=2), *loads), source, LIMITS)
    assert len(found) == 1
    assert "301 statements, 300 of them `lazy load Author.books` from line 4" in found[0].message
    assert found[0].lines == (2, 4) and len(found[0].statements) == 300
    assert found[0].rewrite is not None and "selectinload(Author.books)" in found[0].rewrite.rewritten
    few = report(stmt("SELECT author"), *loads[:5])
    assert n_plus_one.rule(few, source, LIMITS) == []


def test_len_all_needs_rows_and_the_pattern() -> None:
    source = MAGIC + "n = len(session.query(Book).all())\n"
    assert len_all.rule(report(stmt("SELECT book", rows=500)), source, LIMITS)
    assert not len_all.rule(report(stmt("SELECT book", rows=5)), source, LIMITS)
    assert not len_all.rule(
        report(stmt("SELECT book", rows=500)), MAGIC + "n = session.query(Book).count()\n", LIMITS
    )


def test_first_for_exists_only_in_truth_tests() -> None:
    run = report(stmt("SELECT book LIMIT 1"))
    assert first_for_exists.rule(run, MAGIC + "ok = session.query(Book).first() is not None\n", LIMITS)
    assert not first_for_exists.rule(run, MAGIC + "book = session.query(Book).first()\n", LIMITS)


def test_unused_columns_reads_attribute_use() -> None:
    sql = "SELECT e.id, e.user_id, e.email_address, e.bounced, e.raw_headers FROM e"
    run = report(stmt(sql, rows=900))
    used_one = MAGIC + "emails = [a.email_address for a in session.scalars(select(EmailAddress)).all()]\n"
    assert unused_columns.rule(run, used_one, LIMITS)
    kept = MAGIC + "rows = session.scalars(select(EmailAddress)).all()\nrows\n"
    assert not unused_columns.rule(run, kept, LIMITS)


def test_loop_update_and_insert_count_rows() -> None:
    update = stmt("UPDATE book SET pages=? WHERE book.id = ?", "flush", 4, executemany=True, param_sets=500)
    loop = MAGIC + "for b in session.query(Book):\n    b.pages += 1\nsession.flush()\n"
    assert loop_update.rule(report(update), loop, LIMITS)
    assert not loop_update.rule(report(update), MAGIC + "session.flush()\n", LIMITS)
    inserts = [stmt("INSERT INTO book (title) VALUES (?)", "flush", 4) for _ in range(200)]
    adding = MAGIC + "for i in range(200):\n    session.add(Book(title='x'))\nsession.flush()\n"
    assert loop_insert.rule(report(*inserts), adding, LIMITS)
    assert not loop_insert.rule(report(*inserts[:50]), adding, LIMITS)


def test_repeated_flush_needs_a_loop() -> None:
    flushes = [stmt("INSERT INTO book (title) VALUES (?)", "flush", 4) for _ in range(20)]
    looped = MAGIC + "for i in range(20):\n    session.add(Book(title='x'))\n    session.flush()\n"
    assert repeated_flush.rule(report(*flushes), looped, LIMITS)
    assert not repeated_flush.rule(report(*[stmt(s.sql, "flush", 3) for s in flushes]), looped, LIMITS)


def test_no_cache_key_from_warnings_and_statements() -> None:
    warning = CapturedWarning(
        "SAWarning",
        "TypeDecorator Upper() will not produce a cache key because the "
        "``cache_ok`` attribute is not set to True.",
        2,
    )
    found = no_cache_key.rule(report(stmt("SELECT tag", cache="no key"), warnings=(warning,)), "", LIMITS)
    assert len(found) == 1 and "cache_ok = True" in (found[0].fix or "")
    assert no_cache_key.rule(report(stmt("SELECT tag", cache="no key")), "", LIMITS)
    assert not no_cache_key.rule(report(stmt("SELECT tag")), "", LIMITS)


def test_mapper_config_from_the_call_tree() -> None:
    configure = CallNode("_do_configure_registries", "sqlalchemy/orm/mapper.py", 1, 1, 0.05, 0.05)
    tree = CallNode("<root>", "", 0, 1, 0.5, 0.0, children=(configure,))
    assert mapper_config.rule(report(stmt("SELECT a"), call_tree=tree), "", LIMITS)
    quiet = CallNode("<root>", "", 0, 1, 0.5, 0.5)
    assert not mapper_config.rule(report(stmt("SELECT a"), call_tree=quiet), "", LIMITS)


def test_large_result_and_duplicates() -> None:
    assert large_result.rule(report(stmt("SELECT book", rows=20_000)), "", LIMITS)
    assert not large_result.rule(report(stmt("SELECT book", rows=200)), "", LIMITS)
    same = [stmt("SELECT count(*) FROM book", params=(5,)) for _ in range(4)]
    assert duplicate_query.rule(report(*same), "", LIMITS)
    varied = [stmt("SELECT count(*) FROM book", params=(i,)) for i in range(4)]
    assert not duplicate_query.rule(report(*varied), "", LIMITS)


def test_cartesian_product_from_sql_and_warning() -> None:
    bad = "SELECT author.name, book.title \nFROM author, book \nWHERE author.id < ? AND book.id < ?"
    good = "SELECT author.name, book.title \nFROM author, book \nWHERE book.author_id = author.id"
    assert cartesian_product.rule(report(stmt(bad)), "", LIMITS)
    assert not cartesian_product.rule(report(stmt(good)), "", LIMITS)
    joined = "SELECT a.x FROM author AS a JOIN book ON book.author_id = a.id WHERE a.id = ?"
    assert not cartesian_product.rule(report(stmt(joined)), "", LIMITS)
    warning = CapturedWarning(
        "SAWarning", 'SELECT statement has a cartesian product between FROM element(s) "a"', 2
    )
    assert cartesian_product.rule(report(warnings=(warning,)), "", LIMITS)


def test_seq_scan_from_plan_warnings() -> None:
    scan = PlanWarning("seq-scan", "Seq Scan on book", table="book", columns=("title",), rows=6000.0)
    plan = Plan(fingerprint="f", dialect="postgresql", analyzed=False, root=None, warnings=(scan,))
    found = seq_scan.rule(report(stmt("SELECT book", fingerprint="f"), plans=(plan,)), "", LIMITS)
    assert len(found) == 1 and "CREATE INDEX ix_book_title ON book (title)" in (found[0].fix or "")
    small = PlanWarning("seq-scan", "Seq Scan on book", table="book", columns=("title",), rows=10.0)
    tiny = Plan(fingerprint="f", dialect="postgresql", analyzed=False, root=None, warnings=(small,))
    assert not seq_scan.rule(report(plans=(tiny,)), "", LIMITS)


def test_clean_report_has_no_findings() -> None:
    clean = report(stmt("SELECT author.id FROM author WHERE author.id = ?", rows=1))
    source = MAGIC + "a = session.get(Author, 1)\n"
    assert [f for rule in RULES for f in rule(clean, source, LIMITS)] == []
