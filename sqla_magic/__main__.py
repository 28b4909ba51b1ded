"""`python -m sqla_magic demo`: profile a built-in N+1 workload and print the report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sqla_magic")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="profile a built-in N+1 workload and print the report")
    demo.add_argument("--url", default="sqlite://", help="database URL (default: in-memory SQLite)")
    demo.add_argument("--authors", type=int, default=300, help="parents of the N+1 (default 300)")
    demo.add_argument("--save", metavar="PATH", help="also write the report (.html or .json)")
    args = parser.parse_args(argv)
    return _demo(args.url, args.authors, args.save)


def _demo(url: str, authors: int, save: Optional[str]) -> int:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from sqla_magic import demo, profile

    engine = sa.create_engine(url)
    models = demo.declare("demo_")
    models.metadata.drop_all(engine)
    demo.populate(engine, models, authors=authors, books_per_author=20)
    try:
        # Lines are reported in the workload's own file, where the N+1 is written.
        with Session(engine) as session, profile(filename=demo.__file__) as report:
            pages = demo.count_pages_n_plus_one(session, models)
    finally:
        models.metadata.drop_all(engine)
    print(f"counted {pages} pages\n")
    print(report.to_text())
    if save:
        report.save(save)
        print(f"\nreport written to {save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
