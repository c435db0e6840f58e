"""Indexes that repeat the leading column of another index on the same table (issue 16): the learned
scores' stage, their history's account_id, the buying-stage moves' account_id and at.

The indexes go with plain ``DROP INDEX`` statements; the model state changes apart. Altering the fields
instead would make SQLite rebuild each table and lose the indexes the state does not know (the list
indexes of ``scoring.0019``/``0020``), and PostgreSQL drop and re-check a foreign key on every row."""

import django.db.models.deletion
from django.db import migrations, models


# (index, table, column)
DROPS = [
    ("account_model_stage_idx", "scoring_accountmodelscore", "stage"),
    (
        "scoring_accountmodelscorehistory_account_id_60eb02f1",
        "scoring_accountmodelscorehistory",
        "account_id",
    ),
    ("scoring_buyingstagetransition_account_id_b4e5dae5", "scoring_buyingstagetransition", "account_id"),
    ("scoring_buyingstagetransition_at_f92300e8", "scoring_buyingstagetransition", "at"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_opportunity_search_indexes"),
        ("scoring", "0022_transition_prefix_indexes_drop"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in DROPS
            ],
            state_operations=[
                migrations.RemoveIndex(
                    model_name="accountmodelscore",
                    name="account_model_stage_idx",
                ),
                migrations.AlterField(
                    model_name="accountmodelscorehistory",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="model_score_history",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="buyingstagetransition",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stage_transitions",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="buyingstagetransition",
                    name="at",
                    field=models.DateTimeField(),
                ),
            ],
        ),
    ]
