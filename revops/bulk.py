"""Set-based writes: COPY on PostgreSQL, batched INSERTs on SQLite, behind one function."""

import csv
import datetime
import decimal
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

SQLITE_BATCH = 500


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _copy_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` into ``table`` as fast as the database allows; returns the row count.

    Values are Python values (dicts and lists become JSON). No conflict handling: callers insert
    into staging tables or into tables they know are free of the keys.
    """
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if is_postgres():
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_copy_text(v) for v in row])
                    count += 1
            return count
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({cols}) VALUES "
        batch: list[Any] = []
        per_statement = max(1, min(SQLITE_BATCH, 999 // max(1, len(columns))))
        n_in_batch = 0

        def flush():
            cursor.execute(sql + ", ".join([placeholders] * n_in_batch), batch)

        for row in rows:
            batch.extend(_copy_text(v) if isinstance(v, dict | list) else v for v in row)
            n_in_batch += 1
            count += 1
            if n_in_batch == per_statement:
                flush()
                batch, n_in_batch = [], 0
        if n_in_batch:
            flush()
    return count


def csv_buffer(rows: Iterable[Sequence[Any]]) -> io.StringIO:
    """Rows as an in-memory CSV, for callers that stream with COPY ... (FORMAT csv)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow(["" if v is None else _copy_text(v) for v in row])
    buf.seek(0)
    return buf
