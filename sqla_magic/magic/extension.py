"""`%load_ext sqla_magic` / `%unload_ext sqla_magic`: the magics, the cell transformer, the hook."""

from __future__ import annotations

from typing import Any

from sqla_magic.magic import magic
from sqla_magic.magic.findings import FindingMagics
from sqla_magic.magic.settings import loaded_settings

_MAGICS = (magic.SqlProfile, FindingMagics)


def load(shell: Any) -> None:
    if loaded_settings(shell) is None:
        for kind in _MAGICS:
            magics = kind(shell=shell)  # `Magics.__init__` adds it to `shell.configurables`
            shell.register_magics(magics)
            if magics not in shell.configurables:
                shell.configurables.append(magics)
    if magic.transform_cell not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(magic.transform_cell)
    if magic.post_run_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", magic.post_run_cell)


def unload(shell: Any) -> None:
    magic.stop_pending()
    while magic.transform_cell in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(magic.transform_cell)
    if magic.post_run_cell in shell.events.callbacks["post_run_cell"]:
        shell.events.unregister("post_run_cell", magic.post_run_cell)
    loaded: list[Any] = [c for c in shell.configurables if isinstance(c, _MAGICS)]
    for magics in loaded:
        for kind, names in magics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
        shell.magics_manager.registry.pop(type(magics).__name__, None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, _MAGICS)]
