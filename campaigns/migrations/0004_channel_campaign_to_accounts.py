"""The campaigns app forgets Channel and Campaign: accounts.0006 took them over with their tables.

State only: nothing is dropped (the tables ``campaigns_channel`` and ``campaigns_campaign`` are accounts' now).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_default_channels"),
        ("accounts", "0006_channel_campaign_from_campaigns"),
        ("scoring", "0013_rule_campaign_in_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="Campaign"),
                migrations.DeleteModel(name="Channel"),
            ],
        ),
    ]
