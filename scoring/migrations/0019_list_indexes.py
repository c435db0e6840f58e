"""Indexes for the API lists of scores and lifecycle moves at size (issue 16): each list pages in a fixed
order (lifecycle moves newest first by ``(at, id)``, contact scores by contact id, learned scores by
``(in_market, account)`` descending), so a filter that matches few of a million rows needs an index that
leads with the filtered column and ends with that order; otherwise the list walks the table in order
until it has found a page (or sorts every matching row).

Plain ``CREATE INDEX`` statements (PostgreSQL and SQLite alike) rather than ``Meta.indexes``: they
change no model state, so they sit beside the models' own indexes without touching them.
"""

from django.db import migrations

# (name, table, columns)
INDEXES = [
    ("transition_at_id_idx", "scoring_lifecycletransition", "at, id"),
    ("transition_to_at_id_idx", "scoring_lifecycletransition", "to_stage, at, id"),
    ("transition_from_at_id_idx", "scoring_lifecycletransition", "from_stage, at, id"),
    ("transition_ruleset_at_id_idx", "scoring_lifecycletransition", "ruleset_id, at, id"),
    ("transition_reason_at_id_idx", "scoring_lifecycletransition", "reason_code, at, id"),
    ("contact_score_fit_idx", "scoring_contactscore", "fit_grade, contact_id"),
    ("contact_score_engagement_idx", "scoring_contactscore", "engagement_grade, contact_id"),
    ("account_model_stage_rank_idx", "scoring_accountmodelscore", "stage, in_market, account_id"),
    ("account_model_fit_rank_idx", "scoring_accountmodelscore", "fit_band, in_market, account_id"),
    ("account_model_band_rank_idx", "scoring_accountmodelscore", "in_market_band, in_market, account_id"),
]


class Migration(migrations.Migration):
    dependencies = [("scoring", "0018_contact_score_explained_on_read")]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})',
            reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
        )
        for name, table, columns in INDEXES
    ]
