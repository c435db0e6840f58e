"""The periodic task that starts plays for stage transitions made outside a full rescore (a row of
django-celery-beat's table, created only when none of that name exists, so admin edits survive)."""

from django.db import migrations
from django.utils import timezone

NAME = "Start playbook plays"


def forwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    interval = IntervalSchedule.objects.filter(every=5, period="minutes").order_by("pk").first()
    interval = interval or IntervalSchedule.objects.create(every=5, period="minutes")
    PeriodicTask.objects.create(
        name=NAME,
        task="playbooks.tasks.plays_trigger_task",
        interval=interval,
        expire_seconds=300,
        description="Start and stop playbook plays for the buying-stage transitions not acted on yet.",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("playbooks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
