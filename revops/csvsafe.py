"""CSV files for people: cells a spreadsheet would run as formulas are written as text.

A CSV the product hands out (today: an import's rejected rows, which repeat whatever the uploaded file
held) is opened in Excel, LibreOffice or Google Sheets. There a cell starting with ``=``, ``+``, ``-``
or ``@`` is a formula (``=HYPERLINK(…)`` leaks data, ``=cmd|' /C calc'!A0`` runs a program after a
warning), and a leading TAB or CR can hide such a start from a naive check. As OWASP recommends, such
a cell gets a single quote in front: spreadsheets show it as text, and a person reading the file can
still see what was sent.

One exception, chosen so that numbers stay numbers: a cell that is a plain number (``-5``, ``+3.5``,
``-1e3``) is left alone — it cannot call anything, and an import's "must not be negative" rows would
read wrongly as ``'-5``. Numbers given as ``int``/``float`` are never touched.

Every CSV written for people goes through :func:`writer`. Not for machine paths: ``revops.bulk``'s
COPY buffers carry data into PostgreSQL byte for byte.
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell_safe(value: Any) -> Any:
    """``value`` as a spreadsheet may safely read it: text starting like a formula gets a ``'`` first."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose rows pass through :func:`cell_safe`."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([cell_safe(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> SafeWriter:
    """A CSV writer for files people open (see the module docstring)."""
    return SafeWriter(out, **kwargs)


def text_safe(text: str, out) -> None:
    """Write CSV ``text`` (e.g. a file written before this module existed) to ``out``, cell by cell made
    safe. Safe cells come out as they went in, so doing it twice changes nothing."""
    writer(out).writerows(csv.reader(io.StringIO(text, newline="")))
