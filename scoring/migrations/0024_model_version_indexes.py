"""Scores no longer index the model versions that made them (issue 16): versions are never deleted and
nothing looks scores up by version; each index cost a full learned rescore ~1 s per million rows.

The indexes go with plain ``DROP INDEX`` statements; the model state changes apart. Altering the fields
instead would make SQLite rebuild each table and lose the indexes the state does not know (the list
indexes of ``scoring.0019``/``0020``), and PostgreSQL drop and re-check a foreign key on every row."""

import django.db.models.deletion
from django.db import migrations, models


# (index, table, column)
DROPS = [
    ("scoring_accountmodelscore_fit_model_id_db1a59c0", "scoring_accountmodelscore", "fit_model_id"),
    ("scoring_accountmodelscore_model_id_5c489d6e", "scoring_accountmodelscore", "model_id"),
    ("scoring_accountmodelscorehistory_model_id_504eeb48", "scoring_accountmodelscorehistory", "model_id"),
    ("scoring_buyingstagetransition_model_id_df2a4ff5", "scoring_buyingstagetransition", "model_id"),
    (
        "scoring_contactmodelscore_conversion_model_id_adc6d276",
        "scoring_contactmodelscore",
        "conversion_model_id",
    ),
    ("scoring_contactmodelscore_model_id_cff90b0d", "scoring_contactmodelscore", "model_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0023_redundant_indexes"),
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
                migrations.AlterField(
                    model_name="accountmodelscore",
                    name="fit_model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="accountmodelscore",
                    name="model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="accountmodelscorehistory",
                    name="model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="buyingstagetransition",
                    name="model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactmodelscore",
                    name="conversion_model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactmodelscore",
                    name="model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.scoringmodel",
                    ),
                ),
            ],
        ),
    ]
