"""What a user waits for before the first profile: loading the extension, and the first `profile()`.

Three figures, each from fresh processes (imports are paid once per process):
- `python -X importtime -c "import sqla_magic.magic"`: the whole import, IPython included;
- `%load_ext sqla_magic` in a real Jupyter kernel (jupyter_client), timed inside the kernel
  and as the execute request's round trip;
- the first `with profile():` of a process on a small N+1 outside IPython, from entering
  the block to the report (what the rules and rewrites import is paid here).
Heavy modules still loaded afterwards are listed.  Run it against another checkout by
putting that checkout first on `PYTHONPATH`.

    python benchmarks/load_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("libcst", "pandas", "sqlparse", "sqlalchemy", "sqla_magic.analysis.rules", "sqla_magic.explain")

_LOADED = f"import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"

_FIRST_PROFILE = (
    """
import sys, time
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqla_magic import demo, profile
engine = sa.create_engine("sqlite://")
models = demo.declare()
demo.populate(engine, models, authors=20, books_per_author=3)
with Session(engine) as session:
    started = time.perf_counter()
    with profile(explain=False) as report:
        for author in session.query(models.Author).all():
            author.books
    print(time.perf_counter() - started)
    print(sorted({f.rule for f in report.findings}))
"""
    + _LOADED
)


def _env() -> dict[str, str]:
    """This process's import path for the children, so they load the same checkout."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", root)
    return {**os.environ, "PYTHONPATH": path}


def import_time(runs: int) -> tuple[list[float], str]:
    seconds = []
    loaded = ""
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import sqla_magic.magic; {_LOADED}"],
            capture_output=True, text=True, check=True, env=_env(),
        )  # fmt: skip
        line = next(x for x in reversed(done.stderr.splitlines()) if x.endswith("| sqla_magic.magic"))
        seconds.append(int(line.split("|")[1]) / 1e6)
        loaded = done.stdout.strip()
    return seconds, loaded


def kernel_load(runs: int) -> tuple[list[float], list[float], str]:
    from jupyter_client.manager import start_new_kernel

    inside, round_trip = [], []
    loaded = ""
    code = (
        "import time as _t\n_started = _t.perf_counter()\n"
        "get_ipython().run_line_magic('load_ext', 'sqla_magic')\n"
        "print(_t.perf_counter() - _started)\n" + _LOADED
    )
    for _ in range(runs):
        manager, client = start_new_kernel(kernel_name="python3", env=_env())
        try:
            client.execute_interactive("1", timeout=60, output_hook=lambda _: None)  # up and idle
            printed: list[str] = []

            def keep(message: dict[str, object], printed: list[str] = printed) -> None:
                content = message["content"]
                if message["msg_type"] == "stream" and isinstance(content, dict):
                    printed.append(str(content["text"]))

            started = time.perf_counter()
            client.execute_interactive(code, timeout=120, output_hook=keep)
            round_trip.append(time.perf_counter() - started)
            lines = "".join(printed).splitlines()
            inside.append(float(lines[0]))
            loaded = lines[1] if len(lines) > 1 else ""
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return inside, round_trip, loaded


def first_profile(runs: int) -> tuple[list[float], str, str]:
    seconds = []
    rules = loaded = ""
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _FIRST_PROFILE], capture_output=True, text=True, check=True, env=_env()
        )
        lines = done.stdout.splitlines()
        seconds.append(float(lines[0]))
        rules, loaded = lines[1], lines[2] if len(lines) > 2 else ""
    return seconds, rules, loaded


def _row(what: str, seconds: list[float], loaded: str) -> str:
    return (
        f"| {what} | {min(seconds) * 1000:.0f} ms | {statistics.median(seconds) * 1000:.0f} ms "
        f"| {loaded or 'none of them'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    imported, imported_loaded = import_time(args.runs)
    inside, round_trip, kernel_loaded = kernel_load(args.runs)
    first, rules, first_loaded = first_profile(args.runs)
    print(f"{args.runs} fresh processes each; heavy modules watched: {', '.join(HEAVY)}\n")
    print("| what | best | median | heavy modules loaded after it |")
    print("|---|---:|---:|---|")
    print(_row('`python -X importtime -c "import sqla_magic.magic"`', imported, imported_loaded))
    print(_row("`%load_ext sqla_magic` in a Jupyter kernel (inside the kernel)", inside, kernel_loaded))
    print(_row("`%load_ext sqla_magic` in a Jupyter kernel (execute round trip)", round_trip, kernel_loaded))
    print(_row(f"first `with profile()` of a process, small N+1 (findings {rules})", first, first_loaded))


if __name__ == "__main__":
    main()
