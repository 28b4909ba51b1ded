"""The profiled source as the rules read it: parsed once, and only when a rule needs it;
rewrites built only when someone reads them.

Parsing needs libcst, which takes longer to import than the rest of the package: rules
first look at the statements, and only those whose evidence calls for the source get
here.  Each source is parsed once; every rule of a run reads the same parse.  A rule
passes its rewrite as `deferred(build, ...)`: rendering the new source is left until
the finding is shown, applied or saved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, cast

from sqla_magic.model import DeferredRewrite, Rewrite

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell


def parse_cell(source: str) -> Optional[Cell]:
    """The source parsed for reading and rewriting, or `None` if it is not Python."""
    from sqla_magic.analysis import rewrite

    return rewrite.parse_cell(source)


def deferred(build: Callable[..., Optional[Rewrite]], *arguments: Any) -> Optional[Rewrite]:
    """`build(*arguments)` as a `Finding.rewrite`, called when the rewrite is first read.

    Typed as what `Finding.rewrite` reads back: the finding builds it on access.
    """
    return cast(Optional[Rewrite], DeferredRewrite(functools.partial(build, *arguments)))
