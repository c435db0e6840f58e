"""The list indexes of 0019 and 0020 again, where they were lost (issue 16).

They are plain ``CREATE INDEX`` statements, unknown to the model state, and SQLite alters a column by
rebuilding its table with only the indexes the state knows: 0021 and 0022, which altered the lifecycle
moves, left a SQLite database without ``transition_*_at_id_idx``. ``IF NOT EXISTS`` makes this a no-op
where they are (PostgreSQL, whose ``ALTER TABLE`` keeps them). Later migrations drop indexes with plain
``DROP INDEX`` statements for the same reason (0023, 0024)."""

import importlib

from django.db import migrations

# The two migrations' own lists (frozen as they are).
INDEXES = [
    *importlib.import_module("scoring.migrations.0019_list_indexes").INDEXES,
    *importlib.import_module("scoring.migrations.0020_stage_transition_list_indexes").INDEXES,
]


class Migration(migrations.Migration):
    dependencies = [("scoring", "0024_model_version_indexes")]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})',
            reverse_sql=migrations.RunSQL.noop,
        )
        for name, table, columns in INDEXES
    ]
