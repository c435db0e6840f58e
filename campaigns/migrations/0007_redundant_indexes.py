"""Indexes that repeat the leading column of another index on the same table (issue 16): the segment
memberships' segment_id and a second account_id, the campaign audiences' campaign_id and a second
account_id.

The indexes go with plain ``DROP INDEX`` statements; the model state changes apart. Altering the fields
instead would make SQLite rebuild each table and lose the indexes the state does not know (the list
indexes of ``scoring.0019``/``0020``), and PostgreSQL drop and re-check a foreign key on every row."""

import django.db.models.deletion
from django.db import migrations, models


# (index, table, column)
DROPS = [
    ("campaigns_campaignaudience_account_id_528e3065", "campaigns_campaignaudience", "account_id"),
    ("campaigns_campaignaudience_campaign_id_d07a0e56", "campaigns_campaignaudience", "campaign_id"),
    ("campaigns_segmentmembership_account_id_f4849c45", "campaigns_segmentmembership", "account_id"),
    ("campaigns_segmentmembership_segment_id_83bfaa4d", "campaigns_segmentmembership", "segment_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_opportunity_search_indexes"),
        ("campaigns", "0006_measurement_mqls_help"),
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
                    model_name="campaignaudience",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="campaign_audiences",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="campaignaudience",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="audience",
                        to="accounts.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="segmentmembership",
                    name="account",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="segment_memberships",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="segmentmembership",
                    name="segment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="campaigns.segment",
                    ),
                ),
            ],
        ),
    ]
