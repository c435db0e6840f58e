"""Events from CSV: each row becomes one item for the ingestion service (``accounts.ingest``).

The service validates and writes batches; this importer maps columns to item keys, checks what a
CSV adds (numbers, JSON, duplicates in the file), and sends chunks of a few thousand, translating
the service's item indexes back to row numbers. Pass 1 validates every chunk without writing
(``events_validate``); pass 2 calls ``events_ingest`` chunk by chunk inside the import's single
transaction, so the file lands whole or not at all.
"""

from django.db import transaction

from accounts import ingest
from accounts.choices import EventSource, EventType
from accounts.models import EngagementEvent
from accounts.normalize import normalize_key

from .importers import INVALID, Importer, Row

CHUNK = 2000
_TYPES = {normalize_key(v): v for v in EventType.values} | {
    normalize_key(lbl): v for v, lbl in EventType.choices
}
_SOURCES = {normalize_key(v): v for v in EventSource.values} | {
    normalize_key(lbl): v for v, lbl in EventSource.choices
}
_ID_FIELDS = ("account_id", "contact_id", "campaign_id")
_IDENTITY = ("account_domain", "account_id", "contact_email", "contact_id")
_TEXT_FIELDS = ("message_id", "occurred_at", "account_domain", "contact_email", "url", "topic")


class _Rollback(Exception):
    pass


class EventImporter(Importer):
    """Engagement and intent events through the ingestion service, idempotent by message id."""

    kind = "events"
    model = EngagementEvent
    chunk_size = CHUNK

    def load(self) -> None:
        self.pending: list[tuple[Row, dict]] = []

    def parse(self, row: Row) -> tuple[Row, dict] | None:
        item: dict = {}
        ok = True
        for name in _TEXT_FIELDS:
            value = self.value(row, name)
            if value is INVALID:
                ok = False
            elif value:
                item[name] = value
        kind = self.value(row, "type")
        if kind is INVALID:
            ok = False
        elif kind:
            item["type"] = _TYPES.get(normalize_key(kind), kind)
        source = self.value(row, "source")
        if source is INVALID:
            ok = False
        elif source:
            item["source"] = _SOURCES.get(normalize_key(source), source)
        for name in _ID_FIELDS:
            raw = self.raw(row, name).strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) <= 0:
                self.ctx.error(row, name, raw, "must be a positive whole number (an id)")
                ok = False
            else:
                item[name] = int(raw)
        properties = self.custom(row)
        given = self.value(row, "properties")
        if given is INVALID:
            ok = False
        elif given:
            properties.update(given)
        if properties:
            item["properties"] = properties
        return (row, item) if ok else None

    def register(self, row: Row, parsed: tuple[Row, dict]) -> None:
        _, item = parsed
        if not self.unique(row, item["message_id"], "message_id", "message id"):
            return
        self.pending.append((row, item))
        if len(self.pending) >= CHUNK:
            self._validate_pending()

    def validate_all(self) -> None:
        self._validate_pending()

    def _validate_pending(self) -> None:
        rows, items = [r for r, _ in self.pending], [i for _, i in self.pending]
        self.pending = []
        if not items:
            return
        try:
            validate = getattr(ingest, "events_validate", None)
            if validate is not None:
                validate(items=items, max_items=None)
            else:  # an older ingestion service: run it and roll back
                try:
                    with transaction.atomic():
                        ingest.events_ingest(actor=None, items=items, max_items=None)
                        raise _Rollback
                except _Rollback:
                    pass
        except ingest.IngestValidationError as exc:
            self._record(exc.errors, rows, items)

    def _record(self, errors, rows: list[Row], items: list[dict]) -> set[int]:
        """Translate the service's item errors to row and column; returns the bad item indexes."""
        bad = set()
        for error in errors:
            if error.index is None:
                for row in rows:
                    self.ctx.error(row, "(file)", "", error.message)
                return set(range(len(items)))
            bad.add(error.index)
            row = rows[error.index]
            field = error.field
            if field not in self.index:  # "account": the identity columns as a whole
                field = next((f for f in _IDENTITY if f in self.index), field)
            self.ctx.error(row, field, self.raw(row, field) if field in self.index else "", error.message)
        return bad

    def write(self, parsed: list[tuple[Row, dict]], *, write: bool) -> None:
        report = self.ctx.report
        rows, items = [r for r, _ in parsed], [i for _, i in parsed]
        if not write:
            known = set(
                EngagementEvent.objects.filter(message_id__in=[i["message_id"] for i in items]).values_list(
                    "message_id", flat=True
                )
            )
            report.created += len(items) - len(known)
            report.unchanged += len(known)
            report.extra["duplicates"] = report.extra.get("duplicates", 0) + len(known)
            return
        while items:
            try:
                with transaction.atomic():
                    result = ingest.events_ingest(actor=self.ctx.actor, items=items, max_items=None)
            except ingest.IngestValidationError as exc:
                # Validated in pass 1, so only a concurrent change lands here.
                bad = self._record(exc.errors, rows, items)
                if not self.ctx.row_by_row:
                    return
                rows = [r for i, r in enumerate(rows) if i not in bad]
                items = [x for i, x in enumerate(items) if i not in bad]
                continue
            report.created += result.created
            report.unchanged += result.duplicates
            for name in ("duplicates", "accounts_created", "contacts_created"):
                report.extra[name] = report.extra.get(name, 0) + getattr(result, name)
            return
