"""Anti-patterns in an application's own modules: the cell only calls them.

The shop (models, services, a Flask app with Flask-SQLAlchemy driven by its test client)
holds each anti-pattern next to its fix.  Each cell runs through a real IPython shell
under `%%sqlprofile`; the rules must fire from the statements' stacks, name the module's
line and function, and offer the fix as a rewrite of the module file.  Every rewrite is
then checked the hard way: the original and the rewritten module run against fresh
databases, and their results and every table's rows must be identical.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

if sa.__version__.startswith("1."):
    pytest.skip("the shop is written in SQLAlchemy 2.0's typed style", allow_module_level=True)

from IPython.core.interactiveshell import InteractiveShell

from sqla_magic import analysis
from sqla_magic.analysis.thresholds import Thresholds
from sqla_magic.model import Finding, Report
from tests.scenarios.shop import services, web
from tests.scenarios.shop.models import db

SHOP = Path(services.__file__).parent
ROWS = [{"customer_id": 1 + i % 30, "total": i} for i in range(150)]
IDS = list(range(1, 31))
LINES = list(range(1, 101))
MANY = [{"customer_id": 1 + i % 30, "total": i % 500} for i in range(1500)]


@dataclass(frozen=True)
class ShopCase:
    """A cell calling one service; the rules it must trigger there (none: a clean counterpart)."""

    id: str
    call: str
    expected: frozenset[str]
    module: str = "services"
    rewritten: frozenset[str] = frozenset()
    """Rules whose finding must come with a rewrite of the module."""
    config: str = ""
    explain: bool = False
    """EXPLAIN runs, on an order table grown to `MANY` rows first."""


def shop_case(
    id: str, call: str, *expected: str, rewritten: tuple[str, ...] | None = None, module: str = "services",
    config: str = "", explain: bool = False,
) -> ShopCase:  # fmt: skip
    rewrites = frozenset(expected if rewritten is None else rewritten)
    return ShopCase(id, call, frozenset(expected), module, rewrites, config, explain)


CASES = [
    shop_case("n1", "services.order_totals(db.session)", "n-plus-one"),
    shop_case("n1-clean", "services.order_totals_eager(db.session)"),
    shop_case("eager-unused", "services.customer_names(db.session)", "unused-eager-load"),
    shop_case("eager-clean", "services.customer_names_plain(db.session)"),
    shop_case("n1-template", "client.get('/customers').text", "n-plus-one", module="web"),
    shop_case("insert-objects", "services.add_orders_once(db.session, 1, list(range(150)))", "loop-insert"),
    shop_case("insert-rows", "services.import_orders_row_by_row(db.session, ROWS)", "loop-insert"),
    shop_case("insert-clean", "services.import_orders(db.session, ROWS)"),
    shop_case("commit-per-row", "services.add_orders(db.session, 1, list(range(20)))", "repeated-flush"),
    shop_case("commit-clean", "services.add_orders_once(db.session, 1, list(range(20)))"),
    shop_case("update-loop", "services.raise_totals(db.session)", "loop-update"),
    shop_case("update-clean", "services.raise_totals_at_once(db.session)"),
    shop_case("len-all", "services.count_big_orders(db.session)", "len-all"),
    shop_case("len-clean", "services.count_big_orders_in_sql(db.session)"),
    shop_case("exists", "services.has_big_order(db.session)", "first-for-exists"),
    shop_case("exists-clean", "services.has_big_order_exists(db.session)"),
    shop_case("deferred", "services.order_notes(db.session)", "column-load"),
    shop_case("deferred-clean", "services.order_notes_undeferred(db.session)"),
    shop_case("expired", "services.order_totals_after_commit(db.session)", "column-load", rewritten=()),
    shop_case("expired-clean", "services.order_totals_before_commit(db.session)"),
    shop_case("columns", "services.order_total_list(db.session)", "unused-columns"),
    shop_case("columns-clean", "services.order_total_list_columns(db.session)"),
    shop_case("large", "services.grand_total(db.session)", "large-result", config="large_result_rows = 100"),
    shop_case(
        "large-clean",
        "services.grand_total_streamed(db.session)",
        config="large_result_rows = 100",
    ),
    shop_case("duplicate", "services.shares_of_best(db.session, IDS)", "duplicate-query"),
    shop_case("duplicate-clean", "services.shares_of_best_once(db.session, IDS)"),
    shop_case(
        "cascade", "services.close_suppliers(db.session, [1, 2, 3])", "orm-cascade-delete", rewritten=()
    ),
    shop_case("cascade-in-sql", "services.close_suppliers_in_sql(db.session, [1, 2, 3])"),
    shop_case("cascade-passive", "services.close_warehouses(db.session, [1, 2])"),
    shop_case("dynamic", "services.shipment_counts(db.session)", "dynamic-relationship", rewritten=()),
    shop_case("dynamic-clean", "services.shipment_counts_grouped(db.session)"),
    shop_case("nokey", "services.shipped_weights(db.session, [4, 5, 6])", "no-cache-key"),
    shop_case("nokey-clean", "services.shipped_weights_cached(db.session, [4, 5, 6])"),
    shop_case(
        "cache-off",
        "services.order_lines(db.engine, LINES, cache=False)",
        "no-cache-key",
        "loop-select",
        rewritten=(),
    ),
    shop_case("cache-on", "services.order_lines(db.engine, LINES)", "loop-select", rewritten=()),
    shop_case("mapper-job", "services.supplier_report_job(db.session)", "mapper-config", rewritten=()),
    shop_case("mapper-clean", "services.supplier_report(db.session)"),
    shop_case("cartesian", "services.big_orders_with_names(db.session)", "cartesian-product", rewritten=()),
    shop_case("cartesian-clean", "services.big_orders_with_names_joined(db.session)"),
    shop_case("scan", "services.orders_noted(db.session, 'n7')", "seq-scan", rewritten=(), explain=True),
    shop_case("scan-clean", "services.orders_numbered(db.session, IDS)", explain=True),
]

SETUP = """
from tests.scenarios.shop import services
from tests.scenarios.shop.models import db
from tests.scenarios.shop.web import create_app
from tests.scenarios.test_shop import IDS, LINES, MANY, ROWS
shop_app = create_app()
client = shop_app.test_client()
shop_context = shop_app.app_context()
shop_context.push()
"""

TEARDOWN = """
db.session.remove()
shop_context.pop()
"""


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext sqla_magic", store_history=False).raise_error()
    try:
        yield ip
    finally:
        ip.run_cell("%unload_ext sqla_magic", store_history=False)


def run_cell(shell: InteractiveShell, case: ShopCase) -> Report:
    shell.run_cell(SETUP, store_history=False).raise_error()
    defaults = {}
    try:
        if case.config:
            name, value = (part.strip() for part in case.config.split("="))
            defaults[name] = getattr(Thresholds(), name)
            shell.run_line_magic("config", f"SqlProfile.{name} = {value}")
        shell.user_ns.pop("rep", None)
        if case.explain:
            shell.run_cell("services.import_orders(db.session, MANY)", store_history=False).raise_error()
        result = shell.run_cell(
            f"%%sqlprofile -o rep --quiet{'' if case.explain else ' --no-explain'}\n{case.call}\n",
            store_history=False,
        )
        result.raise_error()
        report = shell.user_ns["rep"]
        assert isinstance(report, Report)
        return report
    finally:
        for name, value in defaults.items():
            shell.run_line_magic("config", f"SqlProfile.{name} = {value!r}")
        shell.run_cell(TEARDOWN, store_history=False).raise_error()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rules_fire_in_the_module_the_cell_calls(
    shell: InteractiveShell, case: ShopCase, tmp_path: Path
) -> None:
    report = run_cell(shell, case)
    assert {f.rule for f in report.findings} == set(case.expected), [f.message for f in report.findings]
    module_file = str(SHOP / f"{case.module}.py")
    for finding in report.findings:
        assert finding.sites, finding
        named = [s for s in finding.sites if s.file == module_file]
        assert named, finding.sites  # the module's own line is among the sites
        assert any(f"{case.module}.py:{site.line}` in `" in finding.message for site in named), (
            finding.message
        )
        assert finding.sites[-1].file == report.filename  # out to the cell's line
        if finding.rule in case.rewritten or finding.rewrite is not None:
            check_module_rewrite(finding, module_file, case, tmp_path / finding.rule)


def check_module_rewrite(finding: Finding, module_file: str, case: ShopCase, tmp_path: Path) -> None:
    rewrite = finding.rewrite
    assert rewrite is not None, f"{finding.rule}: no rewrite of {module_file}"
    assert rewrite.path == module_file
    original = Path(module_file).read_text(encoding="utf-8")
    assert rewrite.original == original and rewrite.rewritten != original
    assert rewrite.diff().startswith(f"--- {module_file}\n+++ {module_file} (rewritten)\n")
    compile(rewrite.rewritten, module_file, "exec")
    changed = [
        line for line in rewrite.diff().splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert len(changed) <= 6, rewrite.diff()  # the file's other lines and formatting are kept
    rewritten = load_module(rewrite.rewritten, case.module, tmp_path)
    original_module = services if case.module == "services" else web
    assert run_against_fresh_database(original_module, case) == run_against_fresh_database(rewritten, case)


def load_module(text: str, name: str, directory: Path) -> ModuleType:
    """The rewritten module, importable beside a copy of the shop's templates."""
    directory.mkdir(exist_ok=True)
    path = directory / f"rewritten_{name}.py"
    path.write_text(text, encoding="utf-8")
    if not (directory / "templates").exists():
        os.symlink(SHOP / "templates", directory / "templates")
    unique = f"rewritten_{name}_{directory.parent.name}_{directory.name}".replace("-", "_")
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_against_fresh_database(module: ModuleType, case: ShopCase) -> tuple[Any, dict[str, list[Any]]]:
    """The call's result and every table's rows afterwards, on a fresh shop database."""
    create_app: Callable[[], Any] = module.create_app if case.module == "web" else web.create_app
    app = create_app()
    with app.app_context():
        scope = {"services": module, "db": db, "client": app.test_client()}
        scope.update(ROWS=ROWS, IDS=IDS, LINES=LINES)
        result = eval(case.call, scope)
        db.session.remove()
        with db.engine.connect() as connection:
            tables = {
                table.name: [
                    tuple(row) for row in connection.execute(sa.select(table).order_by(*table.primary_key))
                ]
                for table in db.metadata.sorted_tables
            }
        db.session.remove()
    return result, tables


def test_every_module_rule_has_a_clean_counterpart() -> None:
    fired = {rule for case in CASES for rule in case.expected}
    every = {name.replace("_", "-") for name in (*analysis.RULE_MODULES, *analysis.PLAN_RULE_MODULES)}
    assert fired == every  # every rule fires from a module the cell only calls
    assert sum(not case.expected for case in CASES) >= len(fired) - 1
