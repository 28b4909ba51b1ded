"""Statement kinds and filter columns read from SQL text."""

from __future__ import annotations

import pytest

from sqla_magic.explain import sql as sqltext


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("SELECT users.id FROM users WHERE users.name = ?", sqltext.READ),
        ("/* comment */ SELECT 1", sqltext.READ),
        ("WITH x AS (SELECT * FROM t) SELECT * FROM x", sqltext.READ),
        ("(SELECT 1) UNION (SELECT 2)", sqltext.READ),
        ("VALUES (1)", sqltext.READ),
        ("select replace(a, 'x', 'y') from t", sqltext.READ),
        ("SELECT a FROM t WHERE x = 1 FOR UPDATE", sqltext.LOCKING_READ),
        ("SELECT a FROM t FOR NO KEY UPDATE OF t SKIP LOCKED", sqltext.LOCKING_READ),
        ("SELECT a FROM t FOR SHARE", sqltext.LOCKING_READ),
        ("select a from t lock in share mode", sqltext.LOCKING_READ),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", sqltext.WRITE),
        ("WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d FOR UPDATE", sqltext.WRITE),
        ("SELECT * INTO backup FROM t", sqltext.WRITE),
        ("INSERT INTO t SELECT * FROM u", sqltext.WRITE),
        ("UPDATE t SET a = ? WHERE t.id = ?", sqltext.WRITE),
        ("DELETE FROM t WHERE t.id = %(id)s", sqltext.WRITE),
        ("REPLACE INTO t VALUES (1)", sqltext.WRITE),
        ("CREATE INDEX ix ON t (a)", sqltext.DDL),
        ("DROP TABLE t", sqltext.DDL),
        ("TRUNCATE t", sqltext.DDL),
        ("BEGIN", sqltext.OTHER),
        ("SAVEPOINT sa_1", sqltext.OTHER),
        ("PRAGMA foreign_keys = ON", sqltext.OTHER),
        ("EXPLAIN SELECT 1", sqltext.OTHER),
        ("SELECT 1; DELETE FROM t", sqltext.OTHER),
        ("", sqltext.OTHER),
    ],
)
def test_statement_kind(statement: str, kind: str) -> None:
    assert sqltext.statement_kind(statement) == kind


@pytest.mark.parametrize(
    ("expression", "columns"),
    [
        ("((age = 3) AND (lower(name) ~~ 'n1%'::text))", [(None, "age"), (None, "name")]),
        ("((name)::text = 'x'::text)", [(None, "name")]),
        (
            '(("user".type = $1) AND (data IS NULL) AND (level > 2))',
            [("user", "type"), (None, "data"), (None, "level")],
        ),
        ("probe_u.`name` = 'n5' and lcase(probe_u.`name`) like 'n1%'", [("probe_u", "name")]),
        ("test.o.amount = u.age", [("o", "amount"), ("u", "age")]),
        ("(status = ANY ('{1,2}'::integer[]))", [(None, "status")]),
    ],
)
def test_expression_columns(expression: str, columns: list[tuple[str, str]]) -> None:
    assert list(sqltext.expression_columns(expression)) == columns


def test_statement_shape_scopes_aliases_and_joins() -> None:
    shape = sqltext.statement_shape(
        "SELECT u.id FROM users AS u JOIN orders o ON o.user_id = u.id "
        "WHERE u.name = ? AND u.level IN (SELECT levels.id FROM levels WHERE levels.rank > ?)"
    )
    assert shape.table("u") == "users" and shape.table("o") == "orders"
    assert shape.where_columns["u"] == ("name", "level")
    assert shape.where_columns["levels"] == ("rank",)
    assert shape.join_columns["o"] == ("user_id",)


def test_statement_shape_bare_columns_belong_to_the_only_table() -> None:
    shape = sqltext.statement_shape("UPDATE people SET note = ? WHERE age = ? AND name LIKE ?")
    assert shape.where_columns == {"people": ("age", "name")}
    assert "note" not in shape.where_columns["people"]


def test_statement_shape_of_a_derived_table() -> None:
    shape = sqltext.statement_shape(
        "SELECT count(*) FROM (SELECT people.id FROM people WHERE people.age > ?) AS anon_1"
    )
    assert shape.where_columns == {"people": ("age",)}


def test_columns_for_a_table() -> None:
    pairs = sqltext.expression_columns("u.age > 3 AND o.amount = u.id AND flag")
    assert sqltext.columns_for(pairs, ("users", "u"), bare=False) == ("age", "id")
    assert sqltext.columns_for(pairs, ("users", "u"), bare=True) == ("age", "id", "flag")
