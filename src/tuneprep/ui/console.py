"""Consoles and tables that behave in a terminal, a pipe and a log file alike.

Rules (README, "Output in pipes, logs and CI"):

* identifiers (names, ids, paths) are never wrapped or shortened: their column is as wide as the
  longest value; descriptions wrap instead;
* off a terminal, text is never wrapped to 80 columns: tables take the width they need;
* ``NO_COLOR`` (any value) and ``TERM=dumb`` turn colour and cursor control off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

# Off a terminal the "width" is only an upper bound for wrapping: tables still take the width they need.
UNBOUNDED_WIDTH = 100_000
SHORT_VALUE = 12


@dataclass
class Settings:
    """Process-wide output settings, set once by the top-level CLI options."""

    quiet: bool = False
    verbose: bool = False


settings = Settings()


def _dumb() -> bool:
    return "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr, where progress goes) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def make_console(stderr: bool = False) -> Console:
    """A Rich console for stdout (results) or stderr (progress, messages)."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(stderr=stderr, no_color=_dumb(), highlight=False)
    return Console(stderr=stderr, no_color=True, highlight=False, width=UNBOUNDED_WIDTH,
                   force_terminal=False, color_system=None, soft_wrap=True)


@dataclass
class Column:
    """One table column. ``ident`` columns (names, ids, paths) are never shortened."""

    header: str
    ident: bool = False
    justify: Literal["left", "right", "center"] = "left"


def build_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], title: str | None = None,
                **table_kw: Any) -> Table:
    """A Rich table whose identifier columns are exactly as wide as their longest value."""
    rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    table = Table(title=title, **table_kw)
    for i, col in enumerate(columns):
        longest = max([len(col.header), *(max((len(line) for line in r[i].splitlines()), default=0)
                                           for r in rows)])
        # Short values (counts, yes/no, kinds) are not worth wrapping either: the long text columns give way.
        if col.ident or longest <= SHORT_VALUE:
            table.add_column(col.header, justify=col.justify, no_wrap=True, min_width=longest,
                             overflow="ignore")
        else:
            table.add_column(col.header, justify=col.justify, overflow="fold")
    for r in rows:
        # Text, not str: cell values are data (op docs, ids, reasons); "[x]" must not be read as markup.
        table.add_row(*(Text(v) for v in r))
    return table


def fit_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], title: str | None = None,
              console: Console | None = None, **table_kw: Any) -> RenderableType:
    """``build_table``, or one block per row when the terminal cannot fit the unwrappable columns."""
    rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    table = build_table(columns, rows, title=title, **table_kw)
    width = (console or make_console()).width
    needed = sum((c.min_width or 0) + 3 if c.no_wrap else 13 for c in table.columns) + 1
    if needed <= width:
        return table
    lines: list[Text] = [Text(title, style="bold")] if title else []
    for r in rows:
        for i, (col, value) in enumerate(zip(columns, r)):
            lines.append(Text(f"{'' if i else '- '}{'' if not i else '  '}{col.header}: {value}"))
    return Group(*lines)


def protect_identifiers(table: Table, ident_headers: Iterable[str]) -> Table:
    """Mark existing columns of ``table`` as identifiers (never wrapped or shortened)."""
    wanted = set(ident_headers)
    for col in table.columns:
        if str(col.header) in wanted:
            cells = [str(c) for c in col._cells]
            col.no_wrap = True
            col.overflow = "ignore"
            col.min_width = max([len(str(col.header)), *(len(c) for c in cells)])
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a table; in a terminal narrower than the identifiers, the descriptions wrap."""
    (console or make_console()).print(table)
