"""Indexes for the lists at size: the API pages by id, newest first, so a filter that matches few rows
needs an index that leads with the filtered column and ends with the id; a case-insensitive search
(``icontains``) needs a trigram index on PostgreSQL (``pg_trgm``, a trusted extension), or it reads every
row when nothing matches. The trigram indexes and the recent opportunities' one are PostgreSQL's only
(SQLite has no such index), created by SQL beside the models' own."""

from django.conf import settings
from django.db import migrations, models

# (table, column): the text columns the accounts' and contacts' searches (``q``) read.
SEARCHED = [
    ("accounts_account", "name"),
    ("accounts_account", "domain"),
    ("accounts_contact", "email"),
    ("accounts_contact", "first_name"),
    ("accounts_contact", "last_name"),
    ("accounts_contact", "title"),
]


def _trigram_name(table: str, column: str) -> str:
    return f"{table.removeprefix('accounts_')}_{column}_trgm_idx"


# The dashboard's most recently opened opportunities, undated ones last: an index of that very order
# (``created_date DESC NULLS LAST, id DESC``; SQLite takes no NULLS LAST in an index).
RECENT_DATED = (
    'CREATE INDEX IF NOT EXISTS "opportunity_recent_dated_idx" ON "accounts_opportunity" '
    '("created_date" DESC NULLS LAST, "id" DESC)'
)


def trigram_indexes_create(apps, schema_editor):
    """``icontains`` is ``UPPER(col::text) LIKE UPPER('%…%')`` on PostgreSQL: index that expression."""
    if schema_editor.connection.vendor != "postgresql":
        return
    # Left in place when going back: other indexes may use it, and it is harmless.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in SEARCHED:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_trigram_name(table, column)}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    schema_editor.execute(RECENT_DATED)


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in SEARCHED:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_trigram_name(table, column)}"')
    schema_editor.execute('DROP INDEX IF EXISTS "opportunity_recent_dated_idx"')


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_owner_team_territories"),
        ("revops", "0003_jobrun_scope"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop, elidable=False),
        migrations.RemoveIndex(
            model_name="accountactivitydaily",
            name="account_activity_day_idx",
        ),
        migrations.RemoveIndex(
            model_name="engagementevent",
            name="event_campaign_idx",
        ),
        migrations.AlterField(
            model_name="contact",
            name="lifecycle_stage",
            field=models.CharField(
                choices=[
                    ("lead", "Lead"),
                    ("mql", "MQL"),
                    ("sal", "SAL"),
                    ("sql", "SQL"),
                    ("opportunity", "Opportunity"),
                    ("customer", "Customer"),
                    ("recycled", "Recycled"),
                    ("disqualified", "Disqualified"),
                ],
                default="lead",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="accountactivitydaily",
            index=models.Index(
                fields=["day", "event_type"], include=("count",), name="account_activity_day_count_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["lifecycle_stage", "id"], name="contact_stage_id_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["country", "id"], name="contact_country_id_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["department", "id"], name="contact_department_id_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["seniority", "id"], name="contact_seniority_id_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["created"], name="contact_created_idx"),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(models.functions.Upper("industry"), name="account_industry_upper_idx"),
        ),
        migrations.AddIndex(
            model_name="engagementevent",
            index=models.Index(
                condition=models.Q(("campaign__isnull", False)),
                fields=["campaign", "id"],
                name="event_campaign_id_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="engagementevent",
            index=models.Index(fields=["event_type", "id"], name="event_type_id_idx"),
        ),
    ]
