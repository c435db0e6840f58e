"""Reason codes for sales' reject and recycle decisions, and the decision each transition records.

Existing rows keep both blank: "not recorded". Automatic moves never had a decision, and a person's
reject or recycle made before codes existed cannot be told apart from one another reliably (an MQL →
recycled move was either), so guessing a code ("other") would inflate the counts; the reasons table
shows them as "not coded" instead.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0015_whatif_scope'),
    ]

    operations = [
        migrations.AddField(
            model_name='lifecycletransition',
            name='decision',
            field=models.CharField(blank=True, choices=[('accept', 'Accepted'), ('reject', 'Rejected'), ('qualify', 'Qualified'), ('recycle', 'Recycled'), ('reopen', 'Reopened')], db_default='', max_length=16),
        ),
        migrations.AddField(
            model_name='lifecycletransition',
            name='reason_code',
            field=models.CharField(blank=True, choices=[('not_a_fit', 'Not a fit (outside the ICP)'), ('wrong_person', 'Wrong person (no role in buying)'), ('no_budget', 'No budget'), ('no_need', 'No need or pain'), ('no_timing', 'No timing (not buying this year)'), ('competitor', 'Committed to a competitor'), ('junk', 'Junk (job seeker, student, vendor, spam)'), ('duplicate', 'Duplicate'), ('bad_data', 'Bad data (fake or unreachable)'), ('no_response', 'No response'), ('timing', 'Bad timing (come back later)'), ('nurture', 'Early research: needs nurturing'), ('stalled', 'Deal stalled or went dark'), ('other', 'Other (say why)')], db_default='', max_length=24),
        ),
        migrations.AddIndex(
            model_name='lifecycletransition',
            index=models.Index(fields=['decision', 'at'], name='transition_decision_at_idx'),
        ),
    ]
