"""CSV import: the engine (validate everything, then write set-based) and the job around it.

``csv_import`` is the one entry point the CLI, the Celery task and the preview page share. It reads
the file twice — once to validate every row, once to write — so memory stays flat on files of
hundreds of thousands of rows, and nothing is written unless every row is good (or the caller asked
for row by row). The whole write is one transaction with one ``ChangeRecord`` (action "import").
"""

import contextlib
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from revops import csvsafe
from revops.audit import change_record_create
from revops.choices import ChangeAction, JobStatus
from revops.models import JobRun
from revops.querysets import IMPORT_JOB_KIND_PREFIX
from revops.safecache import cache_get, cache_set
from revops.services import job_run_create, job_run_finish, job_run_send

from .events import EventImporter
from .importers import IMPORTERS, Row
from .mappings import (
    KINDS,
    ChoiceParser,
    ColumnMapping,
    ValueMap,
    loose_key,
    options_check,
    resolve_mapping,
    value_map_check,
)
from .marketing import CampaignImporter, SegmentMembersImporter
from .reader import CsvFileError, CsvSource, csv_source_open

logger = logging.getLogger(__name__)

MAX_ERRORS_KEPT = 50_000  # in memory during a run; beyond it errors are counted, not listed
MAX_ERRORS_STORED = 1_000  # in JobRun.result (the full list goes to errors.csv next to the upload)
MAX_ROWS_PER_WARNING = 20
MAX_CHOICE_VALUES = 100  # distinct values outside a choice field's list, per field, kept for the preview
PREVIEW_ROWS = 50_000  # the preview validates at most this many rows; the import validates all
PROGRESS_EVERY = 1_000
JOB_KIND_PREFIX = IMPORT_JOB_KIND_PREFIX  # JobRun.objects.for_user shows these to their creator
MODE_ALL = "all_or_nothing"
MODE_ROWS = "row_by_row"

ProgressCallback = Callable[[int, int, str], None]


# --- the report ----------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What an import did or would do: counts, warnings (corrections), errors by row and column."""

    kind: str
    file: str
    mode: str = MODE_ALL
    dry_run: bool = False
    preview_rows: int | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    fatal: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    unknown_headers: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: dict[tuple[str, str], dict] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    # Choice columns' values outside their lists: field → loose key → {value, count, mapped, suggestion}.
    choice_values: dict[str, dict[str, dict]] = field(default_factory=dict)
    choice_values_more: dict[str, int] = field(default_factory=dict)  # rows beyond MAX_CHOICE_VALUES
    value_map: ValueMap = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # settings for the whole file (segment, members)
    # Rows with more cells than the header: {row, extra (how many cells), blank (all of them empty)}.
    long_rows: list[dict] = field(default_factory=list)
    long_row_count: int = 0
    # A contacts file's stage column: what is done with it, and counts (``importers.lifecycle_summary``).
    lifecycle: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the import went through: no file-level problem, and no row errors unless row by row."""
        if self.fatal:
            return False
        return self.mode == MODE_ROWS or self.error_count == 0

    def add_note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def add_error(
        self,
        *,
        row: int | None,
        column: str,
        value: str,
        reason: str,
        data: dict | None = None,
        data_later: bool = False,
    ) -> None:
        """Record an error; ``data_later``: the row's data is filled in after pass 1 (``_fill_row_data``)."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            data = None if data_later else (data or {})
            self.errors.append({"row": row, "column": column, "value": value, "reason": reason, "data": data})

    def add_warning(self, *, row: int, column: str, message: str) -> None:
        entry = self.warnings.get((column, message))
        if entry is None:
            entry = self.warnings[(column, message)] = {
                "column": column,
                "message": message,
                "count": 0,
                "rows": [],
            }
        entry["count"] += 1
        if len(entry["rows"]) < MAX_ROWS_PER_WARNING:
            entry["rows"].append(row)

    def add_long_row(self, *, row: int, extra: int, blank: bool) -> None:
        """Count a row with ``extra`` cells beyond the header (listing the first few)."""
        self.long_row_count += 1
        if len(self.long_rows) < MAX_ROWS_PER_WARNING:
            self.long_rows.append({"row": row, "extra": extra, "blank": blank})

    def long_rows_text(self) -> str:
        """One sentence on the rows longer than the header, for the preview, the result and the CLI."""
        if not self.long_row_count:
            return ""
        listed = ", ".join(
            f"row {r['row']} (+{r['extra']} {'empty ' if r['blank'] else ''}cell{'s' * (r['extra'] > 1)})"
            for r in self.long_rows
        )
        more = (
            f" and {self.long_row_count - len(self.long_rows):,} more"
            if self.long_row_count > len(self.long_rows)
            else ""
        )
        return (
            f"{self.long_row_count:,} row(s) have more cells than the header's {len(self.headers)} columns: "
            f"{listed}{more}. Extra cells holding a value reject their row (nothing of it is imported: "
            "quote a value that contains the delimiter, or name the extra column in the header); "
            "empty extra cells are ignored."
        )

    def add_choice_value(self, *, name: str, value: str, parser: ChoiceParser, mapped: str = "") -> None:
        """Count a value outside field ``name``'s list (mapped by the user to ``mapped``, or not)."""
        values = self.choice_values.setdefault(name, {})
        key = loose_key(value)
        entry = values.get(key)
        if entry is None:
            if len(values) >= MAX_CHOICE_VALUES:
                self.choice_values_more[name] = self.choice_values_more.get(name, 0) + 1
                return
            entry = values[key] = {
                "value": value,
                "count": 0,
                "mapped": mapped,
                "suggestion": parser.suggest(value),
            }
        entry["count"] += 1

    def unknown_values(self) -> list[dict[str, Any]]:
        """Per choice column with values outside its list: the values (most rows first), each with its
        row count, the value it is mapped to (if the user mapped it) and a suggestion; and the accepted
        values. The preview offers to map them; the CLI prints the ``--map-values`` to write."""
        kind = KINDS[self.kind]
        header = {target: h for h, target in self.mapping.items()}
        out = []
        for name, values in self.choice_values.items():
            parser = kind.field(name).choices
            out.append(
                {
                    "field": name,
                    "column": header.get(name, name),
                    "noun": parser.noun,
                    "accepted": parser.accepted,
                    "values": sorted(values.values(), key=lambda e: (-e["count"], e["value"])),
                    "more_rows": self.choice_values_more.get(name, 0),
                }
            )
        return out

    def summary(self) -> str:
        """One sentence for the job message, the CLI and the page title."""
        if self.fatal:
            return f"Nothing imported: {self.fatal}"
        rejected = f"; {self.rejected:,} row(s) rejected" if self.rejected else ""
        if self.error_count and self.mode == MODE_ALL and not self.written:
            first = self.sorted_errors()[0]
            where = f"row {first['row']}, " if first["row"] else ""
            reason = first["reason"].rstrip(".")
            head = "Dry run: nothing would be imported" if self.dry_run else "Nothing imported"
            return (
                f"{head}: {self.error_count:,} error(s) in "
                f"{max(self.rejected, 1):,} row(s) (first: {where}{first['column']}: {reason}). "
                "Fix them, or import row by row."
            )
        verb = ("would create", "would update") if self.dry_run else ("created", "updated")
        head = "Dry run: " if self.dry_run else ""
        return (
            f"{head}{self.rows:,} row(s) read: {verb[0]} {self.created:,}, {verb[1]} {self.updated:,}, "
            f"{self.unchanged:,} unchanged{rejected}."
        )

    def sorted_errors(self) -> list[dict]:
        return sorted(self.errors, key=lambda e: (e["row"] or 0, e["column"]))

    def as_dict(self, *, max_errors: int | None = MAX_ERRORS_STORED) -> dict[str, Any]:
        errors = self.sorted_errors()
        return {
            "kind": self.kind,
            "file": self.file,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "preview_rows": self.preview_rows,
            "ok": self.ok,
            "written": self.written,
            "summary": self.summary(),
            "fatal": self.fatal,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "extra": dict(self.extra),
            "extra_items": [
                {"label": k.replace("_", " ").capitalize(), "value": v} for k, v in self.extra.items()
            ],
            "mapping": dict(self.mapping),
            "unknown_headers": list(self.unknown_headers),
            "headers": list(self.headers),
            "notes": list(self.notes),
            "warnings": sorted(
                self.warnings.values(), key=lambda w: (w["column"], -w["count"], w["message"])
            ),
            "errors": errors if max_errors is None else errors[:max_errors],
            "error_count": self.error_count,
            "errors_listed": min(len(errors), max_errors) if max_errors is not None else len(errors),
            "unknown_values": self.unknown_values(),
            "value_map": {name: dict(values) for name, values in self.value_map.items()},
            "options": dict(self.options),
            "long_rows": list(self.long_rows),
            "long_row_count": self.long_row_count,
            "long_rows_text": self.long_rows_text(),
            "lifecycle": self.lifecycle_dict(),
        }

    def lifecycle_dict(self) -> dict[str, Any]:
        """The stage column's summary with its values as a list, most rows first."""
        if not self.lifecycle:
            return {}
        values = sorted(self.lifecycle["values"].values(), key=lambda e: (-e["count"], e["value"]))
        return {**self.lifecycle, "values": values}


def report_errors_csv(report: dict | ImportReport, out) -> int:
    """Write the rejected rows as CSV — row, column, value, reason, then the row as it was — to ``out``."""
    data = report.as_dict(max_errors=None) if isinstance(report, ImportReport) else report
    headers = data.get("headers") or []
    writer = csvsafe.writer(out)  # the rows repeat what was uploaded: no cell may run as a formula
    writer.writerow(["row", "column", "value", "reason", *headers])
    count = 0
    for error in data["errors"]:
        row_data = error.get("data") or {}
        writer.writerow(
            [
                error["row"] or "",
                error["column"],
                error["value"],
                error["reason"],
                *[row_data.get(h, "") for h in headers],
            ]
        )
        count += 1
    return count


# --- the engine ----------------------------------------------------------------------------
class ImportContext:
    """Shared state of one run: the mapping, the report, and which rows are bad."""

    def __init__(
        self,
        *,
        report: ImportReport,
        mapping: ColumnMapping,
        headers: list[str],
        row_by_row: bool,
        actor=None,
        value_map: ValueMap | None = None,
        options: dict[str, str] | None = None,
    ):
        self.report = report
        self.actor = actor
        self.options = options or {}
        self.mapping = mapping
        self.headers = headers
        self.row_by_row = row_by_row
        self.bad_rows: set[int] = set()
        self.warnings_on = True
        self.first_pass = True
        self.rows_without_data: set[int] = set()
        self._header_of = {c.target: c.header for c in mapping.columns}
        # field → {loose key of a value → the accepted value the user mapped it to}
        self.value_map = {
            name: {loose_key(value): target for value, target in values.items()}
            for name, values in (value_map or {}).items()
        }

    def column(self, name: str) -> str:
        return self._header_of.get(name, name)

    def error(self, row: Row | int, name: str, value: str, reason: str) -> None:
        """Record a problem with ``row`` (a Row, or a row number) in field or column ``name``.

        Given only a number (checks across rows), the row's data is filled in by ``_fill_row_data``.
        """
        if isinstance(row, Row):
            number, data = row.number, row.data()
        else:
            number, data = row, None
            self.rows_without_data.add(number)
        self.bad_rows.add(number)
        self.report.add_error(
            row=number,
            column=self.column(name),
            value=value,
            reason=reason,
            data=data,
            data_later=data is None,
        )

    def warn(self, row: Row, name: str, message: str) -> None:
        if self.warnings_on:
            self.report.add_warning(row=row.number, column=self.column(name), message=message)

    def choice_value(self, name: str, value: str, parser: ChoiceParser, mapped: str = "") -> None:
        """A value outside field ``name``'s list, seen once per row in pass 1 (for the preview)."""
        if self.warnings_on:
            self.report.add_choice_value(name=name, value=value, parser=parser, mapped=mapped)


class _Ticker:
    """Calls the progress callback every ``PROGRESS_EVERY`` rows, and at phase changes."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def advance(self, n: int, phase: str, *, force: bool = False) -> None:
        before = self.done
        self.done = min(self.total, self.done + n)
        if self.callback and (force or self.done // PROGRESS_EVERY != before // PROGRESS_EVERY):
            self.callback(self.done, self.total, phase)


def _rows(source: CsvSource, headers: list[str], limit: int, ctx: ImportContext | None):
    width = len(headers)
    for n, (number, cells) in enumerate(source.rows()):
        if n >= limit:
            return
        row = Row(number=number, cells=cells, headers=headers)
        if len(cells) > width:
            extra = [c for c in cells[width:] if c.strip()]
            if ctx is not None and ctx.warnings_on:
                ctx.report.add_long_row(row=number, extra=len(cells) - width, blank=not extra)
            if extra and ctx is not None:
                shown = ", ".join(f"'{c.strip()[:40]}'" for c in extra[:3]) + (" …" if len(extra) > 3 else "")
                ctx.error(
                    row,
                    "(row)",
                    "",
                    f"has {len(cells)} values but the header names {width} columns: "
                    f"{len(cells) - width} extra cell(s), holding {shown}; the row is not imported "
                    "(an unquoted comma in a value? quote it, or name the extra column in the header)",
                )
                continue
            if extra == [] and ctx is not None and ctx.warnings_on:
                ctx.report.add_warning(
                    row=number,
                    column="(row)",
                    message=f"empty cells beyond the header's {width} columns: ignored",
                )
            row.cells = cells[:width]
        elif len(cells) < width:
            if ctx is not None and ctx.warnings_on:
                ctx.report.add_warning(
                    row=number,
                    column="(row)",
                    message="fewer values than header columns: missing cells read as blank",
                )
            row.cells = cells + [""] * (width - len(cells))
        yield row


def csv_import(
    *,
    kind: str,
    path: str | Path,
    actor=None,
    mapping: dict[str, str] | None = None,
    value_map: ValueMap | None = None,
    row_by_row: bool = False,
    dry_run: bool = False,
    preview: bool = False,
    preview_rows: int | None = None,
    progress: ProgressCallback | None = None,
    job: JobRun | None = None,
    filename: str | None = None,
    options: dict[str, str] | None = None,
) -> ImportReport:
    """Import the CSV file at ``path`` as ``kind``; returns the report (it never raises on bad data).

    ``dry_run`` validates and counts what would be created or updated without writing. ``preview``
    is a dry run that also skips anything that would need a write transaction (events), limited to
    ``preview_rows`` rows. ``mapping`` maps headers to fields explicitly (``{"revenue":
    "annual_revenue_millions"}``); the rest are detected by name. ``value_map`` reads values of
    choice fields as accepted ones (``{"seniority": {"intern": "entry"}}``); see ``value_map_check``.
    ``options`` are settings for the whole file (segment members: ``segment``, ``members``); see
    ``options_check``.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown import kind '{kind}'; choose one of {', '.join(KINDS)}")
    dry_run = dry_run or preview
    report = ImportReport(
        kind=kind,
        file=filename or Path(path).name,
        mode=MODE_ROWS if row_by_row else MODE_ALL,
        dry_run=dry_run,
    )
    try:
        source = csv_source_open(path)
    except CsvFileError as exc:
        report.fatal = exc.reason
        report.add_error(row=exc.row, column="(file)", value="", reason=exc.reason)
        return report
    try:
        report.value_map = value_map_check(kind, value_map)
    except ValueError as exc:
        report.fatal = f"the value mapping is wrong: {exc}"
        report.add_error(row=None, column="(value mapping)", value="", reason=str(exc))
        return report
    try:
        report.options = options_check(kind, options)
    except ValueError as exc:
        report.fatal = f"the settings are wrong: {exc}"
        report.add_error(row=None, column="(settings)", value="", reason=str(exc))
        return report
    headers = source.headers
    report.headers = headers
    for note in source.warnings:
        report.add_note(note)
    column_mapping = resolve_mapping(kind, headers, mapping)
    report.mapping = column_mapping.as_dict()
    report.unknown_headers = column_mapping.unknown_headers
    for note in column_mapping.notes:
        report.add_note(note)
    if column_mapping.errors:
        for column, reason in column_mapping.errors:
            report.add_error(row=1, column=column, value="", reason=reason)
        report.fatal = "the columns cannot be mapped: " + "; ".join(r for _, r in column_mapping.errors)
        return report

    ctx = ImportContext(
        report=report,
        mapping=column_mapping,
        headers=headers,
        row_by_row=row_by_row,
        actor=actor,
        value_map=report.value_map,
        options=report.options,
    )
    importer = importer_registry()[kind](ctx)
    try:
        max_rows = settings.IMPORT_MAX_ROWS
        limit = preview_rows if preview_rows is not None else max_rows
        total = source.count(limit=limit)
        if total > limit:
            if preview_rows is None:
                report.fatal = f"the file has more than {max_rows:,} rows: split it into smaller files"
                report.add_error(row=None, column="(file)", value="", reason=report.fatal)
                return report
            total = limit
            report.preview_rows = limit
        if total == 0:
            report.fatal = "the file has a header row but no data rows"
            report.add_error(row=2, column="(file)", value="", reason=report.fatal)
            return report
        ticker = _Ticker(progress, total * 2)
        ticker.advance(0, "validating", force=True)
        importer.load()

        # Pass 1: validate every row; nothing is written.
        for row in _rows(source, headers, total, ctx):
            report.rows += 1
            item = importer.parse(row)
            if item is not None and row.number not in ctx.bad_rows:
                importer.register(row, item)
            ticker.advance(1, "validating")
        importer.validate_all()
        _fill_row_data(ctx, source, headers, total)
        report.rows = total
        report.rejected = len(ctx.bad_rows)
        if ctx.bad_rows and not row_by_row and not dry_run:
            return report

        # Pass 2: parse the good rows again and write them in chunks, in one transaction.
        ctx.warnings_on = ctx.first_pass = False
        executes = not dry_run or (importer.dry_run_executes and not preview)
        bad_before = len(ctx.bad_rows)
        ticker.advance(0, "importing", force=True)
        # A dry run that writes nothing opens no transaction (on SQLite that would take the write lock).
        with transaction.atomic() if executes else contextlib.nullcontext():
            chunk = []
            for row in _rows(source, headers, total, None):
                ticker.advance(1, "importing")
                if row.number in ctx.bad_rows:
                    continue
                item = importer.parse(row)
                if item is None:
                    continue
                chunk.append(item)
                if len(chunk) >= importer.chunk_size:
                    importer.write(chunk, write=executes)
                    chunk = []
            if chunk:
                importer.write(chunk, write=executes)
            importer.finish(write=executes)
            report.rejected = len(ctx.bad_rows)
            failed_in_write = len(ctx.bad_rows) > bad_before and not row_by_row
            if executes and (dry_run or failed_in_write):
                transaction.set_rollback(True)
            if failed_in_write:
                report.created = report.updated = report.unchanged = 0
                report.extra.clear()
            elif executes and not dry_run:
                report.written = True
                _audit_import(report=report, actor=actor, importer=importer, job=job)
        _fill_row_data(ctx, source, headers, total)
        ticker.advance(0, "done", force=True)
    except CsvFileError as exc:
        report.fatal = exc.reason
        report.written = False
        report.add_error(row=exc.row, column="(file)", value="", reason=exc.reason)
    return report


def _fill_row_data(ctx: ImportContext, source: CsvSource, headers: list[str], total: int) -> None:
    """Give errors found across rows (parents, events) the row as it was, from one more read."""
    missing = ctx.rows_without_data & {e["row"] for e in ctx.report.errors if e["data"] is None}
    if missing:
        rows = {
            row.number: row.data() for row in _rows(source, headers, total, None) if row.number in missing
        }
    for error in ctx.report.errors:
        if error["data"] is None:
            error["data"] = rows.get(error["row"], {}) if missing else {}


def importer_registry() -> dict[str, type]:
    """Importers by kind, events, campaigns and segment members included."""
    return {
        **IMPORTERS,
        "events": EventImporter,
        "campaigns": CampaignImporter,
        "segment_members": SegmentMembersImporter,
    }


def _audit_import(*, report: ImportReport, actor, importer, job: JobRun | None) -> None:
    """One ChangeRecord for the whole import, with its counts."""
    job_part = f" (job #{job.pk})" if job else ""
    change_record_create(
        actor=actor,
        action=ChangeAction.IMPORT,
        model=importer.model,
        object_id=str(job.pk) if job else "",
        object_repr=f"CSV import of {report.kind} from {report.file}{job_part}",
        after={
            "kind": report.kind,
            "file": report.file,
            "job": job.pk if job else None,
            "mode": report.mode,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
            **report.extra,
        },
    )


# --- jobs: upload, preview, confirm, run, progress ---------------------------------------------
def _storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.MEDIA_ROOT)


@transaction.atomic
def import_upload_create(*, actor, kind: str, upload, options: dict[str, str] | None = None) -> JobRun:
    """Keep the uploaded file under MEDIA_ROOT/imports/<job id>/ and record a pending import job
    (``options``: the settings for the whole file, see ``options_check``)."""
    original = Path(upload.name or "upload.csv").name
    job = job_run_create(
        kind=f"{JOB_KIND_PREFIX}{kind}",
        actor=actor,
        params={
            "kind": kind,
            "filename": original,
            "size": upload.size,
            "mapping": {},
            "value_map": {},
            "mode": MODE_ALL,
            "confirmed": False,
            "source": "upload",
            "options": options_check(kind, options),
        },
    )
    safe = get_valid_filename(original) or "upload.csv"
    storage = _storage()
    name = storage.save(f"imports/{job.pk}/{safe}", upload)
    job.params.update(file=name, path=storage.path(name))
    job.message = "Uploaded; waiting for the preview to be confirmed."
    job.save(update_fields=["params", "message", "updated"])
    return job


def import_job_path(job: JobRun) -> Path:
    params = job.params or {}
    if params.get("file"):
        return Path(_storage().path(params["file"]))
    return Path(params.get("path", ""))


def import_errors_path(job: JobRun) -> Path | None:
    """The full rejected-rows file written when the job finished, if there is one."""
    name = (job.params or {}).get("errors_file")
    if not name:
        return None
    path = Path(_storage().path(name))
    return path if path.is_file() else None


def import_headers(job: JobRun) -> list[str]:
    try:
        return csv_source_open(import_job_path(job)).headers
    except CsvFileError:
        return []


def import_mapping_set(
    *, job: JobRun, mapping: dict[str, str], row_by_row: bool, value_map: ValueMap | None = None
) -> JobRun:
    """Remember the mapping, value mapping and mode chosen on the preview page (before confirming)."""
    with transaction.atomic():
        job = JobRun.objects.select_for_update().get(pk=job.pk)
        if job.status == JobStatus.PENDING and not job.params.get("confirmed"):
            job.params.update(
                mapping=mapping, value_map=value_map or {}, mode=MODE_ROWS if row_by_row else MODE_ALL
            )
            job.save(update_fields=["params", "updated"])
    return job


def import_preview(*, job: JobRun, mapping: dict[str, str] | None = None, rows: int = 10) -> dict[str, Any]:
    """What the preview page shows: the first rows, the detected mapping, a dry run of the file."""
    params = job.params
    mapping = params.get("mapping", {}) if mapping is None else mapping
    path = import_job_path(job)
    out: dict[str, Any] = {"headers": [], "rows": [], "columns": [], "report": None}
    try:
        source = csv_source_open(path)
        out["headers"] = source.headers
        out["rows"] = [(n, cells) for n, cells in source.head(rows)]
    except CsvFileError:
        pass
    if out["headers"]:
        out["columns"] = resolve_mapping(params["kind"], out["headers"], mapping).columns
    out["report"] = csv_import(
        kind=params["kind"],
        path=path,
        actor=job.created_by,  # what the import may record depends on who imports (the stage column)
        mapping=mapping,
        value_map=params.get("value_map") or {},
        row_by_row=params.get("mode") == MODE_ROWS,
        preview=True,
        preview_rows=PREVIEW_ROWS,
        filename=params.get("filename"),
        options=params.get("options") or {},
    ).as_dict(max_errors=20)
    return out


def import_confirm(
    *, job: JobRun, actor, mapping: dict[str, str], row_by_row: bool, value_map: ValueMap | None = None
) -> JobRun:
    """Record the confirmed mapping, value mapping and mode, and start the import (after commit)."""
    with transaction.atomic():
        job = JobRun.objects.select_for_update().get(pk=job.pk)
        if job.status != JobStatus.PENDING or job.params.get("confirmed"):
            return job  # a double click: the import is already on its way
        job.params.update(
            mapping=mapping,
            value_map=value_map or {},
            mode=MODE_ROWS if row_by_row else MODE_ALL,
            confirmed=True,
            confirmed_at=timezone.now().isoformat(),
            confirmed_by=getattr(actor, "pk", None),
        )
        job.message = "Queued."
        job.save(update_fields=["params", "message", "updated"])
        progress_set(job.pk, progress=0, total=0, phase="queued")
        import_job_enqueue(job=job)
    return job


def import_job_enqueue(*, job: JobRun) -> None:
    """Run the import after commit: a Celery task (in the embedded mode, a background thread)."""
    # Failed with the reason at once if the queue is down (the file stays; start it again later).
    job_run_send(job=job, send=import_csv_task.delay, args=(job.pk,), name=f"import-{job.pk}")


def import_job_run(*, job_id: int) -> JobRun | None:
    """Run a confirmed import job once: claim it, import, store the report. Quiet if gone or done."""
    claimed = JobRun.objects.filter(pk=job_id, status=JobStatus.PENDING, params__confirmed=True).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), message="Validating…", updated=timezone.now()
    )
    if not claimed:
        return None
    job = JobRun.objects.get(pk=job_id)
    params = job.params
    last = [0.0]

    def on_progress(done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.3 or phase in ("importing", "done"):
            last[0] = now
            progress_set(job_id, progress=done, total=total, phase=phase)

    try:
        report = csv_import(
            kind=params["kind"],
            path=import_job_path(job),
            actor=job.created_by,
            mapping=params.get("mapping") or {},
            value_map=params.get("value_map") or {},
            row_by_row=params.get("mode") == MODE_ROWS,
            progress=on_progress,
            job=job,
            filename=params.get("filename"),
            options=params.get("options") or {},
        )
    except Exception as exc:
        logger.exception("Import job %s crashed", job_id)
        job.total = job.total or 0
        job_run_finish(
            job=job,
            ok=False,
            message=f"The import failed and nothing was written: {exc}",
            result={"fatal": str(exc), "summary": f"The import failed: {exc}", "errors": []},
        )
        progress_set(job_id, progress=0, total=0, phase="failed")
        return job
    if report.errors:
        errors_name = f"imports/{job.pk}/errors.csv"
        storage = _storage()
        buffer = io.StringIO()
        report_errors_csv(report, buffer)
        if storage.exists(errors_name):
            storage.delete(errors_name)
        storage.save(errors_name, io.BytesIO(buffer.getvalue().encode("utf-8")))
        job.params["errors_file"] = errors_name
        job.save(update_fields=["params", "updated"])
    job.total = report.rows
    job.save(update_fields=["total", "updated"])
    job_run_finish(job=job, ok=report.ok, message=report.summary(), result=report.as_dict())
    progress_set(job_id, progress=report.rows, total=report.rows, phase="done")
    return job


def _progress_key(job_id: int) -> str:
    return f"imports:progress:{job_id}"


def progress_set(job_id: int, *, progress: int, total: int, phase: str) -> None:
    """Live progress in the cache: visible while the import's transaction is still open."""
    cache_set(_progress_key(job_id), {"progress": progress, "total": total, "phase": phase}, 24 * 3600)


def import_progress(job: JobRun) -> dict[str, Any]:
    """The job's progress for the UI: the live value from the cache, else what the job row says."""
    finished = job.finished_at is not None
    live = None if finished else cache_get(_progress_key(job.pk))
    progress, total = (live["progress"], live["total"]) if live else (job.progress, job.total)
    phase = live["phase"] if live else ("done" if finished else job.status)
    percent = int(100 * progress / total) if total else (100 if finished else 0)
    labels = {
        "queued": "Queued",
        "validating": "Validating every row",
        "importing": "Writing",
        "done": "Done",
        "failed": "Failed",
        JobStatus.PENDING: "Waiting",
        JobStatus.RUNNING: "Running",
    }
    return {
        "status": job.status,
        "finished": finished,
        "phase": phase,
        "phase_label": labels.get(phase, phase),
        "progress": progress,
        "total": total,
        "percent": percent,
        "message": job.message,
    }


@shared_task(name="revops.imports.import_csv", ignore_result=True)  # the name messages already queued carry
def import_csv_task(job_id: int) -> None:
    """Run the confirmed import job ``job_id``; returns quietly if it is gone, running or finished."""
    import_job_run(job_id=job_id)
