"""Contact scores keep their numbers and the day whose data they used; the explanation is recomputed on
read (``scoring.rescore.contact_score_explanation``), so a full rescore no longer writes a million jsonb
values. Existing scores take the day they were scored as their ``as_of``."""

from django.db import migrations, models
from django.db.models.functions import TruncDate


def as_of_from_scored_at(apps, schema_editor):
    ContactScore = apps.get_model("scoring", "ContactScore")
    ContactScore.objects.filter(as_of__isnull=True).update(as_of=TruncDate("scored_at"))


class Migration(migrations.Migration):
    dependencies = [("scoring", "0017_notification_reads")]

    operations = [
        migrations.AddField(
            model_name="contactscore",
            name="as_of",
            field=models.DateField(help_text="The day whose data the score used.", null=True),
        ),
        migrations.RunPython(as_of_from_scored_at, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="contactscore", name="explanation"),
    ]
