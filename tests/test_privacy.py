"""Passwords are found by the URL's structure and `--redact` takes the data out (the cases on
real engines are in `tests/reliability/test_secrets.py`)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from sqla_magic import privacy
from sqla_magic.model import CallNode, CellError, Plan, PlanNode, Report, Statement


def test_a_password_in_the_query_string_is_hidden() -> None:
    url = sa.engine.make_url("postgresql://u@h/db?password=qs-secret&sslmode=require")
    assert privacy.url_passwords(url) == {"qs-secret"}
    assert "qs-secret" not in privacy.hidden_url(url) and "sslmode=require" in privacy.hidden_url(url)


def _report_with_data(secret: str, number: int, ident: uuid.UUID) -> Report:
    node = PlanNode(
        label="Seq Scan on person",
        detail=f"Filter: ((ssn)::text = '{secret}'::text) AND (id = {number}) AND (ref = '{ident}'::uuid)"
        f" AND (balance > 1234.56)",
    )
    error = (
        f'duplicate key value violates unique constraint "person_ssn_key"\n'
        f"DETAIL:  Key (ssn)=({secret}) already exists.\n[parameters: ('{secret}', {number})]"
    )
    return Report(
        wall_s=1.0,
        cpu_s=1.0,
        statements=(
            Statement(
                sql="SELECT * FROM person WHERE ssn = %(ssn)s",
                params={"ssn": secret[:200] + f"… (+{len(secret) - 200} chars)", "id": number},
                duration_s=0.1,
                rowcount=0,
                executemany=False,
                cache="generated",
                line=1,
                origin="core",
                engine="postgresql://u:***@h/db",
                thread="MainThread",
                fingerprint="f",
                error=error,
            ),
        ),
        plans=(Plan(fingerprint="f", dialect="postgresql", analyzed=False, root=node, note=f"id {number}"),),
        error=CellError(type="IntegrityError", message=error),
    )


def test_redact_takes_long_strings_numbers_uuids_and_decimals_out() -> None:
    secret = "123-45-6789-" + "x" * 300 + "-endmark"
    number, ident = 987654321, uuid.uuid4()
    report = privacy.redacted(_report_with_data(secret, number, ident))
    text = report.to_json()
    for leaked in ("endmark", "123-45", str(number), str(ident), "1234.56", "xxxx"):
        assert leaked not in text, leaked
    assert report.statements[0].params == {"ssn": "?", "id": "?"}
    assert report.plans[0].root is not None and "Seq Scan on person" in report.plans[0].root.label


def test_the_statements_and_the_call_tree_are_masked_alike_read_by_column_or_one_by_one() -> None:
    import dataclasses
    import json

    from sqla_magic.model import CallNode, Site

    url = "postgresql://bob:hunter22@db/x"

    def statement(i: int) -> Statement:
        return Statement(
            sql="SELECT 1",
            params=("hunter22", i),
            duration_s=0.1,
            rowcount=1,
            executemany=False,
            fingerprint="f",
            cache=f"cache {url}" if i == 4 else "cached",
            line=1,
            origin=f"core {url}" if i == 3 else "core",
            engine="sqlite://",
            thread=f"worker {url}" if i == 2 else "MainThread",
            error=f"failed {url}" if i == 0 else None,
            request="GET /login?password=hunter22" if i == 1 else None,
            site=Site("app.py", 1, "f"),
        )

    tree = CallNode(
        "<profiled code>", "", 0, 1, 1.0, 0.5, children=(CallNode("f", "f.py", 1, 1, 0.5, 0.5, layer=url),)
    )
    for count in (5, 8, 40):  # walked item by item below eight, by column from eight
        plain = json.loads(Report(1.0, 1.0, statements=tuple(map(statement, range(count)))).to_json())
        plain["statements"][-1]["rows"] = url  # a text in a numeric field, as an edited file may hold
        report = dataclasses.replace(Report.from_json(json.dumps(plain)), call_tree=tree)
        masked = privacy.without_passwords(report, passwords={"hunter22"}).to_json()
        assert "hunter22" not in masked, count


def _statements_varied(count: int, secret_at: int, field: str, pattern: str) -> tuple[Statement, ...]:
    """`count` statements alike but for `field`, whose values follow `pattern`; the one at
    `secret_at` (if any) holds a URL with a password."""
    from sqla_magic.model import Site

    shared = {"text": "cached", "site": Site("app.py", 1, "f"), "params": ("hunter22", 1), "number": 1.5}
    url_text = "failed postgresql://bob:hunter22@db/x"

    def value(i: int) -> object:
        if i == secret_at:
            return ("hunter22", i) if field == "params" else url_text
        if pattern == "one object":
            return shared["params" if field == "params" else "site" if field == "stack" else "text"]
        if pattern == "equal copies":
            return ("hunter22", 1) if field == "params" else "".join(["cach", "ed"])
        if pattern == "runs":
            return (Site("app.py", i // 3, "f"),) if field == "stack" else f"run {i // 3}"
        if pattern == "lists":  # no hash: not read by value
            return [f"item {i}"]
        return i * 0.5  # "numbers", a text among them as an edited file may hold

    def statement(i: int) -> Statement:
        fields: dict[str, object] = {
            "sql": "SELECT 1",
            "params": (),
            "duration_s": 0.1,
            "rowcount": 1,
            "executemany": False,
            "fingerprint": "f",
            "cache": "cached",
            "line": 1,
            "origin": "core",
            "engine": "sqlite://",
            "thread": "MainThread",
        }
        fields[field] = value(i)
        return Statement(**fields)  # type: ignore[arg-type]

    return tuple(map(statement, range(count)))


def test_masking_by_column_gives_what_masking_each_statement_gives() -> None:
    """Every way a column is read at once (one shared value, equal copies, runs of one
    object, numbers) masks what walking the statements one by one masks, and leaves the
    statements it does not change as they are."""
    cases = [
        (field, pattern)
        for field in ("cache", "error", "params", "stack", "rows")
        for pattern in ("one object", "equal copies", "runs", "lists", "numbers")
    ]
    for field, pattern in cases:
        for secret_at in (-1, 0, 5, 39):
            statements = _statements_varied(40, secret_at, field, pattern)
            masked = privacy.without_passwords(statements, passwords={"hunter22"})
            one_by_one = tuple(privacy.without_passwords(s, passwords={"hunter22"}) for s in statements)
            assert masked == one_by_one, (field, pattern, secret_at)
            for before, after, alone in zip(statements, masked, one_by_one, strict=True):
                assert (after is before) == (alone is before), (field, pattern, secret_at)
            text = repr(masked) if field == "params" else repr([getattr(s, field) for s in masked])
            if secret_at >= 0:
                assert "hunter22" not in text, (field, pattern, secret_at)


def test_a_text_among_numbers_in_a_long_sequence_is_masked() -> None:
    from sqla_magic.model import Finding

    positions = (*range(20), "postgresql://bob:hunter22@db/x")
    finding = Finding(rule="r", severity="info", title="t", message="m", statements=positions)  # type: ignore[arg-type]
    masked = privacy.without_passwords(Report(1.0, 1.0, findings=(finding,)))
    assert "hunter22" not in repr(masked.findings[0].statements)
    plain = Finding(rule="r", severity="info", title="t", message="m", statements=tuple(range(20)))
    unchanged = Report(1.0, 1.0, findings=(plain,))
    assert privacy.without_passwords(unchanged) is unchanged


def test_a_password_in_a_call_tree_layer_shared_by_every_node_is_masked() -> None:
    from sqla_magic.model import CallNode

    def tree(layer: str) -> CallNode:
        children = tuple(CallNode(f"f{i}", "f.py", i, 1, 0.5, 0.5, layer=layer) for i in range(20))
        return CallNode("<profiled code>", "", 0, 1, 1.0, 0.5, children=children, layer=layer)

    masked = privacy.without_passwords(Report(1.0, 1.0, call_tree=tree("postgresql://bob:hunter22@db/x")))
    assert "hunter22" not in repr(masked.call_tree) and "bob:***@db" in repr(masked.call_tree)
    plain = Report(1.0, 1.0, call_tree=tree("python"))
    assert privacy.without_passwords(plain) is plain


class _EqualToAll(str):
    """A text that claims to equal every other: masking must read it for what it holds."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


class _EqualityRaises:
    def __eq__(self, other: object) -> bool:
        raise ValueError("no truth value")

    __hash__ = object.__hash__


def _statement_with(**fields: Any) -> Statement:
    base = dict(
        sql="SELECT 1", params=(), duration_s=0.1, rowcount=1, executemany=False, fingerprint="f",
        cache="cached", line=1, origin="core", engine="sqlite://", thread="MainThread",
    )  # fmt: skip
    return Statement(**{**base, **fields})


def test_masking_is_not_decided_by_an_objects_own_equality() -> None:
    url = "failed postgresql://bob:hunter22@db/x"
    plain = "plain"
    column = tuple(_statement_with(error=e) for e in [plain] * 4 + [_EqualToAll(url)] + [plain] * 4)
    assert "hunter22" not in repr(privacy.without_passwords(column, passwords={"hunter22"}))
    alone = _statement_with(params=(_EqualToAll("hunter22"),))
    assert "hunter22" not in repr(privacy.without_passwords(alone, passwords={"hunter22"}))
    odd = tuple(_statement_with(request=r) for r in [None] * 4 + [_EqualityRaises()] + [None] * 4)
    masked = privacy.without_passwords(odd, passwords={"hunter22"})  # read without calling its `__eq__`
    assert all(new.request is old.request for new, old in zip(masked, odd, strict=True))


def test_a_call_tree_with_a_number_among_its_texts_is_masked_node_by_node() -> None:
    children = tuple(CallNode(f"f{i}", "f.py", i, 1, 0.5, 0.5, layer=5) for i in range(20))  # type: ignore[arg-type]
    tree = CallNode("<profiled code>", "", 0, 1, 1.0, 0.5, children=children, layer="python")
    masked = privacy.without_passwords(Report(1.0, 1.0, call_tree=tree), passwords={"hunter22"})
    assert masked.call_tree == tree
