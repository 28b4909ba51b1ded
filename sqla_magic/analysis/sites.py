"""Where in the user's code statements came from: the cell or the user's own modules.

Every statement carries the frames of the user's code it ran under (`Statement.stack`,
innermost first, out to the profiled line).  A rule groups statements by those places,
decides from them and the statements what happened, and reads a file's source only to
say which loop or query it was and to write the rewrite.

- `stack(report, statement)`: the statement's user frames (for reports saved without
  stacks, one frame built from `Statement.line`).
- `codes(report, source, indexes)`: each file the statements ran from, the profiled
  cell first, with the statements by their innermost line in that file; a module's text
  is read and parsed only when a rule asks for it, and one that cannot be read or parsed
  (compiled only, zipped, not Python) has no parse: the finding then comes without a
  rewrite.
- `sites(report, indexes, also)`: a finding's `sites`, most specific first.
- `where(report, site)`: how a message names a place (`line 4` in the cell,
  `shop/services.py:38 in order_notes` in a module).
"""

from __future__ import annotations

import functools
import os
import tokenize
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Optional

from sqla_magic.analysis.evidence import CELL_FUNCTION as CELL_FUNCTION
from sqla_magic.analysis.evidence import grouped, index, object_counts, picked
from sqla_magic.model import Report, Site, Statement

if TYPE_CHECKING:
    from sqla_magic.analysis.rewrite import Cell, QueryChain

MAX_MODULE_BYTES = 4 * 2**20
"""Larger files are not read for rewrites (generated code, data in a .py)."""


def stack(report: Report, statement: Statement) -> tuple[Site, ...]:
    """The user's frames the statement ran under, innermost first."""
    if statement.stack:
        return statement.stack
    if statement.site is not None:
        return (statement.site,)
    if statement.line is not None:
        return (Site(report.filename, statement.line, CELL_FUNCTION),)
    return ()


def site(report: Report, statement: Statement) -> Optional[Site]:
    """The innermost frame of the user's code that caused the statement."""
    frames = stack(report, statement)
    return frames[0] if frames else None


def in_cell(report: Report, place: Optional[Site]) -> bool:
    """Whether `place` is in the profiled cell (or file) itself."""
    return place is not None and place.file == report.filename


def in_module(report: Report, statement: Statement) -> bool:
    """Whether the statement was caused by the user's code outside the profiled cell."""
    place = site(report, statement)
    return place is not None and not in_cell(report, place)


def key(report: Report, statement: Statement) -> Optional[tuple[str, int]]:
    """(file, line) of the statement's innermost user frame: the place rules group by."""
    place = site(report, statement)
    return (place.file, place.line) if place is not None else None


def sites(report: Report, indexes: Iterable[int], also: Sequence[Site] = ()) -> tuple[Site, ...]:
    """A finding's sites, most specific first: where its statements were caused (the
    most frequent first), then `also` (a query the fix goes into), then their callers out
    to the profiled line."""
    # Statements share a few stack tuples: each distinct one (by identity, then by value)
    # is read once, in the order first met, so the counts and their ties come out as
    # counting statement by statement gives them.
    indexed = index(report)
    sole = indexed.sole("stacks")
    if sole:  # one stack object for the whole report: nothing to read per statement
        chosen = indexes if isinstance(indexes, (list, tuple, range)) else list(indexes)
        distinct = {id(sole[0]): (sole[0], len(chosen))} if chosen else {}
    else:
        distinct = object_counts(picked(indexed.stacks, indexes))
    innermost: Counter[Site] = Counter()
    callers: dict[Site, None] = {}
    seen_stacks: set[tuple[Site, ...]] = set()
    for frames, repeats in distinct.values():
        if not frames:
            continue
        innermost[frames[0]] += repeats
        if frames not in seen_stacks:
            seen_stacks.add(frames)
            for caller in frames[1:]:
                callers.setdefault(caller, None)
    ordered: dict[tuple[str, int], Site] = {}
    for place in (*(p for p, _ in innermost.most_common()), *also, *callers):
        ordered.setdefault((place.file, place.line), place)  # a comprehension's frame and its function's
    return tuple(ordered.values())


def distinct_frames(report: Report, indexes: Iterable[int]) -> list[Site]:
    """The innermost user frames the statements ran from, each once, in the order first met."""
    return list(dict.fromkeys(frame for frame in _frame_objects(report, indexes) if frame is not None))


def _frame_objects(report: Report, indexes: Iterable[int]) -> list[Optional[Site]]:
    """The distinct frame objects (by identity) of the statements, in the order first met."""
    indexed = index(report)
    sole = indexed.sole("frames")
    if sole:
        return list(sole) if any(True for _ in indexes) else []
    frames = picked(indexed.frames, indexes)
    return list(dict(zip(map(id, frames), frames, strict=True)).values())  # a few frames shared by many


def commonest(report: Report, indexes: Iterable[int]) -> Optional[Site]:
    """The innermost user frame most of the statements ran from."""
    indexed = index(report)
    sole = indexed.sole("frames")
    chosen = indexes if isinstance(indexes, (list, tuple, range)) else list(indexes)
    if sole:
        return sole[0] if chosen else None
    # A few frame objects stand for many statements: counted by identity, then by value,
    # in the order first met (which breaks ties as counting frame by frame does).
    counted: Counter[Site] = Counter()
    for frame, count in object_counts(picked(indexed.frames, chosen)).values():
        if frame is not None:
            counted[frame] += count
    return counted.most_common(1)[0][0] if counted else None


def scope(cell: Cell, line: int) -> tuple[int, int]:
    """Lines of the innermost function around `line` in `cell`, else of the whole source."""
    import libcst as cst

    best: Optional[tuple[int, int]] = None
    for node in cell.on_line(line, cst.FunctionDef):
        best = cell.lines(node)  # outermost first: the last is the innermost
    return best if best is not None else (1, cell.source.count("\n") + 1)


def function_at(cell: Cell, line: int) -> str:
    """The qualified name of the function around `line` (`<module>` outside any)."""
    import libcst as cst

    name = ""
    for node in cell.on_line(line):  # outermost first
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            name += node.name.value
            name += ".<locals>." if isinstance(node, cst.FunctionDef) else "."
    return name.removesuffix(".<locals>.").removesuffix(".") or CELL_FUNCTION


def where(report: Report, place: Optional[Site]) -> str:
    """A place as messages name it: `line 4` in the cell, `path:line in function` elsewhere."""
    if place is None:
        return "code outside the profiled source"
    if in_cell(report, place):
        return f"line {place.line}"
    return f"`{short_path(place.file)}:{place.line}` in `{function_name(place.function)}`"


def where_all(report: Report, places: Iterable[Site]) -> str:
    """Several places in words, as `where` names each (the cell's lines together)."""
    chosen = list(places)
    if not chosen:
        return where(report, None)
    cell_lines = sorted({p.line for p in chosen if in_cell(report, p)})
    words = list(dict.fromkeys(where(report, p) for p in chosen if not in_cell(report, p)))
    if len(cell_lines) == 1:
        words.insert(0, f"line {cell_lines[0]}")
    elif cell_lines:
        words.insert(0, "lines " + ", ".join(str(n) for n in cell_lines))
    return ", ".join(words)


_INNER_SCOPES = (".<locals>.<listcomp>", ".<locals>.<dictcomp>", ".<locals>.<setcomp>", ".<locals>.<genexpr>")


def function_name(qualname: str) -> str:
    """The function as written: a comprehension's frame (before Python 3.12 inlined them)
    names the function it is in."""
    name = qualname
    while name.endswith(_INNER_SCOPES):
        name = name.rsplit(".<locals>.", 1)[0]
    return name


def short_path(path: str) -> str:
    """`path` relative to the working directory when it is under it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


class Code:
    """One file of the user's code that statements ran from: the cell or a module.

    `lines` holds the statements by their innermost line in this file; `parsed` is the
    file's libcst parse (read when first asked for), `None` if it cannot be read or parsed.
    """

    def __init__(self, report: Report, file: str, cell_source: Optional[str]) -> None:
        self.file = file
        self.is_cell = file == report.filename
        self._cell_source = cell_source
        self.lines: dict[int, list[int]] = {}
        self.functions: dict[int, str] = {}
        self.indexes: set[int] = set()
        self._report = weakref.ref(report)
        self._parsed: Optional[Cell] = None
        self._read = False

    @property
    def path(self) -> Optional[str]:
        """The module file, or None for the profiled cell."""
        return None if self.is_cell else self.file

    @property
    def parsed(self) -> Optional[Cell]:
        if not self._read:
            self._read = True
            if self.is_cell:
                from sqla_magic.analysis.sources import parse_cell

                self._parsed = parse_cell(self._cell_source or "")
            else:
                self._parsed = parse_file(self.file)
        return self._parsed

    def contains(self, text: str) -> bool:
        """Whether the file's source holds `text`, read without parsing it."""
        if self.is_cell:
            return text in (self._cell_source or "")
        module = module_text(self.file)
        return module is not None and text in module

    def on_lines(self, first: int, last: int, verb: Optional[str] = None) -> list[int]:
        """Statements whose innermost line in this file is within `first` to `last`."""
        found = sorted(i for line, group in self.lines.items() if first <= line <= last for i in group)
        if verb is not None:
            report = self._report()
            verbs = index(report).verbs if report is not None else ()
            found = [i for i in found if verbs and verbs[i] == verb]
        return found

    def site(self, line: int) -> Site:
        """The place `line` of this file, with the function the statements ran in there
        (or, where none ran, the function the source has around it)."""
        function = self.functions.get(line)
        if function is None:
            parsed = self.parsed
            function = function_at(parsed, line) if parsed is not None else CELL_FUNCTION
        return Site(self.file, line, function)


def codes(report: Report, source: str, indexes: Optional[Iterable[int]] = None) -> list[Code]:
    """The files the statements (all, or `indexes`) ran from, the profiled cell first,
    then modules in the order they first caused a statement.  Each `Code` holds every
    statement that ran from its file, not only `indexes`."""
    every = _all_codes(report, source)
    if indexes is None:
        return every
    wanted = indexes if isinstance(indexes, (list, tuple, range)) else list(indexes)
    # `isdisjoint` stops at the first of `wanted` the file holds: most often the first
    return [code for code in every if code.is_cell or not code.indexes.isdisjoint(wanted)]


def parsed_with(
    report: Report, source: str, indexes: Iterable[int], text: str
) -> Iterator[tuple[Code, Cell]]:
    """Each file the statements `indexes` ran from, parsed, whose source holds `text` (the
    call a rule rewrites, such as `.first()`): the text is tested before the file is
    parsed, so libcst loads and parses only where the call can be."""
    for code in codes(report, source, indexes):
        cell = code.parsed if code.contains(text) else None
        if cell is not None:
            yield code, cell


_latest: Optional[tuple[weakref.ref[Report], str, list[Code]]] = None


def _all_codes(report: Report, source: str) -> list[Code]:
    """Built once while the rules read the same report."""
    global _latest
    latest = _latest
    if latest is not None and latest[0]() is report and latest[1] is source:
        return latest[2]
    found = {report.filename: Code(report, report.filename, source)}  # the cell first, parsed or not
    stacks = index(report).stacks
    # Statements share a few stack tuples: each distinct one is read once, with the
    # positions of its statements, in the order first met.
    positions = grouped(tuple(map(id, stacks)))
    per_file: dict[tuple[Site, ...], list[Site]] = {}
    touched: set[tuple[Code, int]] = set()
    for group in positions.values():
        frames = stacks[group[0]]
        innermost = per_file.get(frames)
        if innermost is None:
            # the innermost frame in each file counts
            innermost = per_file[frames] = list({f.file: f for f in reversed(frames)}.values())
        for frame in innermost:
            code = found.get(frame.file)
            if code is None:
                code = found[frame.file] = Code(report, frame.file, None)
            on_line = code.lines.setdefault(frame.line, [])
            if on_line:
                touched.add((code, frame.line))
            on_line.extend(group)
            code.indexes.update(group)
            code.functions.setdefault(frame.line, frame.function)
    for code, line in touched:  # a line reached through several stacks: in statement order
        code.lines[line].sort()
    built = list(found.values())
    _latest = (weakref.ref(report), source, built)
    return built


def modules(report: Report, indexes: Optional[Iterable[int]] = None) -> list[Code]:
    """The user's module files (not the cell) the statements ran from."""
    return [code for code in codes(report, "", indexes) if not code.is_cell]


def code_at(report: Report, source: str, place: Site) -> Code:
    """The `Code` of `place`'s file (without statements: for reading and rewriting it)."""
    code = Code(report, place.file, source if place.file == report.filename else None)
    code.functions[place.line] = place.function
    return code


def parse_file(path: str) -> Optional[Cell]:
    """The module's libcst parse, or None when it cannot be read or parsed: only its
    compiled form exists, it sits in a zip, it is not Python, or it is too large."""
    version = _file_version(path)
    return _parse_file(path, *version) if version is not None else None


def module_text(path: str) -> Optional[str]:
    """The module's text (as `parse_file` reads it), or None where it cannot be read."""
    version = _file_version(path)
    return _module_text(path, *version) if version is not None else None


def _file_version(path: str) -> Optional[tuple[int, int]]:
    """(mtime, size) of a module file small enough to read, the key of the caches below."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(path) or status.st_size > MAX_MODULE_BYTES:
        return None
    return status.st_mtime_ns, status.st_size


@functools.lru_cache(maxsize=16)
def _module_text(path: str, _mtime_ns: int, _size: int) -> Optional[str]:
    return read_text(path)


@functools.lru_cache(maxsize=16)
def _parse_file(path: str, mtime_ns: int, size: int) -> Optional[Cell]:
    """Cached per version of the file: every rule of a report reads the same parse."""
    from sqla_magic.analysis.rewrite import parse_module

    text = _module_text(path, mtime_ns, size)
    return parse_module(text, path) if text is not None else None


def read_text(path: str) -> Optional[str]:
    """A Python file's text as written (its declared encoding, its own line endings)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return None
    return text


def loading_query(report: Report, source: str, owner: str, before: int) -> Optional[tuple[Code, QueryChain]]:
    """The query that loaded the `owner` objects a later statement (`before`, a lazy load or
    a refresh) works on: a query of `owner` at a place (in the cell or a module) where a
    `query` statement ran before it, the latest first; else the cell's only query of `owner`.
    None where the objects came through a relationship (a lazy or eager load of `owner`
    objects ran after that query): no query of `owner` loaded them."""
    from sqla_magic.analysis.relationships import find, loaded_relationship
    from sqla_magic.analysis.rewrite import entity_name, query_chains

    tried: set[tuple[str, int]] = set()
    found = index(report)
    origins, stacks = found.column("origin"), found.stacks
    for position in range(min(before, found.size) - 1, -1, -1):
        origin = origins[position]
        through = loaded_relationship(origin)
        if through is not None:
            facts = find(*through)
            if facts is not None and facts.target == owner:
                return None
            continue
        if origin != "query":
            continue
        for place in stacks[position]:
            if (place.file, place.line) in tried:
                continue
            tried.add((place.file, place.line))
            code = code_at(report, source, place)
            cell = code.parsed
            if cell is None:
                continue
            for chain in query_chains(cell):
                if entity_name(chain) != owner:
                    continue
                first, last = cell.lines(chain.outer)
                if first <= place.line <= last:
                    return code, chain
    code = code_at(report, source, Site(report.filename, 0, CELL_FUNCTION))
    cell = code.parsed
    if cell is None:
        return None
    chains = [c for c in query_chains(cell) if entity_name(c) == owner]
    return (code, chains[0]) if len(chains) == 1 else None
