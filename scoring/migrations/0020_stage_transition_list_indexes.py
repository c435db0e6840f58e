"""Indexes for the API list of buying-stage transitions at size (issue 16): it pages newest first by
``(at, id)``, which the single-column index on ``at`` cannot give when many moves share a moment (a full
rescore stamps every move it makes with one time): PostgreSQL sorted all 100,000 moves for each page
(~400 ms). ``(at, id)`` serves the unfiltered list and ``?since=``/``?until=``; the stage filters get
theirs, leading with the stage, so that a rare stage does not walk every move. Transitions are written
once per stage change, so the three indexes cost the scoring pipeline little.

Plain ``CREATE INDEX`` statements, as in 0019: they change no model state.
"""

from django.db import migrations

# (name, table, columns)
INDEXES = [
    ("stage_transition_at_id_idx", "scoring_buyingstagetransition", "at, id"),
    ("stage_transition_to_at_id_idx", "scoring_buyingstagetransition", "to_stage, at, id"),
    ("stage_transition_from_at_id_idx", "scoring_buyingstagetransition", "from_stage, at, id"),
]


class Migration(migrations.Migration):
    dependencies = [("scoring", "0019_list_indexes")]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})',
            reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
        )
        for name, table, columns in INDEXES
    ]
