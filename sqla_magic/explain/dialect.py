"""What differs between databases when explaining: the EXPLAIN statement, how to make it
safe, and how to read its output.  One subclass per database lives in its own module;
`dialects.DIALECTS` says which serves which database."""

from __future__ import annotations

from typing import Any, Optional

from sqla_magic.explain import lexer
from sqla_magic.explain.plan import ParsedPlan
from sqla_magic.model import PlanNode


class DialectExplainer:
    """EXPLAIN for one database.  The base class is the plain-text `EXPLAIN` of databases
    without a dedicated module."""

    def __init__(self, engine: Any) -> None:
        self.sa_dialect = engine.dialect

    @property
    def dialect(self) -> str:
        """The database's name as plans report it."""
        return str(self.sa_dialect.name)

    @property
    def analyze_supported(self) -> bool:
        return False

    def explain_sql(self, sql: str, *, analyze: bool) -> str:
        return f"EXPLAIN {sql}"

    def analyze_refusal(self, kind: str) -> Optional[str]:
        """Why ANALYZE is not used for a statement of this kind (None: it may be)."""
        if not self.analyze_supported:
            return f"ANALYZE is not available on {self.dialect}"
        if kind == lexer.LOCKING_READ:
            return "explained without ANALYZE: it takes row locks, so it is never executed"
        if kind != lexer.READ:
            return "explained without ANALYZE: it changes data, so it is never executed"
        return None

    @property
    def transaction_isolation(self) -> Optional[str]:
        """The isolation level the explain connection is given, so that it never inherits
        AUTOCOMMIT from the user's engine (None: left as the engine has it)."""
        return None

    @property
    def needs_transaction(self) -> bool:
        """Whether EXPLAIN may run only once the driver confirms a transaction is open."""
        return True

    def plain_refusal(self, statement: lexer.Classified) -> Optional[str]:
        """Why even a plain EXPLAIN of this statement could change data (None: it cannot)."""
        return None

    def locked_note(self, note: Optional[str]) -> Optional[str]:
        """The note for the remaining statements when `note` says the database is locked
        against EXPLAIN (None: it does not)."""
        return None

    def prepare_session(self, conn: Any) -> None:
        """Session-wide guards (timeouts), once per explain connection; the connection is
        discarded afterwards, so nothing set here reaches the user's pool."""

    def prepare_transaction(self, conn: Any, *, read_only: bool) -> None:
        """Guards that live inside the explain transaction (always rolled back)."""

    def read(self, rows: list[tuple[Any, ...]]) -> Any:
        """The raw plan from the result rows of the EXPLAIN statement."""
        return tuple(" ".join(str(v) for v in row if v is not None) for row in rows)

    def table_sizes(self, conn: Any, raw: Any) -> dict[str, float]:
        """Rows of tables the plan scans in full, where the plan itself does not say."""
        return {}

    def parse(
        self, raw: Any, sql: str, *, analyzed: bool, sizes: Optional[dict[str, float]] = None
    ) -> ParsedPlan:

        lines = tuple(str(line) for line in raw)
        if not lines:
            return ParsedPlan(None, note="the database returned an empty plan")
        return ParsedPlan(
            PlanNode(label="EXPLAIN", children=tuple(PlanNode(label=line.strip()) for line in lines))
        )
