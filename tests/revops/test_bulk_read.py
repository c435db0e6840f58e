"""``frame_read``: a query's rows as a DataFrame, by COPY on PostgreSQL and by fetchall elsewhere — the
same values either way: NULLs, empty strings, booleans, integers, no rows at all."""

import numpy as np
import pandas as pd
from django.db import connection

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
