"""The one SQL reader: what a statement is, what it touches, and how it is laid out."""

from __future__ import annotations

import pytest

from sqla_magic import sqltext


@pytest.mark.parametrize(
    ("sql", "verb", "table"),
    [
        ("  select * from users", "SELECT", None),
        ('INSERT INTO "order" (id) VALUES (?)', "INSERT", "order"),
        ("INSERT OR REPLACE INTO books (id) VALUES (?)", "INSERT", "books"),
        ("UPDATE `books` SET title=%s WHERE id=%s", "UPDATE", "books"),
        ("DELETE FROM [authors] WHERE id = :id", "DELETE", "authors"),
        ("", "", None),
    ],
)
def test_kind_and_written_table(sql: str, verb: str, table: str) -> None:
    assert sqltext.verb(sql) == verb
    assert sqltext.dml_table(sql) == table


def test_select_list_and_from_list_respect_parentheses_and_quotes() -> None:
    sql = "SELECT a.id, a.name AS label, 'a, b' FROM a, (SELECT 1 FROM c) AS d WHERE a.id = d.id"
    assert sqltext.selected_columns(sql) == ["id", "name", "'a, b'"]
    clause, rest = sqltext.from_clause(sql)
    assert clause is not None and sqltext.split_top_level(clause, ",") == [" a", " (SELECT 1 FROM c) AS d "]
    assert rest == "WHERE a.id = d.id"
    assert sqltext.from_clause("SELECT 1") == (None, "")


def test_layout_falls_back_to_line_breaks_for_long_statements() -> None:
    short = "select id, name from users where id = ? order by name"
    assert sqltext.format_sql(short).splitlines()[0] == "SELECT id,"
    long = "SELECT " + ", ".join(f"c{i}" for i in range(2_000)) + " FROM t WHERE x = 1"
    assert sqltext.format_sql(long) == sqltext.break_clauses(long)
    assert sqltext.break_clauses(long).splitlines()[-2:] == ["FROM t", "WHERE x = 1"]


def test_shapes_ignore_values_and_list_lengths() -> None:
    one = sqltext.fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'x'")
    two = sqltext.fingerprint("select *  from t where id in (7) and name = 'yy'")
    assert one == two
    assert one != sqltext.fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) AND other = 'x'")
