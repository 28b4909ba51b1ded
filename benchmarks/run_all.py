"""Run every benchmark, each in its own process, and write `benchmarks/RESULTS.md`.

    python benchmarks/run_all.py [--runs 7] [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/test]

Each script prints markdown; this one adds the machine, versions and date above them.
A script that fails (a server that is not reachable, say) leaves its error in place of
its table instead of stopping the others.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            memory = f", {int(info.readline().split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("sqla_magic", "sqlalchemy", "pyinstrument", "sqltap", "nplusone", "psycopg2-binary")
    )
    return (
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores{memory}), "
        f"Python {platform.python_version()}, {versions}; "
        f"{datetime.date.today().isoformat()}"
    )


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"```\n{script} failed:\n{done.stderr.strip()[-2000:]}\n```"
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="7")
    parser.add_argument("--pg-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sections = [
        ("Overhead on SQLite (wall clock, ratios to paired bare runs)",
         _run("overhead.py", "--runs", args.runs, "--peers")),
        ("Overhead on PostgreSQL (wall clock)",
         _run("overhead.py", "--runs", args.runs, "--peers", "--url", args.pg_url)),
        ("Overhead in CPU instructions on SQLite (callgrind)", _run("instructions.py")),
        ("Scaling: statements and call-tree nodes", _run("scaling.py")),
        ("Rendering a large report (kernel time)", _run("render.py")),
        ("Detection parity on nplusone's N+1 scenarios", _run("detection.py")),
        ("Loading the extension and the first profile", _run("load_time.py")),
        ("After the profiled code, and a streamed load's memory (callgrind)", _run("post_run.py")),
    ]  # fmt: skip
    text = [f"# Benchmark results\n\nMachine and versions: {_machine()}\n"]
    text += [f"## {title}\n\n{body}\n" for title, body in sections]
    (HERE / "RESULTS.md").write_text("\n".join(text))
    print((HERE / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
