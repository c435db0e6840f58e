"""Lifecycle moves: drop the three indexes whose columns lead a list index of 0019 (``at``; ``ruleset_id``;
``to_stage, at``): every query they served the longer index serves, and each costs every move written
(a rescore of a million contacts writes ~15,000)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0021_transition_decision_import'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='lifecycletransition',
            name='transition_stage_at_idx',
        ),
        migrations.AlterField(
            model_name='lifecycletransition',
            name='at',
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name='lifecycletransition',
            name='ruleset',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='scoring.ruleset'),
        ),
    ]
