"""Run the benchmarks, each in its own process, and write this Python's section of `benchmarks/RESULTS.md`.

    python benchmarks/run_all.py [--runs 7] [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/test]
                                 [--skip postgresql instructions budget scaling rendering detection ...]
                                 [--instruction-workloads "1k short selects" ...]

RESULTS.md has one section per Python version (`## Python 3.12`); a run replaces its own
version's section and keeps the others, so running this under 3.11, 3.12 and 3.13 fills
all three.  Each script prints markdown; this one adds the machine, versions, date and the
machine's load average at the start and the end (the wall-clock tables move with it, the
instruction counts do not).
A script that fails (a server that is not reachable, say) leaves its error in place of
its table instead of stopping the others.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TITLE = "# Benchmark results\n"


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


def _load() -> str:
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"```\n{script} failed:\n{done.stderr.strip()[-2000:]}\n```"
    return done.stdout.strip()


def _sections(
    runs: str, pg_url: str, skip: set[str], instruction_workloads: Sequence[str] = ()
) -> list[tuple[str, str]]:
    overhead = ["--runs", runs, "--peers", "--modes", "capture only", "default", "default + findings"]
    wanted = [
        ("sqlite", "Overhead on SQLite (wall clock, ratios to paired bare runs)",
         lambda: _run("overhead.py", *overhead)),
        ("postgresql", "Overhead on PostgreSQL (wall clock)",
         lambda: _run("overhead.py", *overhead, "--url", pg_url)),
        ("instructions", "Overhead and post-run cost in CPU instructions on SQLite (callgrind)",
         lambda: _run("instructions.py", *instruction_workloads)),
        ("budget", "Budget runs beside queryspy (CPU instructions under callgrind)",
         lambda: _run("budget_instructions.py")),
        ("serialisation", "Saving and reading a report (`to_json` / `from_json`)",
         lambda: _run("serialisation.py")),
        ("scaling", "Scaling: statements and call-tree nodes", lambda: _run("scaling.py")),
        ("rendering", "Rendering a large report (kernel time)", lambda: _run("render.py")),
        ("detection", "Detection parity on nplusone's N+1 scenarios", lambda: _run("detection.py")),
        ("load-time", "Loading the extension and the first profile", lambda: _run("load_time.py")),
        ("post-run", "After the profiled code, and a streamed load's memory", lambda: _run("post_run.py")),
    ]  # fmt: skip
    return [(title, produce()) for name, title, produce in wanted if name not in skip]


def _quoted(argument: str) -> str:
    return f'"{argument}"' if " " in argument else argument


def with_section(text: str, version: str, section: str) -> str:
    """`text` (RESULTS.md) with the section of Python `version` replaced by `section`,
    or added, the sections kept in version order."""
    parts = re.split(r"(?m)^(?=## Python \d+\.\d+\b)", text)
    head = parts[0] if parts and not parts[0].startswith("## Python") else TITLE
    sections = {
        match.group(1): part
        for part in parts
        if (match := re.match(r"## Python (\d+\.\d+)\b", part)) is not None
    }
    sections[version] = section.rstrip("\n") + "\n\n"
    ordered = sorted(sections, key=lambda v: tuple(int(n) for n in v.split(".")))
    return (head.rstrip("\n") + "\n\n" + "".join(sections[v] for v in ordered)).rstrip("\n") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="7")
    parser.add_argument("--pg-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip", nargs="*", default=[], help="sections to leave out")
    parser.add_argument(
        "--instruction-workloads",
        nargs="*",
        default=[],
        help="count only these workloads under callgrind (default: all; a full count takes long)",
    )
    args = parser.parse_args()
    version = ".".join(platform.python_version_tuple()[:2])
    machine, load = _machine(), _load()
    sections = _sections(args.runs, args.pg_url, set(args.skip), args.instruction_workloads)
    command = " ".join(["python benchmarks/run_all.py", *(_quoted(a) for a in sys.argv[1:])])
    body = [
        f"## Python {version}\n\nMachine and versions: {machine}\n\n`{command}`\n\n"
        f"Load average (1, 5, 15 min) at the start: {load}; at the end: {_load()}\n"
    ]
    body += [f"### {title}\n\n{text}\n" for title, text in sections]
    existing = RESULTS.read_text() if RESULTS.exists() else TITLE  # text before the first version kept
    RESULTS.write_text(with_section(existing, version, "\n".join(body)))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
