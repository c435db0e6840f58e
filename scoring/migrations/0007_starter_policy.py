"""The first qualification policy (published), so accounts can be qualified and staged out of the box."""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    Policy = apps.get_model("scoring", "QualificationPolicy")
    if Policy.objects.exists():
        return
    Policy.objects.create(
        number=1,
        name="Starter policy",
        description=(
            "Fits: profile fit 40+ (medium), 65+ (high). In market: 12%+ (medium), 30%+ (high). "
            "Qualified: medium fit or better and high in market. Stages from the in-market probability "
            "or behaviour, 3 points of hysteresis, 7 days minimum in a stage."
        ),
        status="published",
        published_at=timezone.now(),
    )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0006_account_model_scores")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
