"""The lexer reads SQL as each database does: what it cannot prove one statement is refused."""

from __future__ import annotations

import pytest

from sqla_magic.explain import lexer

HIDDEN_WRITES = [
    # (dialect, SQL whose second statement a naive reader misses)
    ("mysql", "SELECT 'a\\'; DELETE FROM t; -- '"),
    ("mariadb", "SELECT 1 --x\n; DELETE FROM t"),
    ("mariadb", "SELECT 1 # comment\n; DELETE FROM t"),
    ("mariadb", "SELECT 1 /*! ; DELETE FROM t */"),
    ("postgresql", "SELECT 'a\\'; DELETE FROM t; --'"),
    ("postgresql", "SELECT $$;$$; DELETE FROM t"),
    ("postgresql", "SELECT 1 /* a /* b */ ; */; DELETE FROM t"),
    ("sqlite", "SELECT '\\'; DELETE FROM t; --'"),
]


@pytest.mark.parametrize(("dialect", "sql"), HIDDEN_WRITES)
def test_a_second_statement_is_never_missed(dialect: str, sql: str) -> None:
    classified = lexer.classify(sql, dialect)
    assert not classified.single and classified.kind == lexer.OTHER


@pytest.mark.parametrize(
    ("dialect", "sql", "kind"),
    [
        ("postgresql", "SELECT 1 /* a /* b */ ; */", lexer.READ),
        ("postgresql", "SELECT $t$;DELETE$t$ FROM x", lexer.READ),
        ("postgresql", "SELECT E'it\\'s' FROM x", lexer.READ),
        ("mariadb", "SELECT 1 --x\n", lexer.READ),
        ("mariadb", "SELECT replace(name, 'a', 'b') FROM t", lexer.READ),
        ("mariadb", "REPLACE INTO t VALUES (1)", lexer.WRITE),
        ("sqlite", "SELECT [a;b] FROM t;", lexer.READ),
        ("postgresql", "WITH d AS (DELETE FROM t RETURNING id) SELECT * FROM d", lexer.WRITE),
        ("postgresql", "SELECT * FROM t FOR UPDATE", lexer.LOCKING_READ),
        ("mariadb", "SELECT * INTO OUTFILE '/tmp/x' FROM t", lexer.WRITE),
        ("postgresql", "SET search_path TO s2", lexer.SESSION),
        ("sqlite", "COMMIT", lexer.OTHER),
    ],
)
def test_kinds(dialect: str, sql: str, kind: str) -> None:
    classified = lexer.classify(sql, dialect)
    assert classified.single and classified.kind == kind


def test_session_changes_that_cannot_be_replayed() -> None:
    assert lexer.session_change("SET search_path TO s2", "postgresql") is True
    assert lexer.session_change("USE other", "mariadb") is True
    assert lexer.session_change("SET GLOBAL max_connections = 5", "mariadb") is False
    assert lexer.session_change("SET TRANSACTION READ ONLY", "postgresql") is False
    assert lexer.session_change("SELECT 1", "postgresql") is None
