"""The list indexes created by plain SQL (scoring.0019, 0020) are on the database after every migration,
SQLite included (a column altered there rebuilds its table with only the indexes the model state knows),
and the redundant ones dropped by 0023 and 0024 are gone."""

import importlib

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

RAW = [
    *importlib.import_module("scoring.migrations.0019_list_indexes").INDEXES,
    *importlib.import_module("scoring.migrations.0020_stage_transition_list_indexes").INDEXES,
]
DROPPED = [
    *importlib.import_module("scoring.migrations.0023_redundant_indexes").DROPS,
    *importlib.import_module("scoring.migrations.0024_model_version_indexes").DROPS,
    *importlib.import_module("campaigns.migrations.0007_redundant_indexes").DROPS,
]


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.parametrize(("name", "table", "columns"), RAW, ids=[name for name, _, _ in RAW])
def test_each_list_index_is_there(name, table, columns):
    assert name in _indexes(table)


@pytest.mark.parametrize(("name", "table", "column"), DROPPED, ids=[name for name, _, _ in DROPPED])
def test_each_redundant_index_is_gone_and_its_column_still_leads_another(name, table, column):
    indexes = _indexes(table)
    assert name not in indexes
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert any(c["columns"] and c["columns"][0] == column for c in constraints.values()) or column.endswith(
        "model_id"
    )  # the model versions' references keep no index at all (scoring.0024)
