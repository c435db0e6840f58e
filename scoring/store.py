"""The score store: how every score table (rules and learned, contact and account) is read back and
written — only the rows whose values changed, new keys with COPY, the rest through one upsert, in
transactions that need not wait for the WAL flush (scores are derived data).

Used by ``scoring.rescore`` (rules scores), ``scoring.learned.predictions`` (learned account scores) and
``scoring.learned.lookalike`` (learned contact scores); it imports none of them.
"""

import datetime

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from revops.bulk import bulk_insert, is_postgres, table_sql


def today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def stored_read(table: str, key: str, fields: list[str], where: str, params: list) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, {', '.join(fields)} FROM {table} WHERE {where}", params)
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=[key, *fields])


def changed_mask(new: pd.DataFrame, current: pd.DataFrame, key: str, fields: list[str]) -> np.ndarray:
    """Rows of ``new`` whose ``fields`` differ from the stored ones (or that have none)."""
    if current.empty:
        return np.ones(len(new), dtype=bool)
    merged = new[[key, *fields]].merge(current, on=key, how="left", suffixes=("", "_old"), indicator=True)
    differs = merged["_merge"].to_numpy() == "left_only"
    for f in fields:
        differs |= merged[f].to_numpy() != merged[f"{f}_old"].to_numpy()
    return differs


def frame_copy(table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``table``: one COPY of pandas-written CSV on PostgreSQL (no per-value Python),
    batched INSERTs on SQLite. Text columns are never NULL (empty means empty)."""
    if is_postgres():
        quote = connection.ops.quote_name
        columns = ", ".join(quote(c) for c in frame.columns)
        text = [quote(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
        options = f"FORMAT csv, FORCE_NOT_NULL ({', '.join(text)})" if text else "FORMAT csv"
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH ({options})") as copy,
        ):
            copy.write(frame.to_csv(index=False, header=False))
        return
    bulk_insert(table.strip('"'), list(frame.columns), python_rows(frame))


def python_rows(frame: pd.DataFrame) -> list[list]:
    return frame.astype(object).where(frame.notna(), None).to_numpy().tolist()


def upsert(model, key: str, frame: pd.DataFrame) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE for the rows of ``frame`` (COPY into a staging table first
    on PostgreSQL)."""
    table = table_sql(model)
    quote = connection.ops.quote_name
    quoted = ", ".join(quote(c) for c in frame.columns)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in frame.columns if c != key)
    with connection.cursor() as cursor:
        if is_postgres():
            stage = f"stage_{model._meta.db_table}"
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
            cursor.execute(f"TRUNCATE {stage}")
            frame_copy(stage, frame)
            cursor.execute(
                f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {stage} "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
            )
            return
        sql = (
            f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(frame.columns))}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates.replace('EXCLUDED.', 'excluded.')}"
        )
        cursor.executemany(sql, python_rows(frame))


def insert_or_upsert(model, key: str, frame: pd.DataFrame, fresh: np.ndarray) -> None:
    """Rows with no stored score yet go straight in with COPY; the others through the upsert. Should a
    concurrent writer have inserted one of the fresh keys meanwhile, all go through the upsert."""
    if is_postgres() and fresh.any():
        try:
            with transaction.atomic():
                frame_copy(table_sql(model), frame[fresh])
        except IntegrityError:
            upsert(model, key, frame)
            return
        frame = frame[~fresh]
    if len(frame):
        upsert(model, key, frame)


def derived_data_commit() -> None:
    """Scores are derived data that a rerun recreates: their transactions need not wait for the WAL
    flush (a crash loses at most the last moments of scoring, never consistency)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def id_bounds(model) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table_sql(model)}")
        low, high = cursor.fetchone()
    return (low or 0, high or -1)
