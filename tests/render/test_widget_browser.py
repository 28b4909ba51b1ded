"""The notebook view in a real JupyterLab, driven by headless Chromium.

One JupyterLab server (default settings) and one browser for the whole module (they are
heavy): the quickstart's in-memory SQLite library with an N+1 cell is run, every tab is
opened, the Apply, Try it and Copy buttons are clicked, the view is measured in the light
and dark themes and at 600 px, then the kernel is restarted and the page reloaded to find
the static report in its place, in JupyterLab and in Notebook 7.  Screenshots go to
`test-artifacts/` for a human look.

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
import urllib.error
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
engine = sa.create_engine("sqlite://")
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


BASELINE_CELL = PROFILED_CELL.replace("%%sqlprofile", "%%sqlprofile -o lazy --quiet")
COMPARED_CELL = """\
%%sqlprofile --compare lazy
from sqlalchemy.orm import selectinload
authors = session.query(models.Author).options(selectinload(models.Author.books)).all()
total = 0
for author in authors:
    total += len(author.books)
total"""


MODULE = "def authors(session, models):\n    return session.query(models.Author).all()\n"
MODULE_REWRITTEN = MODULE.replace(".all()", ".options(selectinload(models.Author.books)).all()")
MODULE_REWRITE_CELL = f"""\
# A finding whose rewrite changes a module file (services.py beside the notebook).
import dataclasses, pathlib
from sqla_magic.model import Rewrite
from sqla_magic.magic.display import display_report
pathlib.Path("services.py").write_text({MODULE!r})
rewrite = Rewrite({MODULE!r}, {MODULE_REWRITTEN!r}, "load the books with their authors", path="services.py")
module_report = dataclasses.replace(lazy, findings=(dataclasses.replace(lazy.findings[0], rewrite=rewrite),))
display_report(module_report, get_ipython())"""


REPOSITORY = Path(__file__).resolve().parents[2]
SHOP_CELL = f"""\
%load_ext sqla_magic
import sys
sys.path.insert(0, {str(REPOSITORY)!r})
from tests.scenarios.shop.web import create_app
client = create_app().test_client()"""
REQUESTS_CELL = """\
%%sqlprofile --no-explain
pages = [client.get(path).status_code for path in ("/customers", "/customer/3", "/customers")]
pages"""


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
    for name in ("n_plus_one", "notebook7"):
        (home / "work" / f"{name}.ipynb").write_text(json.dumps(notebook))
    compared = json.loads(json.dumps(notebook))
    compared["cells"] = [
        {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
        for source in (SETUP_CELL, BASELINE_CELL, COMPARED_CELL, MODULE_REWRITE_CELL)
    ]
    for index, cell in enumerate(compared["cells"]):
        cell["id"] = f"compare-{index}"
    (home / "work" / "compare.ipynb").write_text(json.dumps(compared))
    requests = json.loads(json.dumps(notebook))
    for cell, source in zip(requests["cells"], (SHOP_CELL, REQUESTS_CELL), strict=True):
        cell["source"] = source
    (home / "work" / "requests.ipynb").write_text(json.dumps(requests))
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
        print((home / "lab.log").read_text()[-5000:])
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


def _run_notebook(context: Any, url: str, cells: int = 2) -> Any:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    _accept_kernel_dialog(page)
    for index in range(cells):  # each cell, once the previous one has run (a busy page drops keys)
        _run_cell(page, index)
    try:
        page.wait_for_selector(".sqm .sqm-tabs", timeout=TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "widget-not-shown.png"), full_page=True)
        raise
    return page


def _run_cell(page: Any, index: int) -> None:
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    for _attempt in range(5):
        prompt.click()
        page.keyboard.press("Shift+Enter")
        try:  # started: "[*]" or already a number
            started = "(el) => /\\[(\\*|\\d+)\\]/.test(el.textContent)"
            page.wait_for_function(started, arg=prompt.element_handle(), timeout=20_000)
            break
        except Exception:
            continue
    page.wait_for_function("(el) => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle())


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
    for label in ("wall time", "statements", "rows", "ORM objects", "resident peak", "findings"):
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
    assert "resident peak" in memory.inner_text() and "--allocations" in memory.inner_text()
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


def test_try_it_asks_before_it_runs_anything(page: Any) -> None:
    """The first click only says what will run again and what cannot be undone."""
    _open_tab(page, "findings")
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
    card.locator(".sqm-try").click()
    confirm = card.locator(".sqm-confirm")
    confirm.wait_for()
    text = confirm.inner_text()
    assert "Run this cell's code again?" in text
    assert "rolled back" in text and "What it cannot undo:" in text
    assert confirm.locator(".sqm-cannot-undo li").count() >= 3
    assert "files" in text and "other threads" in text
    assert card.locator(".sqm-try").is_disabled()
    time.sleep(2)  # had the click run anything, the status would say so by now
    assert card.locator(".sqm-status").first.inner_text() == ""
    assert card.locator(".sqm-comparison").count() == 0
    confirm.screenshot(path=str(ARTIFACTS / "widget-confirm-light.png"))
    confirm.locator(".sqm-cancel").click()
    assert card.locator(".sqm-confirm").count() == 0
    assert card.locator(".sqm-status").first.inner_text() == "Cancelled: nothing was run."
    assert card.locator(".sqm-try").is_enabled()


def test_try_it_verifies_the_rewrite_on_the_kernels_main_thread(page: Any) -> None:
    """In-memory SQLite only works on the thread that made it: JupyterLab's subshell is not it."""
    _open_tab(page, "findings")
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
    card.locator(".sqm-try").click()
    card.locator(".sqm-confirm .sqm-run").click()  # the explicit second click
    status = card.locator(".sqm-status").first
    page.wait_for_function(
        "el => el.textContent && !el.textContent.startsWith('Running')", arg=status.element_handle()
    )
    assert status.inner_text().startswith("Ran the original and the rewritten cell"), status.inner_text()
    table = card.locator(".sqm-compare")
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [cell.inner_text() for cell in row.locator("td").all()]
        rows[cells[0]] = (cells[1], cells[2])
    assert rows["statements"] == ("301", "2")
    # The before/after is a Comparison of the two runs, with the rules run on both.
    assert "Findings: 1 fixed, 0 new" in card.locator(".sqm-comparison").inner_text()
    assert "same result" in card.inner_text()
    card.screenshot(path=str(ARTIFACTS / "widget-try-it.png"))


def test_copy_puts_the_rewrite_on_the_clipboard(page: Any) -> None:
    _open_tab(page, "findings")
    card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
    card.locator(".sqm-actions .sqm-copy").first.click()
    status = card.locator(".sqm-status").first
    page.wait_for_function("el => el.textContent.startsWith('Copied')", arg=status.element_handle())
    assert "selectinload" in page.evaluate("navigator.clipboard.readText()")


# Every visible piece of text in the view, with its colour composited over the backgrounds
# it is drawn on (translucent layers and opacity included), as WCAG 2 defines the ratio.
CONTRAST = """(root) => {
  const parse = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const page = parse(getComputedStyle(document.body).backgroundColor);
  const backdrop = (el) => {
    const layers = [];
    for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
      layers.push(parse(getComputedStyle(node).backgroundColor));
    }
    let colour = page[3] > 0 ? page : [255, 255, 255, 1];
    for (const layer of layers.reverse()) if (layer[3] > 0) colour = over(layer, colour);
    return colour;
  };
  const opacity = (el) => {
    let value = 1;
    for (let node = el; node; node = node.parentElement) value *= Number(getComputedStyle(node).opacity);
    return value;
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [];
  for (const el of [root, ...root.querySelectorAll("*")]) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest("button:disabled")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    const bg = backdrop(el);
    const fg = parse(style.color);
    const ink = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [hi, lo] = [luminance(ink), luminance(bg)].sort((a, b) => b - a);
    const text = el.textContent.trim().slice(0, 40);
    found.push({ ratio: (hi + 0.05) / (lo + 0.05), text, cls: el.className });
  }
  return found;
}"""


def _contrast(page: Any) -> list[dict[str, Any]]:
    """Open every tab (and a statement's SQL) and measure all the text in the view."""
    for name in ("statements", "tree", "memory", "explain", "orm", "findings"):
        panel = _open_tab(page, name)
        if name == "statements":
            if panel.locator(".sqm-detail-row:not([hidden])").count() == 0:
                panel.locator(".sqm-group-row").first.click()
            panel.locator(".sqm-detail-row:not([hidden]) .sqm-sql .sqm-kw").first.wait_for()
    measured: list[dict[str, Any]] = []
    for name in ("statements", "tree", "explain", "findings"):
        page.locator(f".sqm .sqm-tab-{name}").first.click()
        measured += page.evaluate(CONTRAST, page.locator(".sqm").first.element_handle())
    return measured


def _set_theme(lab: str, page: Any, theme: str, notebook: str = "n_plus_one.ipynb") -> None:
    """Change JupyterLab's theme setting as the Settings menu would; save and reload."""
    _saved(lab, page, notebook)
    status = page.evaluate(
        """async (theme) => {
            const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || "";
            const response = await fetch("/lab/api/settings/@jupyterlab/apputils-extension:themes", {
                method: "PUT",
                headers: { "X-XSRFToken": decodeURIComponent(xsrf), "Content-Type": "application/json" },
                body: JSON.stringify({ raw: JSON.stringify({ theme }) }),
            });
            return response.status;
        }""",
        theme,
    )
    assert status in (200, 204), status
    page.reload()
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light", arg="false" if "Dark" in theme else "true"
    )
    page.wait_for_selector(".sqm-live .sqm-tabs")  # the kernel lives: the view comes back


def test_text_contrast_in_the_light_and_dark_themes(lab: str, page: Any) -> None:
    for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        if name == "dark":
            _set_theme(lab, page, theme)
        measured = _contrast(page)
        assert len(measured) > 100, measured[:5]
        # Try it's confirmation too, open on the first card with a rewrite.
        card = page.locator(".sqm .sqm-card", has=page.locator(".sqm-try")).first
        card.locator(".sqm-try").click()
        confirm = card.locator(".sqm-confirm")
        confirm.wait_for()
        measured += page.evaluate(CONTRAST, confirm.element_handle())
        confirm.screenshot(path=str(ARTIFACTS / f"widget-confirm-{name}.png"))
        confirm.locator(".sqm-cancel").click()
        weak = [m for m in measured if m["ratio"] < 4.5]
        assert not weak, f"{name}: {weak[:10]}"
        print(name, "lowest contrast", min(m["ratio"] for m in measured))
        page.locator(".sqm").first.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))
    _set_theme(lab, page, "JupyterLab Light")


def test_the_view_is_usable_in_a_600_px_output(page: Any) -> None:
    viewport = page.viewport_size
    output = page.locator(".jp-OutputArea-output:has(.sqm)").first
    width = output.bounding_box()["width"]
    page.set_viewport_size({"width": int(viewport["width"] - (width - 600)), "height": viewport["height"]})
    try:
        page.wait_for_function(
            "(el) => Math.abs(el.getBoundingClientRect().width - 600) < 20", arg=output.element_handle()
        )
        statements = _open_tab(page, "statements")
        view = page.locator(".sqm").first
        assert view.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the view overflows sideways"
        right = output.bounding_box()["x"] + 600 + 20
        sql = statements.locator(".sqm-sql-cell code").first
        box = sql.bounding_box()
        assert box["x"] + box["width"] <= right, (box, right)
        toggle = statements.locator(".sqm-sql-cell .sqm-toggle").first.bounding_box()
        assert abs(toggle["y"] - box["y"]) < 6, "the toggle sits on the SQL's first line"
        assert "SELECT" in sql.inner_text()
        view.screenshot(path=str(ARTIFACTS / "widget-600px.png"))
        _open_tab(page, "findings")
        page.locator(".sqm").first.screenshot(path=str(ARTIFACTS / "widget-600px-findings.png"))
    finally:
        page.set_viewport_size(viewport)


def test_the_saved_output_is_the_static_report_only(lab: str, page: Any) -> None:
    """One output per report, and nothing in it that a front end could fail to find."""
    notebook = _saved(lab, page, "n_plus_one.ipynb")
    outputs = [o for o in notebook["cells"][1]["outputs"] if o["output_type"] == "display_data"]
    assert len(outputs) == 1, notebook["cells"][1]["outputs"]
    assert set(outputs[0]["data"]) == {"text/html", "text/plain"}
    assert "sqm-mount-" in "".join(outputs[0]["data"]["text/html"])


def _saved(lab: str, page: Any, name: str) -> Any:
    """Save the notebook (Ctrl+S, again until the file has the report's output) and read it back."""
    deadline = time.monotonic() + 60
    while True:
        page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
        page.keyboard.press("Control+s")
        time.sleep(2)
        try:
            with urllib.request.urlopen(f"{lab}/api/contents/{name}") as response:
                notebook = json.load(response)["content"]
        except urllib.error.HTTPError:  # read while the server was writing it
            continue
        outputs = [o for c in notebook["cells"] for o in c.get("outputs", [])]
        if any(o.get("output_type") == "display_data" for o in outputs):
            return notebook
        assert time.monotonic() < deadline, f"{name} was not saved with its outputs"


def _restart_kernel_and_reload(lab: str, page: Any, name: str) -> None:
    """What a user sees reopening the notebook later: no widget model survives a restart."""
    _saved(lab, page, name)
    with urllib.request.urlopen(f"{lab}/api/sessions") as response:
        sessions = json.load(response)
    (kernel,) = [s["kernel"]["id"] for s in sessions if s["path"].endswith(name)]
    status = page.evaluate(
        """async (kernel) => {
            const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || "";
            const response = await fetch("/api/kernels/" + kernel + "/restart",
                { method: "POST", headers: { "X-XSRFToken": decodeURIComponent(xsrf) } });
            return response.status;
        }""",
        kernel,
    )
    assert status == 200, status
    page.reload()
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    _accept_kernel_dialog(page)


def _assert_static_report(page: Any, name: str) -> None:
    static = page.locator(".jp-OutputArea-output .sqla-magic-report").first
    try:
        static.wait_for(state="visible")
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"widget-reopened-{name}-missing.png"))
        raise
    page.wait_for_function("() => document.querySelector('.jp-Notebook .jp-OutputArea') !== null")
    time.sleep(3)  # time for a widget manager to (wrongly) replace it
    text = static.inner_text()
    assert "Findings" in text and "N+1" in text, text[:2000]
    assert "301 executions" in text
    assert text.index("Findings") < text.index("SQL statements"), "what to do comes first"
    assert page.locator(".sqm-live").count() == 0
    body = page.locator(".jp-Notebook").first.inner_text()
    assert "model not found" not in body and "Error displaying widget" not in body
    page.screenshot(path=str(ARTIFACTS / f"widget-reopened-{name}.png"))


def test_reopened_after_a_kernel_restart_the_static_report_shows(lab: str, page: Any) -> None:
    _restart_kernel_and_reload(lab, page, "n_plus_one.ipynb")
    _assert_static_report(page, "lab")


def test_apply_and_reopen_in_notebook_7(lab: str, context: Any) -> None:
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
        _restart_kernel_and_reload(lab, page, "notebook7.ipynb")
        _assert_static_report(page, "notebook7")
    finally:
        page.close()


def test_the_compare_tab_of_a_run_made_with_compare(lab: str, context: Any) -> None:
    """`%%sqlprofile --compare lazy`: the view opens on Compare; the static report has it too."""
    page = _run_notebook(context, f"{lab}/lab/tree/compare.ipynb?reset", cells=3)
    try:
        assert page.locator(".sqm").count() == 1  # the baseline ran with --quiet
        panel = page.locator(".sqm .sqm-panel-compare").first
        page.wait_for_selector(".sqm .sqm-panel-compare.sqm-ready")
        assert "sqm-active" in (page.locator(".sqm .sqm-tab-compare").first.get_attribute("class") or "")
        assert "301 → 2" in page.locator(".sqm .sqm-tab-compare").first.inner_text()
        rows = {}
        for row in panel.locator(".sqm-compare tbody tr").all():
            cells = [cell.inner_text() for cell in row.locator("td").all()]
            rows[cells[0].strip()] = cells[1:]
        assert rows["statements"][:2] == ["301", "2"] and rows["statements"][2].endswith("better")
        assert rows["wall time"][2] == "no clear change" or rows["wall time"][2].endswith(("better", "worse"))
        text = panel.inner_text()
        assert "Statement shapes: 1 removed, 1 added, 1 unchanged" in text
        assert "Findings: " in text and "fixed n-plus-one: N+1 lazy loads of Author.books" in text
        for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            if name == "dark":
                _set_theme(lab, page, theme, "compare.ipynb")
                _open_tab(page, "compare")
            measured = page.evaluate(CONTRAST, page.locator(".sqm .sqm-panel-compare").first.element_handle())
            assert len(measured) > 20, measured[:5]
            weak = [m for m in measured if m["ratio"] < 4.5]
            assert not weak, f"{name}: {weak[:10]}"
            page.locator(".sqm").first.screenshot(path=str(ARTIFACTS / f"widget-compare-{name}.png"))
        _set_theme(lab, page, "JupyterLab Light", "compare.ipynb")
        # What is saved for readers without the kernel holds the comparison as well.
        notebook = _saved(lab, page, "compare.ipynb")
        (output,) = [o for o in notebook["cells"][2]["outputs"] if o["output_type"] == "display_data"]
        html = "".join(output["data"]["text/html"])
        assert "<h3>Comparison: lazy → this run</h3>" in html
        _apply_a_module_rewrite(lab, page)
    finally:
        page.close()


def _module_text(lab: str) -> str:
    with urllib.request.urlopen(f"{lab}/api/contents/services.py?type=file&format=text") as response:
        return str(json.load(response)["content"])


def _apply_a_module_rewrite(lab: str, page: Any) -> None:
    """Apply of a rewrite of a module file shows the diff and writes only on a second click."""
    _run_cell(page, 3)
    page.wait_for_function("() => document.querySelectorAll('.sqm-live').length === 2")
    view = page.locator(".sqm-live").nth(1)
    view.locator(".sqm-tab-findings").click()
    card = view.locator(".sqm-card", has=page.locator(".sqm-apply")).first
    card.wait_for()
    assert card.locator(".sqm-try").count() == 0 and card.locator(".sqm-mode").count() == 0
    card.locator(".sqm-apply").click()
    confirm = card.locator(".sqm-confirm-file")
    confirm.wait_for()
    assert "Write this change to services.py?" in confirm.inner_text()
    assert (
        "+    return session.query(models.Author).options(selectinload"
        in confirm.locator(".sqm-diff").inner_text()
    )
    time.sleep(2)
    assert _module_text(lab) == MODULE, "written before the confirmation"
    confirm.screenshot(path=str(ARTIFACTS / "widget-apply-module.png"))
    confirm.locator(".sqm-cancel").click()
    assert card.locator(".sqm-status").first.inner_text() == "Cancelled: nothing was written."
    assert _module_text(lab) == MODULE
    card.locator(".sqm-apply").click()
    card.locator(".sqm-confirm-file .sqm-write").click()
    status = card.locator(".sqm-status").first
    page.wait_for_function("el => el.textContent.startsWith('Wrote')", arg=status.element_handle())
    assert _module_text(lab) == MODULE_REWRITTEN


def test_statements_are_grouped_by_the_test_clients_requests(lab: str, context: Any) -> None:
    """A cell driving the shop's Flask app: one row per request, in the order they ran
    (the same path twice is two requests), and each execution says its request."""
    page = _run_notebook(context, f"{lab}/lab/tree/requests.ipynb?reset")
    try:
        panel = _open_tab(page, "statements")
        requests = panel.locator(".sqm-requests")
        assert "Test-client requests, in the order they ran" in requests.inner_text()
        rows = [
            [cell.inner_text() for cell in row.locator("td").all()]
            for row in requests.locator("tbody tr").all()
        ]
        # request, statements, total ms, rows, shapes, repeats: the customer list lazy-loads
        # each of its 30 customers' orders, the customer page reads one row.
        assert [(r[0], r[1], r[4]) for r in rows] == [
            ("GET /customers", "31", "2"),
            ("GET /customer/3", "1", "1"),
            ("GET /customers", "31", "2"),
        ], rows
        assert [r[3] for r in rows] == ["150", "1", "150"], rows
        lazy = panel.locator(".sqm-group-row", has_text="shop_order").first
        assert lazy.locator("td").first.inner_text().strip() == "60"  # both requests' lazy loads
        lazy.click()
        detail = panel.locator(".sqm-detail-row:not([hidden])").first
        detail.locator("tbody tr").first.wait_for()
        headers = [h.inner_text() for h in detail.locator("thead th").all()]
        column = headers.index("request")
        shown = [row.locator("td").nth(column).inner_text() for row in detail.locator("tbody tr").all()]
        assert len(shown) == 50 and set(shown) == {"GET /customers"}
        findings = _open_tab(page, "findings")
        assert "N+1" in findings.inner_text() and "GET /customers" in findings.inner_text()
        _shot(page, "requests")
    finally:
        page.close()
