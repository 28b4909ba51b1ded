"""The IPython side of sqla_magic, and the only package that imports IPython.

`magic.py` parses the options, rewrites the cell's first line and stops the profile in
`post_run_cell`; `display.py` turns a Report into what the front end shows; `settings.py`
is `%config SqlProfile`, `findings.py` the magics that act on a finding, `extension.py`
what `%load_ext` / `%unload_ext` add and remove.
"""

from __future__ import annotations

from sqla_magic.magic.extension import load, unload
from sqla_magic.magic.magic import SqlProfile, post_run_cell, start_cell, transform_cell

__all__ = ["SqlProfile", "load", "post_run_cell", "start_cell", "transform_cell", "unload"]
