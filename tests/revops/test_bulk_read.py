"""``frame_read``: a query's rows as a DataFrame, by COPY on PostgreSQL and by fetchall elsewhere — the
same values either way: NULLs, empty strings, booleans, integers, no rows at all."""

import numpy as np
import pandas as pd
import psycopg
import pytest
from django.db import connection, transaction

from accounts.models import Contact
from revops.bulk import frame_read
from tests.accounts.factories import AccountFactory, ContactFactory, PersonaFactory

COLUMNS = {
    "id": "int", "persona": "float", "department": "str", "title": "str", "required": "bool", "name": "str"
}  # fmt: skip
SQL = (
    f"SELECT c.id, c.persona_id, c.department, c.title, p.required_in_buying_team, p.name "
    f"FROM {Contact._meta.db_table} c LEFT JOIN accounts_persona p ON p.id = c.persona_id "
    f"WHERE c.id >= %s ORDER BY c.id"
)


def fetched(sql: str, params: list) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(COLUMNS))


def test_the_rows_are_those_the_query_returns(db):
    account = AccountFactory()
    required = PersonaFactory(name="Buyer", required_in_buying_team=True)
    optional = PersonaFactory(name="Reader", required_in_buying_team=False)
    people = [
        ContactFactory(account=account, persona=required, department="Marketing", title='Head, "Growth"'),
        ContactFactory(account=account, persona=optional, department="", title="line\nbreak"),
        ContactFactory(account=account, persona=None, department="Sales", title="\\N"),
    ]
    frame = frame_read(SQL, [people[0].pk], COLUMNS)
    expected = fetched(SQL, [people[0].pk])
    assert frame["id"].tolist() == expected["id"].tolist() == [p.pk for p in people]
    assert frame["id"].dtype == np.int64
    assert frame["persona"].iloc[:2].tolist() == [required.pk, optional.pk] and pd.isna(
        frame["persona"].iloc[2]
    )
    assert frame["department"].tolist() == ["Marketing", "", "Sales"]  # "" is a value, not NULL
    assert frame["title"].tolist() == ['Head, "Growth"', "line\nbreak", "\\N"]  # quoted text survives
    assert frame["required"].iloc[:2].tolist() == [True, False] and pd.isna(frame["required"].iloc[2])
    assert frame["name"].iloc[:2].tolist() == ["Buyer", "Reader"] and pd.isna(frame["name"].iloc[2])  # NULL
    for column in ("department", "title"):
        assert frame[column].tolist() == expected[column].tolist()


def test_no_rows_is_an_empty_frame_with_the_columns(db):
    frame = frame_read(SQL, [10**9], COLUMNS)
    assert frame.empty and list(frame.columns) == list(COLUMNS)


def test_text_columns_read_null_and_empty_alike(db):
    """``"text"``: NULL (no persona) and "" (no department) both read as "", on every backend."""
    account = AccountFactory()
    people = [
        ContactFactory(account=account, persona=PersonaFactory(name="Buyer"), department=""),
        ContactFactory(account=account, persona=None, department="Sales"),
    ]
    kinds = {**COLUMNS, "department": "text", "name": "text"}
    frame = frame_read(SQL, [people[0].pk], kinds)
    assert frame["department"].tolist() == ["", "Sales"]
    assert frame["name"].tolist() == ["Buyer", ""]
    assert frame["title"].tolist() == [p.title for p in people]  # "str" beside "text" as before
    assert frame_read(SQL, [10**9], kinds).empty


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY read is PostgreSQL's; elsewhere fetchall"
)
SERIES = (
    "SELECT g, g %% 7 = 0, CASE WHEN g %% 5 = 0 THEN NULL ELSE 'r' || g END FROM generate_series(1, %s) g"
)
SERIES_COLUMNS = {"n": "int", "seventh": "bool", "label": "str"}


@postgres_only
def test_a_long_read_takes_every_row_in_order(db):
    """Many more rows than one network read holds: each COPY message is a row, none lost or split."""
    frame = frame_read(SERIES, [250_000], SERIES_COLUMNS)
    assert frame["n"].tolist() == list(range(1, 250_001))
    assert int(frame["seventh"].sum()) == 250_000 // 7
    assert frame["label"].isna().sum() == 50_000 and frame["label"].iloc[0] == "r1"
    with connection.cursor() as cursor:  # the connection goes on as after any statement
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@postgres_only
def test_an_error_the_server_reports_mid_copy_is_raised_as_its_own_error(db):
    """The server fails after sending rows (division by zero at row 200,000): psycopg's error for the
    SQLSTATE, nothing half-read returned, and the connection usable after the transaction rolls back."""
    sql = "SELECT g, 1 / (g - 200000) FROM generate_series(1, %s) g"
    with pytest.raises(psycopg.errors.DivisionByZero), transaction.atomic():
        frame_read(sql, [300_000], {"n": "int", "inverse": "int"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


@postgres_only
def test_a_statement_timeout_cancels_the_read(db):
    with pytest.raises(psycopg.errors.QueryCanceled), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '50ms'")
        frame_read("SELECT g FROM generate_series(1, %s) g, pg_sleep(0.2)", [3], {"n": "int"})
    assert frame_read(SERIES, [3], SERIES_COLUMNS)["n"].tolist() == [1, 2, 3]
