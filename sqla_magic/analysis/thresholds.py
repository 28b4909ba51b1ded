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
    len_all_min_rows: int = field(
        default=20,
        metadata={"help": "rows a `len(q.all())` must fetch before len-all fires"},
    )
    first_for_exists_min_statements: int = field(
        default=1,
        metadata={"help": "SELECTs from a `.first()` truth test before first-for-exists fires"},
    )
    loop_update_threshold: int = field(
        default=20,
        metadata={"help": "rows of one table updated one by one before loop-update fires"},
    )
    loop_insert_threshold: int = field(
        default=100,
        metadata={"help": "rows inserted one by one into one table before loop-insert fires"},
    )
    repeated_flush_threshold: int = field(
        default=10,
        metadata={"help": "statements flushed from one commit()/flush() line in a loop before repeated-flush fires"},
    )
    unused_columns_min_rows: int = field(
        default=100,
        metadata={"help": "rows of whole entities loaded before unused-columns fires"},
    )
    unused_columns_max_fraction: float = field(
        default=0.5,
        metadata={"help": "unused-columns fires when at most this share of the selected columns is read"},
    )
