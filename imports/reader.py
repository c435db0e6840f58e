"""Reading an uploaded CSV file: refuse what is not one, detect encoding and delimiter, stream rows.

Row numbers count the header as row 1, as a spreadsheet shows them, so a report's "row 7" is the
line a user sees as 7 when they open the file.
"""

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_BYTES = 64 * 1024
DELIMITERS = [",", ";", "\t", "|"]
ENCODINGS = ["utf-8-sig", "cp1252"]

# csv's default (128 KiB) is too small for a large JSON "properties" cell; 16 MiB still refuses garbage.
csv.field_size_limit(16 * 1024 * 1024)

_SIGNATURES = [
    (
        b"PK\x03\x04",
        "an Excel workbook or another zip archive: save the sheet as CSV (UTF-8) and upload that",
    ),
    (
        b"\xd0\xcf\x11\xe0",
        "an old Excel (.xls) or Office file: save the sheet as CSV (UTF-8) and upload that",
    ),
    (b"%PDF", "a PDF document, not a CSV file"),
    (b"\x89PNG", "a PNG image, not a CSV file"),
    (b"\xff\xd8\xff", "a JPEG image, not a CSV file"),
    (b"\x1f\x8b", "a gzip archive: unpack it and upload the CSV inside"),
]


class CsvFileError(Exception):
    """The file as a whole cannot be read as CSV (empty, binary, not text, no header)."""

    def __init__(self, reason: str, row: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.row = row


def sniff_bytes(sample: bytes) -> tuple[str, str | None]:
    """Check the first bytes of a file; returns (encoding, warning) or raises ``CsvFileError``."""
    if not sample.strip():
        raise CsvFileError("The file is empty.")
    for signature, what in _SIGNATURES:
        if sample.startswith(signature):
            raise CsvFileError(f"This is {what}.")
    if b"\x00" in sample:
        raise CsvFileError("This is a binary file, not a CSV text file.")
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            text = decoder.decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
        if controls > max(2, len(text) // 100):
            raise CsvFileError("This is a binary file, not a CSV text file.")
        if encoding == "cp1252":
            return encoding, "The file is not UTF-8; it was read as Windows-1252 (Excel's default)."
        return encoding, None
    raise CsvFileError("The file is not text in UTF-8 or Windows-1252: save it as CSV (UTF-8).")


def detect_delimiter(first_line: str) -> str:
    """The delimiter used in the header line (European Excel writes ``;``); comma when in doubt."""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvSource:
    """A CSV file on disk, opened for (repeated) streaming."""

    path: Path
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    headers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def _reader(self, handle):
        return csv.reader(
            handle, delimiter=self.delimiter, quotechar='"', skipinitialspace=False, strict=False
        )

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows as ``(row number, cells)``; blank lines are skipped but keep their number."""
        with open(self.path, encoding=self.encoding, newline="") as handle:
            reader = self._reader(handle)
            number = 1
            try:
                next(reader)
                for cells in reader:
                    number += 1
                    if not cells or not any(c.strip() for c in cells):
                        continue
                    yield number, cells
            except UnicodeDecodeError as exc:
                raise CsvFileError(
                    f"Row {number + 1} is not valid {self.encoding.removesuffix('-sig').upper()} text "
                    "(save the file as CSV UTF-8).",
                    row=number + 1,
                ) from exc
            except csv.Error as exc:
                raise CsvFileError(f"Row {number + 1} cannot be read as CSV: {exc}.", row=number + 1) from exc

    def count(self, limit: int | None = None) -> int:
        """How many data rows the file has (stops counting past ``limit``)."""
        total = 0
        for _ in self.rows():
            total += 1
            if limit is not None and total > limit:
                break
        return total

    def head(self, n: int) -> list[tuple[int, list[str]]]:
        out = []
        for item in self.rows():
            out.append(item)
            if len(out) >= n:
                break
        return out


def csv_source_open(path: str | Path) -> CsvSource:
    """Open ``path`` as CSV: checks content, encoding, delimiter and header. Raises ``CsvFileError``."""
    path = Path(path)
    if not path.exists():
        raise CsvFileError(f"File not found: {path}")
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding, warning = sniff_bytes(sample)
    source = CsvSource(path=path, encoding=encoding)
    if warning:
        source.warnings.append(warning)
    with open(path, encoding=encoding, newline="") as handle:
        try:
            first_line = handle.readline()
        except UnicodeDecodeError as exc:
            raise CsvFileError(
                "The header row is not valid text: save the file as CSV (UTF-8).", row=1
            ) from exc
        source.delimiter = detect_delimiter(first_line)
        handle.seek(0)
        try:
            header = next(source._reader(handle), [])
        except csv.Error as exc:
            raise CsvFileError(f"The header row cannot be read as CSV: {exc}.", row=1) from exc
    headers = [" ".join(h.split()) for h in header]
    if not any(headers):
        raise CsvFileError("The first row must name the columns (a header row); it is empty.", row=1)
    # Blank header cells still hold data: name them so the report can point at them.
    source.headers = [h or f"column {i + 1}" for i, h in enumerate(headers)]
    return source


def upload_check(sample: bytes) -> None:
    """Refuse an upload early, from its first bytes: empty, binary, not text, or no header row."""
    encoding, _ = sniff_bytes(sample)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    first_line = text.splitlines()[0] if text.splitlines() else ""
    header = next(csv.reader([first_line], delimiter=detect_delimiter(first_line)), [])
    if not any(cell.strip() for cell in header):
        raise CsvFileError("The first row must name the columns (a header row); it is empty.", row=1)
