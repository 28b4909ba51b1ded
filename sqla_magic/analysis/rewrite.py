"""The cell as a libcst tree: find the queries and loops a finding is about, rewrite them.

libcst keeps comments and formatting, so a rewrite changes only the nodes it replaces.
IPython-only lines (`%%sqlprofile ...`, `%time`, `!ls`) are turned into comments while
parsing and restored verbatim when the new cell is rendered, so line numbers match
`Statement.line` (the magic line is line 1).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

from sqla_magic.model import Rewrite

_IPYTHON_LINE = re.compile(r"^\s*[%!]")
_MASK = "#sqla-magic-ipython-line# "

SELECT_RUNNERS = frozenset({"scalars", "execute", "scalar", "stream", "stream_scalars"})
"""Session/connection methods that take a `select()` and run it."""

Replacement = Union[cst.CSTNode, cst.FlattenSentinel[cst.BaseStatement], cst.RemovalSentinel]


class Cell:
    """A parsed cell with positions and parents; `None`-safe through `parse_cell`."""

    def __init__(
        self, source: str, masked: dict[int, str], module: cst.Module, path: Optional[str] = None
    ) -> None:
        self.source = source
        self.path = path
        """The module file this source is, or None for the profiled cell."""
        self._masked = masked
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # the parse is ours alone
        self.module = self.wrapper.module
        self.positions: Mapping[cst.CSTNode, CodeRange] = self.wrapper.resolve(PositionProvider)
        self.parents: Mapping[cst.CSTNode, cst.CSTNode] = self.wrapper.resolve(ParentNodeProvider)
        self.chains: Optional[list[QueryChain]] = None
        self._of_type: dict[type[cst.CSTNode], tuple[cst.CSTNode, ...]] = {}
        """`of_type`'s answers: the rules of every report from this file ask the same."""

    # -- reading -----------------------------------------------------------------------

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def lines(self, node: cst.CSTNode) -> tuple[int, int]:
        where = self.positions[node]
        return where.start.line, where.end.line

    def walk(self) -> Iterator[cst.CSTNode]:
        return iter(self.positions)

    def of_type(self, kind: type[cst.CSTNode]) -> list[cst.CSTNode]:
        found = self._of_type.get(kind)
        if found is None:
            found = self._of_type[kind] = tuple(node for node in self.positions if isinstance(node, kind))
        return list(found)

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def statement_of(self, node: cst.CSTNode) -> Optional[cst.BaseStatement]:
        """The innermost statement (simple or compound) holding `node`."""
        for candidate in (node, *self.ancestors(node)):
            if isinstance(candidate, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return candidate
        return None

    def loops_around(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        """Enclosing `for`/`while` statements and comprehensions, innermost first."""
        kinds = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
        return [a for a in self.ancestors(node) if isinstance(a, kinds)]

    def in_loop(self, node: cst.CSTNode) -> bool:
        return bool(self.loops_around(node))

    def on_line(self, line: int, kind: type[cst.CSTNode] = cst.CSTNode) -> list[cst.CSTNode]:
        """Nodes of `kind` spanning `line`, outermost first."""
        found = [
            node
            for node, where in self.positions.items()
            if isinstance(node, kind) and where.start.line <= line <= where.end.line
        ]
        return found

    def starting_on(self, line: int, kind: type[cst.CSTNode] = cst.CSTNode) -> list[cst.CSTNode]:
        return [n for n, w in self.positions.items() if isinstance(n, kind) and w.start.line == line]

    def assignments_of(self, name: str) -> list[cst.Assign]:
        found = []
        for node in self.of_type(cst.Assign):
            assert isinstance(node, cst.Assign)
            for target in node.targets:
                if isinstance(target.target, cst.Name) and target.target.value == name:
                    found.append(node)
        return found

    def uses_of(self, name: str) -> list[cst.Name]:
        """Every `Name` node spelled `name`, except attribute names and keywords."""
        found = []
        for node in self.positions:
            if isinstance(node, cst.Name) and node.value == name:
                parent = self.parents.get(node)
                if isinstance(parent, cst.Attribute) and parent.attr is node:
                    continue
                if isinstance(parent, (cst.Arg, cst.Param)) and getattr(parent, "keyword", None) is node:
                    continue
                found.append(node)
        return found

    # -- writing -----------------------------------------------------------------------

    def rewrite(
        self,
        replacements: Mapping[cst.CSTNode, Replacement],
        imports: Sequence[tuple[str, str]] = (),
        explanation: str = "",
    ) -> Optional[Rewrite]:
        """A `Rewrite` with `replacements` applied and `imports` (module, name) added."""
        module = self.module.visit(_Replace(replacements))
        if imports:
            # libcst.codemod (and libcst.matchers under it) is the slowest part of libcst to
            # import: only a rewrite that adds imports needs it.
            from libcst.codemod import CodemodContext
            from libcst.codemod.visitors import AddImportsVisitor

            context = CodemodContext()
            for module_name, name in imports:
                AddImportsVisitor.add_needed_import(context, module_name, name)
            module = AddImportsVisitor(context).transform_module(module)
        text = self._unmask(module.code) if self.path is None else module.code
        if text == self.source:
            return None
        try:
            if self.path is None:
                compile(_mask(text)[0], "<rewrite>", "exec", flags=_TOP_LEVEL_AWAIT)
            else:
                compile(text, self.path, "exec")
        except (SyntaxError, ValueError):
            return None
        return Rewrite(original=self.source, rewritten=text, explanation=explanation, path=self.path)

    def _unmask(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            if line.startswith(_MASK):
                lines[index] = line[len(_MASK) :]
        return "".join(lines)


_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def _mask(source: str) -> tuple[str, dict[int, str]]:
    masked: dict[int, str] = {}
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if _IPYTHON_LINE.match(line):
            masked[index + 1] = line
            lines[index] = _MASK + line
    return "".join(lines), masked


@functools.lru_cache(maxsize=4)
def parse_cell(source: str) -> Optional[Cell]:
    """The cell parsed for reading and rewriting, or `None` if it is not Python.

    Cached: every rule of one report reads the same cell, and parsing dominates their cost.
    """
    if not source.strip():
        return None
    text, masked = _mask(source)
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, cst.CSTValidationError):
        # libcst's parser accepts some text its node constructors then reject
        # (identifiers Python's own tokenizer would refuse): not Python either.
        return None
    return Cell(source, masked, module)


def parse_module(text: str, path: str) -> Optional[Cell]:
    """A module file's text parsed for reading and rewriting (no IPython lines to mask),
    or `None` if it is not Python."""
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, cst.CSTValidationError, RecursionError):
        return None
    return Cell(text, {}, module, path=path)


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements: Mapping[cst.CSTNode, Replacement]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Replacement:  # type: ignore[override]
        return self.replacements.get(original_node, updated_node)


def replaced(node: cst.CSTNode, replacements: Mapping[cst.CSTNode, Replacement]) -> cst.CSTNode:
    """`node` with each of `replacements`' keys (matched by identity) swapped for its value."""
    result = node.visit(_Replace(replacements))
    assert isinstance(result, cst.CSTNode)
    return result


# -- expressions --------------------------------------------------------------------------


def dotted(node: cst.CSTNode) -> Optional[str]:
    """`a.b.c` for Name/Attribute chains, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def last_name(node: cst.CSTNode) -> Optional[str]:
    name = dotted(node)
    return name.rsplit(".", 1)[-1] if name else None


def method_call(node: cst.CSTNode) -> Optional[tuple[cst.BaseExpression, str, cst.Call]]:
    """`receiver.name(...)` as (receiver, name, call)."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value, node
    return None


def call_name(node: cst.CSTNode) -> Optional[str]:
    """Last name of what a call calls: `select` for `sa.select(...)` and `select(...)`."""
    if isinstance(node, cst.Call):
        return last_name(node.func)
    return None


def expr(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def chain_method(receiver: cst.BaseExpression, name: str, *args: cst.Arg) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name(name)), args=list(args))


@dataclass
class QueryChain:
    """A query as written: where it starts, its entity, and the calls chained on it.

    `kind` is `query` (`session.query(E)`), `select` (`select(E)`) or `model` (a
    Flask-SQLAlchemy `E.query`).  `methods` are the method calls chained on the start,
    innermost first; for `select`, `runner` is the `session.scalars(...)`-like call that
    runs it and `result_methods` what is chained on the result.
    """

    kind: str
    start: cst.BaseExpression
    entity: cst.BaseExpression
    entities: tuple[cst.BaseExpression, ...]
    session: Optional[cst.BaseExpression]
    methods: list[tuple[str, cst.Call]]
    runner: Optional[cst.Call] = None
    result_methods: tuple[tuple[str, cst.Call], ...] = ()

    @property
    def top(self) -> cst.BaseExpression:
        """The query expression with every chained method (before it is run)."""
        return self.methods[-1][1] if self.methods else self.start

    @property
    def outer(self) -> cst.BaseExpression:
        """The whole expression, run and with result methods."""
        if self.result_methods:
            return self.result_methods[-1][1]
        return self.runner if self.runner is not None else self.top

    @property
    def method_names(self) -> list[str]:
        return [name for name, _ in self.methods]


def _chained(cell: Cell, node: cst.BaseExpression) -> list[tuple[str, cst.Call]]:
    methods = []
    current: cst.CSTNode = node
    while True:
        parent = cell.parent(current)
        grand = cell.parent(parent) if parent is not None else None
        if (
            isinstance(parent, cst.Attribute)
            and parent.value is current
            and isinstance(grand, cst.Call)
            and grand.func is parent
        ):
            methods.append((parent.attr.value, grand))
            current = grand
        else:
            return methods


def query_chains(cell: Cell) -> list[QueryChain]:
    """Every `session.query(E)`, `select(E)` and `E.query` in the cell (found once per cell)."""
    if cell.chains is None:
        cell.chains = [chain for chain in map(functools.partial(_chain_at, cell), cell.walk()) if chain]
    return cell.chains


def _chain_at(cell: Cell, node: cst.CSTNode) -> Optional[QueryChain]:
    if isinstance(node, cst.Call) and node.args:
        entities = tuple(arg.value for arg in node.args if arg.keyword is None and not arg.star)
        if not entities:
            return None
        called = method_call(node)
        if called is not None and called[1] == "query":
            return QueryChain("query", node, entities[0], entities, called[0], _chained(cell, node))
        if call_name(node) == "select" and (called is None or dotted(called[0]) is not None):
            chain = QueryChain("select", node, entities[0], entities, None, _chained(cell, node))
            _find_runner(cell, chain)
            return chain
    if isinstance(node, cst.Attribute) and node.attr.value == "query":
        parent = cell.parent(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            return None
        if dotted(node.value) is None:
            return None
        return QueryChain("model", node, node.value, (node.value,), None, _chained(cell, node))
    return None


def _find_runner(cell: Cell, chain: QueryChain) -> None:
    arg = cell.parent(chain.top)
    call = cell.parent(arg) if isinstance(arg, cst.Arg) else None
    if not isinstance(call, cst.Call) or not call.args or call.args[0] is not arg:
        return
    called = method_call(call)
    if called is None or called[1] not in SELECT_RUNNERS:
        return
    chain.runner = call
    chain.session = called[0]
    chain.result_methods = tuple(_chained(cell, call))


def entity_name(chain: QueryChain) -> Optional[str]:
    return last_name(chain.entity)


@dataclass(frozen=True)
class RunForm:
    """How a result is produced: a `Query` (`query`) or a statement run by a session."""

    kind: str
    query: Optional[cst.BaseExpression] = None
    """For `query`: the Query expression (before `.all()` / `.first()`)."""
    session: Optional[cst.BaseExpression] = None
    statement: Optional[cst.BaseExpression] = None
    """For `statement`: what `session.scalars(...)` / `session.execute(...)` ran."""


def run_form(cell: Cell, receiver: cst.BaseExpression) -> Optional[RunForm]:
    """Classify the receiver of `.all()` / `.first()` (`q` in `q.all()`)."""
    called = method_call(receiver)
    if called is not None and called[1] == "scalars" and not called[2].args:
        receiver = called[0]  # session.execute(stmt).scalars()
        called = method_call(receiver)
    if called is not None and called[1] in ("scalars", "execute") and called[2].args:
        return RunForm("statement", session=called[0], statement=called[2].args[0].value)
    if _is_query(cell, receiver):
        return RunForm("query", query=receiver)
    return None


def _is_query(cell: Cell, node: cst.BaseExpression) -> bool:
    for chain in query_chains(cell):
        if chain.kind in ("query", "model") and node in (chain.start, *(call for _, call in chain.methods)):
            return True
    if isinstance(node, cst.Name):
        assigned = cell.assignments_of(node.value)
        return len(assigned) == 1 and _is_query(cell, assigned[0].value)
    return False


def chain_of(cell: Cell, node: cst.BaseExpression, *, query_only: bool = False) -> Optional[QueryChain]:
    """The query chain whose start, a chained call, the runner or a result call is `node`
    (following a name assigned once); with `query_only`, only the start or a chained call:
    `node` is then a query that is not run yet."""
    for chain in query_chains(cell):
        parts: list[Optional[cst.BaseExpression]] = [chain.start, *(c for _, c in chain.methods)]
        if not query_only:
            parts += [chain.runner, *(c for _, c in chain.result_methods)]
        if node in parts:
            return chain
    if isinstance(node, cst.Name):
        assigned = cell.assignments_of(node.value)
        if len(assigned) == 1:
            return chain_of(cell, assigned[0].value, query_only=query_only)
    return None


def with_loader_options(
    cell: Cell, chain: QueryChain, loader: str, keys: Sequence[str], explanation: str
) -> Optional[Rewrite]:
    """`chain`'s query with `.options(loader(Entity.key), ...)`, one option per key, and
    the loader imported from `sqlalchemy.orm`."""
    options = [cst.Arg(expr(f"{loader}({cell.code(chain.entity)}.{key})")) for key in keys]
    with_options = cst.Call(func=cst.Attribute(value=chain.start, attr=cst.Name("options")), args=options)
    return cell.rewrite(
        {chain.start: with_options}, imports=[("sqlalchemy.orm", loader)], explanation=explanation
    )


def loop_target(loop: cst.CSTNode) -> Optional[str]:
    """The name a `for` loop or single-`for` comprehension binds, if a plain name."""
    if isinstance(loop, cst.For):
        target = loop.target
    elif isinstance(loop, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        target = loop.for_in.target
    else:
        return None
    return target.value if isinstance(target, cst.Name) else None


def loop_iter(loop: cst.CSTNode) -> Optional[cst.BaseExpression]:
    if isinstance(loop, cst.For):
        return loop.iter
    if isinstance(loop, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        return loop.for_in.iter
    return None


def loop_body_statements(loop: cst.For) -> list[cst.BaseStatement]:
    body = loop.body
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    return [cst.SimpleStatementLine(body=[s for s in body.body if isinstance(s, cst.BaseSmallStatement)])]


def replaced_statement(old: cst.BaseCompoundStatement, code: str) -> cst.SimpleStatementLine:
    """A one-line statement `code` that takes `old`'s place (keeping its leading blank lines)."""
    new = cst.parse_statement(code)
    assert isinstance(new, cst.SimpleStatementLine)
    return new.with_changes(leading_lines=old.leading_lines)


class ToColumns(cst.CSTTransformer):
    """`row.attr` → `Entity.attr` for the loop variable `row`."""

    def __init__(self, variable: str, entity: str) -> None:
        super().__init__()
        self.variable = variable
        self.entity = entity
        self.unsupported = False

    def leave_Attribute(  # noqa: N802 - libcst's visitor naming
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if isinstance(original_node.value, cst.Name) and original_node.value.value == self.variable:
            return expr(f"{self.entity}.{original_node.attr.value}")
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:  # noqa: N802
        return updated_node

    def visit_Call(self, node: cst.Call) -> bool:  # noqa: N802
        if _mentions(node, self.variable):
            self.unsupported = True
        return True


def _mentions(node: cst.CSTNode, name: str) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Attribute(self, inner: cst.Attribute) -> bool:  # noqa: N802
            inner.value.visit(self)
            return False

        def visit_Name(self, inner: cst.Name) -> None:  # noqa: N802
            nonlocal found
            if inner.value == name:
                found = True

    node.visit(Finder())
    return found


def mentions(node: cst.CSTNode, name: str) -> bool:
    """True if `name` appears as a Name anywhere in `node`."""
    return _mentions(node, name)


def args_code(cell: Cell, call: cst.Call) -> str:
    """A call's arguments as source, without the trailing comma."""
    parts = []
    for arg in call.args:
        value = cell.code(arg.value)
        if arg.keyword is not None:
            parts.append(f"{arg.keyword.value}={value}")
        else:
            parts.append(f"{arg.star}{value}")
    return ", ".join(parts)
