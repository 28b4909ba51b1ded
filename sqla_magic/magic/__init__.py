"""The IPython side of sqla_magic, and the only package that imports IPython.

`magic.py` parses the options, rewrites the cell's first line and stops the profile in
`post_run_cell`; `display.py` turns a Report into what the front end shows.
"""

from __future__ import annotations

from sqla_magic.magic.magic import SqlProfile, load, post_run_cell, start_cell, transform_cell, unload

__all__ = ["SqlProfile", "load", "post_run_cell", "start_cell", "transform_cell", "unload"]
