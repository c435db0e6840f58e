"""Trigram indexes for the opportunities' search (``?q=``, issue 16): it reads the name and the external
id (and the account's name, through the accounts' own index, ``revops.filtersets.SearchFilter``); a
word that matches nothing read every opportunity (~270 ms at 100,000). PostgreSQL only, as in 0009.
Opportunities are written by imports and CRM syncs, a few at a time: the two indexes cost them little."""

from django.db import migrations

SEARCHED = [("accounts_opportunity", "name"), ("accounts_opportunity", "external_id")]


def _trigram_name(table: str, column: str) -> str:
    return f"{table.removeprefix('accounts_')}_{column}_trgm_idx"


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in SEARCHED:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_trigram_name(table, column)}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in SEARCHED:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_trigram_name(table, column)}"')


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_rollup_references_unchecked")]

    operations = [migrations.RunPython(trigram_indexes_create, trigram_indexes_drop, elidable=False)]
