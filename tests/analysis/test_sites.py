"""Findings in the user's modules: named by file, line and function, rewritten as the file,
and, for a module whose source cannot be read or parsed, given without a rewrite."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import py_compile
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

if sa.__version__.startswith("1."):
    pytest.skip("the shop models are written in SQLAlchemy 2.0's typed style", allow_module_level=True)

from sqla_magic import profile
from sqla_magic.analysis import sites
from sqla_magic.model import Report, Site, Statement
from sqla_magic.render.widget import write_module
from tests.scenarios.shop.models import db
from tests.scenarios.shop.web import create_app

MODULE = """\
# a module of the application, with Windows line endings kept as written
from sqlalchemy import select
from tests.scenarios.shop.models import Customer, Order, Supplier


def order_totals(session):
    customers = session.scalars(select(Customer)).all()
    return {c.name: sum(o.total for o in c.orders) for c in customers}


def add_orders(session, totals):
    for total in totals:
        session.add(Order(customer_id=1, total=total))
    session.commit()


def shipment_counts(session):
    return {s.id: s.shipments.count() for s in session.scalars(select(Supplier))}


def close_suppliers(session):
    for supplier in session.scalars(select(Supplier).where(Supplier.id.in_([1, 2, 3]))):
        session.delete(supplier)
    session.commit()


def big_orders_with_names(session):
    return session.execute(select(Customer.name, Order.total).where(Order.total > 100)).all()
"""
RUN_TIME_RULES = {
    "n-plus-one",
    "loop-insert",
    "dynamic-relationship",
    "orm-cascade-delete",
    "cartesian-product",
}


@pytest.fixture
def shop() -> Iterator[None]:
    app = create_app()
    with app.app_context():
        yield
        db.session.remove()


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module: ModuleType) -> Report:
    with profile(explain=False, memory=False) as report:
        module.order_totals(db.session)
        module.add_orders(db.session, list(range(120)))
        module.shipment_counts(db.session)
        module.close_suppliers(db.session)
        module.big_orders_with_names(db.session)
    return report


def findings(report: Report) -> dict[str, object]:
    return {f.rule: f for f in report.findings}


def test_a_module_finding_names_the_file_line_and_function_and_rewrites_the_file(
    shop: None, tmp_path: Path
) -> None:
    path = tmp_path / "app_services.py"
    path.write_bytes(MODULE.replace("\n", "\r\n").encode())
    report = run(load(path, "app_services_crlf"))
    found = {f.rule: f for f in report.findings}
    n1, insert = found["n-plus-one"], found["loop-insert"]
    assert n1.sites[0] == Site(str(path), 8, n1.sites[0].function)
    assert n1.sites[0].function in ("order_totals", "order_totals.<locals>.<dictcomp>")
    assert f"{path.name}:8` in `order_totals`" in n1.message
    assert n1.sites[1].line == 7 and n1.sites[-1].file == __file__  # the query, then the caller
    rewrite = n1.rewrite
    assert rewrite is not None and rewrite.path == str(path)
    assert rewrite.original == path.read_bytes().decode()
    assert "\r\n" in rewrite.rewritten and "\n" not in rewrite.rewritten.replace("\r\n", "")
    assert "select(Customer).options(selectinload(Customer.orders))" in rewrite.rewritten
    assert rewrite.diff().startswith(f"--- {path}\n+++ {path} (rewritten)\n")
    assert insert.rewrite is not None and insert.rewrite.path == str(path)
    assert "session.execute(insert(Order), [dict(customer_id=1, total=total) for total in totals])" in (
        insert.rewrite.rewritten
    )


def test_a_module_with_a_syntax_error_now_gives_the_findings_without_rewrites(
    shop: None, tmp_path: Path
) -> None:
    path = tmp_path / "broken_services.py"
    path.write_text(MODULE, encoding="utf-8")
    module = load(path, "broken_services")
    path.write_text(MODULE + "\ndef (:\n", encoding="utf-8")  # edited since it was imported
    report = run(module)
    assert {f.rule for f in report.findings} == RUN_TIME_RULES
    for finding in report.findings:
        assert finding.rewrite is None and finding.sites[0].file == str(path)


def test_a_compiled_only_module_gives_the_findings_without_rewrites(shop: None, tmp_path: Path) -> None:
    source = tmp_path / "compiled_services.py"
    source.write_text(MODULE, encoding="utf-8")
    compiled = tmp_path / "compiled_services.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    source.unlink()
    loader = importlib.machinery.SourcelessFileLoader("compiled_services", str(compiled))
    spec = importlib.util.spec_from_loader("compiled_services", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    report = run(module)
    assert {f.rule for f in report.findings} == RUN_TIME_RULES
    for finding in report.findings:
        assert finding.rewrite is None and finding.sites[0].file == str(source)
        assert f"{source.name}:" in finding.message


def test_a_zipped_module_gives_the_findings_without_rewrites(shop: None, tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_services.py", MODULE)
    sys.path.insert(0, str(archive))
    try:
        import zipped_services  # type: ignore[import-not-found]

        report = run(zipped_services)
    finally:
        sys.path.remove(str(archive))
        sys.modules.pop("zipped_services", None)
    assert {f.rule for f in report.findings} == RUN_TIME_RULES
    for finding in report.findings:
        assert finding.rewrite is None and finding.sites[0].file.startswith(str(archive))


def test_writing_a_module_rewrite_needs_the_text_it_was_made_from(shop: None, tmp_path: Path) -> None:
    path = tmp_path / "written_services.py"
    path.write_text(MODULE, encoding="utf-8")
    report = run(load(path, "written_services"))
    number = next(i for i, f in enumerate(report.findings) if f.rule == "loop-insert")
    rewrite = report.findings[number].rewrite
    assert rewrite is not None
    path.write_text(MODULE + "# edited\n", encoding="utf-8")
    refused = write_module(report, number)
    assert not refused["ok"] and "changed since it was profiled" in refused["message"]
    assert path.read_text(encoding="utf-8") == MODULE + "# edited\n"
    path.write_text(MODULE, encoding="utf-8")
    written = write_module(report, number)
    assert written["ok"] and written["path"] == str(path)
    assert path.read_text(encoding="utf-8") == rewrite.rewritten
    cell_rewrite = next(
        (i for i, f in enumerate(report.findings) if f.rewrite is not None and f.rewrite.path is None), None
    )
    assert cell_rewrite is None  # every rewrite here is of the module


def test_sites_orders_a_group_by_how_often_then_the_fix_then_callers() -> None:
    inner, other, caller = Site("m.py", 3, "f"), Site("m.py", 9, "g"), Site("<cell>", 2, "<module>")
    loads = [statement((inner, caller)) for _ in range(3)] + [statement((other, caller))]
    report = Report(wall_s=1.0, cpu_s=1.0, statements=tuple(loads), filename="<cell>")
    query = Site("m.py", 1, "f")
    assert sites.sites(report, range(4), also=[query]) == (inner, other, query, caller)
    assert sites.where(report, inner) == "`m.py:3` in `f`" and sites.where(report, caller) == "line 2"


def statement(stack: tuple[Site, ...]) -> Statement:
    return Statement(
        sql="SELECT 1",
        params=[],
        duration_s=0.001,
        rowcount=1,
        executemany=False,
        fingerprint="x",
        cache="cached",
        line=stack[-1].line,
        origin="query",
        engine="sqlite://",
        thread="MainThread",
        site=stack[0],
        stack=stack,
    )
