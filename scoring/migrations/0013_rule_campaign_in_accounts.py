"""Rule.campaign names accounts.Campaign (moved there from the campaigns app by accounts.0006).

State only: the column and its foreign key to ``campaigns_campaign`` stay as they are (the table kept its name).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0012_policy_revision"),
        ("accounts", "0006_channel_campaign_from_campaigns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="rule",
                    name="campaign",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.campaign"),
                ),
            ],
        ),
    ]
