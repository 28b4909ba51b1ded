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
        metadata={
            "help": "flushes (or flushed statements, where flushes are not told apart) from one "
            "commit()/flush() line in a loop before repeated-flush fires"
        },
    )
    repeated_flush_chunk_rows: int = field(
        default=100,
        metadata={
            "help": "rows per flush from which flushes in a loop are taken as deliberate chunks "
            "(flush every N rows to bound memory), not flagged by repeated-flush"
        },
    )
    unused_columns_min_rows: int = field(
        default=100,
        metadata={"help": "rows of whole entities loaded before unused-columns fires"},
    )
    unused_columns_max_fraction: float = field(
        default=0.5,
        metadata={"help": "unused-columns fires when at most this share of the selected columns is read"},
    )
    orm_cascade_delete_threshold: int = field(
        default=10,
        metadata={
            "help": "child rows the ORM deletes one by one in a cascade before orm-cascade-delete fires"
        },
    )
    no_cache_key_min_statements: int = field(
        default=1,
        metadata={"help": "executions without a cache key (of one statement) before no-cache-key fires"},
    )
    mapper_config_min_s: float = field(
        default=0.002,
        metadata={
            "help": "seconds of mapper configuration inside the profiled code before mapper-config fires"
        },
    )
    large_result_rows: int = field(
        default=10_000,
        metadata={"help": "rows one statement fetches before large-result fires"},
    )
    seq_scan_min_rows: int = field(
        default=1_000,
        metadata={"help": "estimated rows of a filtered full scan before seq-scan fires"},
    )
    dynamic_relationship_threshold: int = field(
        default=10,
        metadata={
            "help": "queries of one dynamic relationship from one line before dynamic-relationship fires"
        },
    )
    duplicate_query_threshold: int = field(
        default=3,
        metadata={"help": "runs of the same SELECT with the same parameters before duplicate-query fires"},
    )
    loop_select_threshold: int = field(
        default=10,
        metadata={
            "help": "runs of one SELECT from one place with different parameters before loop-select fires"
        },
    )
    column_load_threshold: int = field(
        default=10,
        metadata={
            "help": "deferred or expired attribute loads of one class from one place before column-load fires"
        },
    )
    cache_off_min_statements: int = field(
        default=10,
        metadata={"help": "executions with the compiled cache switched off before no-cache-key fires"},
    )
    cache_off_min_compile_share: float = field(
        default=0.4,
        metadata={
            "help": "share of the time outside the database spent compiling before no-cache-key fires "
            "on a switched-off cache"
        },
    )
