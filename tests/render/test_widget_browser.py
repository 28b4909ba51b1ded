"""The notebook view in a real JupyterLab, driven by headless Chromium.

One JupyterLab server and one browser for the whole module (they are heavy): a notebook
with an N+1 cell is run, every tab is opened, and the Apply, Try it and Copy buttons are
clicked.  Screenshots go to `test-artifacts/` for a human look.

Skipped when chromium, JupyterLab or Playwright is missing, unless
SQLA_MAGIC_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SQLA_MAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 120_000

SETUP_CELL = """\
%load_ext sqla_magic
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqla_magic import demo
engine = sa.create_engine("sqlite:///demo.db")
models = demo.declare()
models.metadata.create_all(engine)
demo.populate(engine, models, authors=300, books_per_author=5)
session = Session(engine)"""

PROFILED_CELL = """\
%%sqlprofile
authors = session.query(models.Author).all()
total = 0
for author in authors:
    total += len(author.books)
total"""


def _missing() -> str:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    for module in ("playwright", "jupyterlab", "anywidget"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    return ""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JupyterLab server on localhost with its own config, data and runtime dirs."""
    missing = _missing()
    if missing:
        if os.environ.get("SQLA_MAGIC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}")
        pytest.skip(missing)
    home = tmp_path_factory.mktemp("lab")
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        path = home / name.lower()
        path.mkdir()
        env[name] = str(path)
    notebook = {
        "cells": [
            {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
            for source in (SETUP_CELL, PROFILED_CELL)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for index, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{index}"
    # No news prompt over the screenshots, and no workspace carried over from elsewhere.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
    (home / "work").mkdir()
    for name in ("n_plus_one", "notebook7"):  # each with its own database file
        text = json.dumps(notebook).replace("demo.db", f"{name}.db")
        (home / "work" / f"{name}.ipynb").write_text(text)
    port = _free_port()
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--ServerApp.root_dir={home / 'work'}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status", server, home / "lab.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def context(lab: str) -> Iterator[Any]:
    """A headless Chromium with clipboard access."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000},
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
            browser.close()


@pytest.fixture(scope="module")
def page(lab: str, context: Any) -> Iterator[Any]:
    """The notebook, open in JupyterLab, with both cells run."""
    page = _run_notebook(context, f"{lab}/lab/tree/n_plus_one.ipynb?reset")
    try:
        yield page
    finally:
        page.screenshot(path=str(ARTIFACTS / "widget-final.png"), full_page=True)
        page.close()


def _run_notebook(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    _accept_kernel_dialog(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_selector(".sqm .sqm-tabs", timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "widget-not-shown.png"), full_page=True)
        raise
    return page


def _accept_kernel_dialog(page: Any) -> None:
    dialog = page.locator("dialog.jp-Dialog button.jp-mod-accept")
    try:
        dialog.wait_for(timeout=5_000)
        dialog.click()
    except Exception:  # no kernel dialog: the notebook's kernelspec was found
        pass


def _open_tab(page: Any, name: str) -> Any:
    page.locator(f".sqm .sqm-tab-{name}").first.click()
    panel = page.locator(f".sqm .sqm-panel-{name}").first
    page.wait_for_selector(f".sqm .sqm-panel-{name}.sqm-ready")
    return panel


def _shot(page: Any, name: str) -> None:
    page.locator(".sqm").first.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def test_header_shows_the_headline_figures(page: Any) -> None:
    header = page.locator(".sqm .sqm-header").first
    text = header.inner_text()
    for label in ("wall time", "statements", "rows", "ORM objects", "peak memory", "findings"):
        assert label in text
    assert "301" in text
    assert page.locator(".sqm .sqm-bar .sqm-segment").count() >= 2
    _shot(page, "findings")


def test_each_tab_renders_its_content(page: Any) -> None:
    findings = _open_tab(page, "findings")
    assert "N+1" in findings.inner_text()
    assert "selectinload" in findings.locator(".sqm-diff").first.inner_text()

    statements = _open_tab(page, "statements")
    assert "SELECT" in statements.inner_text()
    first_group = statements.locator(".sqm-group-row").first
    assert first_group.locator("td").first.inner_text().strip() == "300"
    first_group.click()
    detail = statements.locator(".sqm-detail-row:not([hidden])").first
    detail.locator(".sqm-sql .sqm-kw").first.wait_for()
    assert detail.locator("tbody tr").count() == 50  # one page of the 300 executions
    assert "page 1 of 6" in detail.inner_text()
    _shot(page, "statements")

    tree = _open_tab(page, "tree")
    assert tree.locator(".sqm-node").count() > 5
    assert tree.locator(".sqm-kind-cell").count() >= 1
    assert tree.locator(".sqm-kind-sqlalchemy").count() >= 1
    assert "_load_for_state" in tree.inner_text() or "__get__" in tree.inner_text()
    _shot(page, "tree")

    memory = _open_tab(page, "memory")
    assert "peak above the start" in memory.inner_text()
    _shot(page, "memory")

    explain = _open_tab(page, "explain")
    assert "EXPLAIN" in explain.inner_text() or "No EXPLAIN plans" in explain.inner_text()
    _shot(page, "explain")

    orm = _open_tab(page, "orm")
    text = orm.inner_text()
    assert "Author" in text and "Book" in text and "lazy load Author.books" in text
    _shot(page, "orm")


def test_apply_inserts_the_rewritten_cell_below(page: Any) -> None:
    _open_tab(page, "findings")
    cells = page.locator(".jp-Notebook .jp-Cell")
    before = cells.count()
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-apply")).first
    card.locator(".sqm-apply").click()
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length > {before}")
    inserted = cells.nth(2).locator(".cm-content").inner_text()
    assert "selectinload(models.Author.books)" in inserted
    assert cells.nth(1).locator(".cm-content").inner_text().startswith("%%sqlprofile")
    assert "Inserted" in card.locator(".sqm-status").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "widget-applied.png"))


def test_try_it_shows_before_and_after(page: Any) -> None:
    _open_tab(page, "findings")
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
    card.locator(".sqm-try").click()
    status = card.locator(".sqm-status").first
    page.wait_for_function(
        "el => el.textContent && !el.textContent.startsWith('Running')", arg=status.element_handle()
    )
    table = card.locator(".sqm-compare")
    table.wait_for()
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [cell.inner_text() for cell in row.locator("td").all()]
        rows[cells[0]] = (cells[1], cells[2])
    assert rows["statements"] == ("301", "2")
    assert "same result" in card.inner_text()
    card.screenshot(path=str(ARTIFACTS / "widget-try-it.png"))


def test_copy_puts_the_rewrite_on_the_clipboard(page: Any) -> None:
    _open_tab(page, "findings")
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
    card.locator(".sqm-actions .sqm-copy").first.click()
    status = card.locator(".sqm-status").first
    page.wait_for_function("el => el.textContent.startsWith('Copied')", arg=status.element_handle())
    assert "selectinload" in page.evaluate("navigator.clipboard.readText()")


def test_the_saved_output_keeps_static_renderings(lab: str, page: Any) -> None:
    """The mime bundle carries text/html and text/plain beside the widget view."""
    page.keyboard.press("Control+s")
    time.sleep(2)
    with urllib.request.urlopen(f"{lab}/api/contents/n_plus_one.ipynb") as response:
        notebook = json.load(response)["content"]
    outputs = [o for o in notebook["cells"][1]["outputs"] if o["output_type"] == "display_data"]
    assert outputs, notebook["cells"][1]["outputs"]
    data = outputs[0]["data"]
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= set(data)


def test_apply_in_notebook_7(lab: str, context: Any) -> None:
    page = _run_notebook(context, f"{lab}/notebooks/notebook7.ipynb")
    try:
        cells = page.locator(".jp-Notebook .jp-Cell")
        before = cells.count()
        page.locator(".sqm .sqm-card .sqm-mode").first.select_option("replace")
        page.locator(".sqm .sqm-card .sqm-apply").first.click()
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
            ".querySelector('.cm-content').textContent.includes('selectinload')"
        )
        assert cells.count() == before  # replaced in place, not inserted
        assert cells.nth(1).locator(".cm-content").inner_text().startswith("%%sqlprofile")
        page.screenshot(path=str(ARTIFACTS / "widget-notebook7.png"))
    finally:
        page.close()
