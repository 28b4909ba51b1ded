"""Renderers: each takes a Report and returns a string, and none of them imports IPython.

`text.render_text` (terminal and `repr`), `html.render_fragment` / `html.render_page`
(notebook output and standalone file) and `files.save_report` (`.html` or `.json`).
"""
