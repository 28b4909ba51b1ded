"""Generated input for fingerprinting, cell parsing and rewriting, and rendering: no crash,
deterministic shapes, rewrites that compile, and HTML that stays inert."""

from __future__ import annotations

import html.parser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqla_magic.analysis import PLAN_RULES, RULES
from sqla_magic.analysis.rewrite import parse_cell
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import CallNode, CapturedWarning, CellError, Finding, Report, Rewrite, Statement
from sqla_magic.render.html import render_fragment
from sqla_magic.render.text import render_text
from sqla_magic.sqltext import _normalize, fingerprint, normalize

FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
LOW_THRESHOLDS = Thresholds(
    n_plus_one_threshold=3,
    loop_update_threshold=3,
    loop_insert_threshold=3,
    repeated_flush_threshold=3,
    duplicate_query_threshold=3,
    dynamic_relationship_threshold=3,
    first_for_exists_min_statements=1,
    no_cache_key_min_statements=1,
    len_all_min_rows=1,
    unused_columns_min_rows=1,
    large_result_rows=100,
)

# -- fingerprints -----------------------------------------------------------------------------

# Backslashes are left out of string literals: whether `\'` ends a literal depends on the
# database (MySQL yes, standard SQL no), and the lexer follows one reading.
literal_text = st.text(st.characters(blacklist_characters="\\", blacklist_categories=("Cs",)), max_size=30)
string_literal = literal_text.map(lambda s: "'" + s.replace("'", "''") + "'")
number_literal = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False, min_value=0).map(lambda f: f"{f:.6f}"),
)
literal = st.one_of(string_literal, number_literal, st.sampled_from(["?", ":p", "%(p)s", "%s", "$1"]))
TEMPLATES = [
    "SELECT a, b FROM t WHERE a = {0} AND b > {1}",
    "select * from users where name = {0} or id in ({0}, {1}, {1})",
    'UPDATE "order" SET total = {0}, note = {1} WHERE id = {0}',
    "INSERT INTO t (a, b) VALUES ({0}, {1}), ({1}, {0})",
    "DELETE FROM t WHERE a BETWEEN {0} AND {1} -- trailing comment",
    "SELECT count(*) FROM t /* why */ WHERE x LIKE {0} LIMIT {1}",
]


@FUZZ
@given(st.sampled_from(TEMPLATES), literal, literal, literal, literal)
def test_same_shape_for_different_literals(template: str, a: str, b: str, c: str, d: str) -> None:
    first, second = template.format(a, b), template.format(c, d)
    assert normalize(first) == normalize(second), (first, second)
    assert fingerprint(first) == fingerprint(second)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_fingerprints_deterministically(sql: str) -> None:
    shape = normalize(sql)
    assert shape == _normalize.__wrapped__(sql)  # the same without the memo
    assert fingerprint(sql) == fingerprint(sql) and len(fingerprint(sql)) == 16


# -- cells and rewrites ---------------------------------------------------------------------------

NAMES = st.sampled_from(["users", "user", "u", "orders", "total", "rows", "session", "User", "x"])
EXPRESSIONS = st.sampled_from(
    [
        "session.query(User).all()",
        "session.scalars(select(User)).all()",
        "session.query(User).filter(User.id == 1).first()",
        "session.scalars(select(User).where(User.id > 2)).first() is not None",
        "len(session.query(User).all())",
        "len(session.scalars(select(User)).all())",
        "session.execute(select(User.name)).all()",
        "[a.name for a in session.query(User)]",
        "sum(len(u.addresses) for u in users)",
        "session.get(User, 1)",
        "u.addresses",
        "1",
    ]
)


@st.composite
def cells(draw: st.DrawFn) -> str:
    """Python-ish cells: assignments, loops with queries, flushes, odd IPython lines."""
    lines = ["%%sqlprofile"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 6))
        name, expression = draw(NAMES), draw(EXPRESSIONS)
        if kind == 0:
            lines.append(f"{name} = {expression}")
        elif kind == 1:
            lines += [f"for {name} in {expression}:", f"    {name}.name = 'n'", "    session.flush()"]
        elif kind == 2:
            lines += [f"for u in {expression}:", f"    print(len(u.addresses), {name})"]
        elif kind == 3:
            lines += ["for i in range(10):", "    session.add(User(name=str(i)))", "session.commit()"]
        elif kind == 4:
            lines.append(f"%time {expression}")
        elif kind == 5:
            lines.append(f"if {expression}:\n    {name} = 2  # comment")
        else:
            lines.append(expression)
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=20)))  # may not be Python at all
    return "\n".join(lines) + "\n"


def _statements_for(source: str) -> tuple[Statement, ...]:
    """Statements a run of the cell could have caused, at the lines that could cause them:
    repeated lazy loads, updates, inserts and identical queries."""
    kinds = [
        ("addresses", "lazy load User.addresses", "SELECT * FROM addresses WHERE ? = addresses.user_id"),
        (".name =", "flush", "UPDATE users SET name=? WHERE users.id = ?"),
        ("flush", "flush", "UPDATE users SET name=? WHERE users.id = ?"),
        ("add(", "flush", "INSERT INTO users (name) VALUES (?)"),
        ("query", "query", "SELECT users.id, users.name FROM users"),
        ("select", "query", "SELECT users.id, users.name FROM users"),
        ("get(", "query", "SELECT users.id, users.name FROM users WHERE users.id = ?"),
    ]
    statements = []
    for line, text in enumerate(source.splitlines(), 1):
        for word, origin, sql in kinds:
            if word not in text:
                continue
            for repeat in range(4):
                statements.append(
                    Statement(
                        sql=sql,
                        params=(repeat,),
                        duration_s=0.001,
                        rowcount=1,
                        executemany=False,
                        fingerprint=fingerprint(sql),
                        cache="cached",
                        line=line,
                        origin=origin,
                        engine="sqlite://",
                        thread="MainThread",
                        dialect="sqlite",
                        rows=200,
                    )
                )
    return tuple(statements)


def _python(source: str) -> str:
    return "".join("\n" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines(True))


@settings(FUZZ, max_examples=60)
@given(cells())
def test_rules_on_generated_cells_never_crash_and_rewrites_compile(source: str) -> None:
    cell = parse_cell(source)
    try:
        compile(_python(source), "<cell>", "exec")
    except SyntaxError:
        assert cell is None or cell.module is not None
    report = Report(wall_s=1.0, cpu_s=1.0, statements=_statements_for(source), source=source)
    for rule in (*RULES, *PLAN_RULES):
        for finding in rule(report, source, LOW_THRESHOLDS):
            assert isinstance(finding, Finding)
            if finding.rewrite is not None:
                compile(_python(finding.rewrite.rewritten), "<rewritten>", "exec")
                assert finding.rewrite.diff()


@FUZZ
@given(st.text(max_size=200))
def test_parse_cell_accepts_any_text(source: str) -> None:
    parse_cell(source)


# -- rendering --------------------------------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def _tags(document: str) -> _Tags:
    parser = _Tags()
    parser.feed(document)
    parser.close()
    return parser


BASELINE = _tags(
    render_fragment(
        Report(
            wall_s=1.0,
            cpu_s=1.0,
            statements=_statements_for("u.addresses\n")[:3],
            call_tree=CallNode(
                "<profiled code>", "", 0, 1, 1.0, 0.5, (CallNode("f", "a.py", 1, 1, 0.5, 0.5),)
            ),
            findings=(Finding("n-plus-one", "high", "t", "m", (1,), (0,), Rewrite("a\n", "b\n")),),
            warnings=(CapturedWarning("SAWarning", "w", 1),),
            error=CellError("ValueError", "v", 1),
            notes=("n",),
        )
    )
)

any_text = st.text(max_size=40)


@FUZZ
@given(any_text, any_text, any_text, any_text, st.lists(any_text, max_size=3))
def test_rendering_random_strings(sql: str, param: str, message: str, name: str, notes: list[str]) -> None:
    statement = _statements_for("u.addresses\n")[0]
    statement = Statement(
        **{
            **statement.__dict__,
            "sql": sql,
            "params": (param, {name: param}),
            "origin": name,
            "error": message,
        }
    )
    report = Report(
        wall_s=0.5,
        cpu_s=0.25,
        statements=(statement, statement),
        call_tree=CallNode("<profiled code>", "", 0, 1, 0.5, 0.1, (CallNode(name, name, 1, 1, 0.4, 0.4),)),
        findings=(
            Finding("duplicate-query", "low", name, message, (1,), (0, 1), Rewrite(sql, param, message)),
        ),
        warnings=(CapturedWarning(name, message, 1, name),),
        error=CellError(name, message, 1),
        notes=tuple(notes),
        source=sql,
        filename=name,
        objects_loaded={name: 1},
    )
    assert render_text(report)
    found = _tags(render_fragment(report))
    assert found.tags <= BASELINE.tags | {"ins", "del"}, found.tags - BASELINE.tags
    assert not any(a.startswith("on") for a in found.attributes)
    assert found.attributes <= BASELINE.attributes | {"open", "title"}, found.attributes - BASELINE.attributes
