"""The numbers the rules compare evidence with.

In IPython each field is also a configurable trait: `%config SqlProfile.<name> = value`.
A field's `metadata["help"]` is that trait's help text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Thresholds:
    n_plus_one_threshold: int = field(
        default=10,
        metadata={"help": "lazy loads of one relationship from one line before n-plus-one fires"},
    )
