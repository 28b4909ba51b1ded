"""Loading the extension imports only the magic's glue: no libcst, rules, EXPLAIN or pandas.

A user pays `%load_ext sqla_magic` at every kernel start; what the rules and rewrites
need is imported when a profile needs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("libcst", "pandas", "sqla_magic.analysis.rules", "sqla_magic.explain", "sqla_magic.capture.run")
LOADED = f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_magic_loads_nothing_heavy() -> None:
    assert _run(f"import sqla_magic.magic\n{LOADED}") == "[]"


def test_the_rule_registry_is_built_without_libcst() -> None:
    code = (
        "from sqla_magic import analysis\n"
        "assert len(analysis.RULES) > 10 and analysis.PLAN_RULES\n"
        "import sys; print('libcst' in sys.modules)"
    )
    assert _run(code) == "False"


def test_a_profile_without_findings_that_need_the_source_does_not_load_libcst() -> None:
    code = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import Session\n"
        "from sqla_magic import demo, profile\n"
        "engine = sa.create_engine('sqlite://')\n"
        "models = demo.declare()\n"
        "demo.populate(engine, models, authors=5, books_per_author=2)\n"
        "with Session(engine) as session, profile(explain=False) as report:\n"
        "    names = [a.name for a in session.query(models.Author).all()]\n"
        "assert report.statements\n"
        "import sys; print('libcst' in sys.modules)"
    )
    assert _run(code) == "False"


@pytest.mark.kernel
def test_load_ext_in_a_real_kernel_does_not_import_libcst() -> None:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env=_env())
    try:
        printed: list[str] = []

        def keep(message: dict[str, object]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream" and isinstance(content, dict):
                printed.append(str(content["text"]))

        code = (
            f"%load_ext sqla_magic\nprint(get_ipython().find_cell_magic('sqlprofile') is not None)\n{LOADED}"
        )
        reply = client.execute_interactive(code, timeout=120, output_hook=keep)
        assert reply["content"]["status"] == "ok"
        assert "".join(printed).split() == ["True", "[]"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
