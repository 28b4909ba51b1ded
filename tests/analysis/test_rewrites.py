"""Every rewrite runs, gives the same result, and its measured effect goes the right way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from sqla_magic.model import Finding, Report
from sqla_magic.verify import Verification, verify
from tests.scenarios.harness import CASE_SETUP, CASE_TEARDOWN, make_shell


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    ip = make_shell()
    try:
        yield ip
    finally:
        ip.run_cell("flask_context.pop()", store_history=False)
        ip.run_cell("%unload_ext sqla_magic", store_history=False)


@pytest.fixture
def fresh(shell: InteractiveShell) -> Iterator[InteractiveShell]:
    shell.run_cell(CASE_SETUP, store_history=False).raise_error()
    try:
        yield shell
    finally:
        shell.run_cell(CASE_TEARDOWN, store_history=False)


def finding_for(
    shell: InteractiveShell, cell: str, rule: str, options: str = "--no-explain"
) -> tuple[Finding, Report]:
    shell.run_cell(f"%%sqlprofile -o rep --quiet {options}\n{cell}", store_history=False).raise_error()
    report = shell.user_ns["rep"]
    findings = [f for f in report.findings if f.rule == rule]
    assert findings, [f.rule for f in report.findings]
    assert findings[0].rewrite is not None
    compile(findings[0].rewrite.rewritten.split("\n", 1)[1], "<rewritten>", "exec")
    return findings[0], report


def checked(shell: InteractiveShell, cell: str, rule: str, options: str = "--no-explain") -> Verification:
    finding, report = finding_for(shell, cell, rule, options)
    result = verify(finding, report, shell.user_ns)
    assert result.verified, result.reason
    assert result.same_result, result
    assert result.before is not None and result.after is not None
    return result


def test_n_plus_one_over_300_parents(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "authors = session.scalars(select(Author)).all()\n"
        "total = 0\n"
        "for author in authors:\n"
        "    total += len(author.books)\n"
        "total\n",
        "n-plus-one",
    )
    assert result.before.statements == 301  # type: ignore[union-attr]
    assert result.after.statements == 2  # type: ignore[union-attr]


def test_n_plus_one_many_to_one_uses_joinedload(fresh: InteractiveShell) -> None:
    finding, _ = finding_for(
        fresh,
        "pairs = [(b.title, b.author.name)\n"
        "         for b in session.query(Book).order_by(Book.id).limit(100)]\n"
        "pairs\n",
        "n-plus-one",
    )
    assert finding.rewrite is not None and "joinedload(Book.author)" in finding.rewrite.rewritten
    result = verify(finding, None, fresh.user_ns)
    assert result.verified and result.same_result
    assert result.after.statements == 1  # type: ignore[union-attr]


def test_unused_columns_peak_memory_five_times_lower(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "emails = [a.email_address for a in session.scalars(select(EmailAddress)).all()]\nemails\n",
        "unused-columns",
        options="--no-explain --memory-lines",
    )
    before, after = result.before.peak_bytes, result.after.peak_bytes  # type: ignore[union-attr]
    assert before is not None and after is not None
    assert before >= 5 * after, (before, after)


def test_loop_update_of_1000_rows_becomes_one_update(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "for b in session.query(Book).filter(Book.id <= 1000):\n"
        "    b.pages += 1\n"
        "session.flush()\n"
        "session.query(func.sum(Book.pages)).scalar()\n",
        "loop-update",
    )
    assert result.before.executions >= 1000  # type: ignore[union-attr]
    assert result.after.writes == 1  # type: ignore[union-attr]


def test_loop_insert_becomes_one_executemany(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "for i in range(300):\n"
        "    session.add(Book(title=f'new {i}', pages=i, author_id=1))\n"
        "session.flush()\n"
        "session.scalar(select(func.count()).select_from(Book))\n",
        "loop-insert",
    )
    assert result.after.writes < result.before.writes  # type: ignore[union-attr]


def test_len_all_becomes_count(fresh: InteractiveShell) -> None:
    for cell in (
        "len(session.query(Book).filter(Book.pages > 100).all())\n",
        "len(session.scalars(select(Book).where(Book.pages > 100)).all())\n",
    ):
        finding, _ = finding_for(fresh, f"n = {cell}n\n", "len-all")
        result = verify(finding, None, fresh.user_ns)
        assert result.verified and result.same_result, result
        assert result.after.peak_bytes is not None  # type: ignore[union-attr]
        assert "count" in finding.rewrite.rewritten  # type: ignore[union-attr]


def test_first_for_exists_becomes_exists(fresh: InteractiveShell) -> None:
    for cell in (
        "found = session.query(Book).filter(Book.title == 'Book 3.1').first() is not None\nfound\n",
        "missing = session.scalars(select(Book).where(Book.pages > 300)).first() is None\nmissing\n",
    ):
        finding, _ = finding_for(fresh, cell, "first-for-exists")
        assert "exists()" in finding.rewrite.rewritten  # type: ignore[union-attr]
        result = verify(finding, None, fresh.user_ns)
        assert result.verified and result.same_result, result


def test_repeated_flush_moves_the_flush_after_the_loop(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "for a in session.scalars(select(Author).order_by(Author.id).limit(15)):\n"
        "    a.name = a.name + '!'\n"
        "    session.flush()\n"
        "sorted(session.scalars(select(Author.name)))[:3]\n",
        "repeated-flush",
    )
    assert result.before.writes == 15 and result.after.writes == 1  # type: ignore[union-attr]


def test_duplicate_query_is_run_once(fresh: InteractiveShell) -> None:
    result = checked(
        fresh,
        "long_books = 0\n"
        "for a in session.scalars(select(Author).limit(10)):\n"
        "    long_books = session.query(Book).filter(Book.pages > 500).count()\n"
        "long_books\n",
        "duplicate-query",
    )
    assert result.after.statements == result.before.statements - 9  # type: ignore[union-attr]


def test_large_result_streams(fresh: InteractiveShell) -> None:
    fresh.run_cell(
        "session.execute(insert(Book), "
        "[dict(author_id=1, title=f'x{i}', pages=i % 900) for i in range(9000)])",
        store_history=False,
    ).raise_error()
    finding, _ = finding_for(
        fresh, "total = 0\nfor b in session.query(Book):\n    total += b.pages\ntotal\n", "large-result"
    )
    assert ".yield_per(1000)" in finding.rewrite.rewritten  # type: ignore[union-attr]
    result = verify(finding, None, fresh.user_ns)
    assert result.verified and result.same_result, result


def test_rewrite_keeps_comments_and_formatting(fresh: InteractiveShell) -> None:
    finding, _ = finding_for(
        fresh,
        "# authors and their books\n"
        "authors = session.scalars(  # every author\n"
        "    select(Author)\n"
        ").all()\n"
        "total = sum(len(a.books) for a in authors)  # pages later\n",
        "n-plus-one",
    )
    rewrite = finding.rewrite
    assert rewrite is not None
    assert "# every author" in rewrite.rewritten and "# pages later" in rewrite.rewritten
    assert "from sqlalchemy.orm import selectinload" in rewrite.rewritten
    assert rewrite.rewritten.startswith("%%sqlprofile -o rep --quiet --no-explain\n")
    changed = [line for line in rewrite.diff().splitlines() if line.startswith(("+", "-"))]
    assert len([c for c in changed if not c.startswith(("+++", "---"))]) <= 4


DEFERRED_NOTES = """
from sqlalchemy.orm import declarative_base, deferred
NBase = declarative_base()
class Note(NBase):
    __tablename__ = "rw_note"
    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(50))
    body = deferred(sa.Column(sa.Text))
NBase.metadata.create_all(engine)
session.execute(insert(Note), [{"title": f"n{i}", "body": f"b{i}"} for i in range(40)])
session.commit()
sa.orm.configure_mappers()
"""


def test_deferred_column_read_per_object_is_loaded_with_the_query(fresh: InteractiveShell) -> None:
    fresh.run_cell(DEFERRED_NOTES, store_history=False).raise_error()
    try:
        result = checked(
            fresh,
            "notes = session.scalars(select(Note).order_by(Note.id)).all()\n"
            "texts = [(n.title, n.body) for n in notes]\n",
            "column-load",
        )
    finally:
        fresh.run_cell("NBase.metadata.drop_all(engine)", store_history=False)
    assert result.before is not None and result.after is not None
    assert (result.before.statements, result.after.statements) == (41, 1), result
