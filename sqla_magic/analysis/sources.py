"""The profiled source, parsed for the rules only when one of them reads it.

Parsing needs libcst, which takes longer to import than the rest of the package: rules
first look at the statements, and only those whose evidence calls for the source get
here.  Each source is parsed once; every rule of a run reads the same parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell


def parse_cell(source: str) -> Optional[Cell]:
    """The source parsed for reading and rewriting, or `None` if it is not Python."""
    from sqla_magic.analysis import rewrite

    return rewrite.parse_cell(source)
