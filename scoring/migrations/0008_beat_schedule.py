"""The default periodic tasks, as rows of django-celery-beat's tables, so that admin can edit them.

They used to be ``CELERY_BEAT_SCHEDULE``, but ``DatabaseScheduler`` writes each entry of that setting over
its row (``update_or_create`` by name) every time beat starts, undoing what was edited in admin. Here each
row is created only when no row of that name exists: an edited, disabled or re-timed task is left alone,
on every migrate. The first three keep the names beat gave them from the setting, so an installation that
already has those rows keeps them (with their edits) and gets no duplicates.
"""

import zoneinfo

from django.db import migrations
from django.utils import timezone

SECONDS = "seconds"
MINUTES = "minutes"

# (name, task, schedule, expire_seconds, description); a schedule is ("every", n, period) or
# ("crontab", minute, hour, day_of_week). Expiry: a run not picked up in time (workers down) is dropped
# rather than queued behind the next one.
TASKS = [
    (
        "scoring-outbox-drain",
        "scoring.tasks.outbox_drain_task",
        ("every", 10, SECONDS),
        10,
        "Rescore what events and edits touched (the outbox), in case a debounced drain was lost.",
    ),
    (
        "webhook-deliveries",
        "scoring.tasks.webhook_deliveries_task",
        ("every", 30, SECONDS),
        30,
        "Send webhook deliveries that are due (first attempts and retries with back-off).",
    ),
    (
        "rulesets-publish-due",
        "scoring.tasks.rulesets_publish_due_task",
        ("every", 60, SECONDS),
        60,
        "Publish ruleset versions whose scheduled publication time has come.",
    ),
    (
        "Retrain the in-market model",
        "scoring.tasks.model_train_task",
        ("crontab", "0", "2", "0"),  # Sunday 02:00 UTC
        12 * 3600,
        "Train a new in-market model version (and the fit models); it replaces the champion only if its "
        "backtest beats it.",
    ),
    (
        "Nightly full rescore",
        "scoring.tasks.full_rescore_task",
        ("crontab", "0", "3", "*"),  # every day 03:00 UTC
        6 * 3600,
        "Rescore every contact and account (rules, then learned scores) in chunks over the workers.",
    ),
    (
        "Resume stalled rescore jobs",
        "scoring.tasks.full_rescore_resume_task",
        ("every", 1, MINUTES),  # every 5 minutes until 0011 (which retimes an unedited older row)
        60,
        "Re-send full-rescore chunks whose worker stopped beating, and the chunks of jobs that have made no "
        "progress for a while.",
    ),
]


def forwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    created_any = False
    for name, task, schedule, expire_seconds, description in TASKS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue  # edited in admin, or created by an earlier run: never overwritten
        if schedule[0] == "every":
            _kind, every, period = schedule
            # Schedules are shared rows without a unique constraint: reuse the first equal one.
            interval = IntervalSchedule.objects.filter(every=every, period=period).order_by("pk").first()
            interval = interval or IntervalSchedule.objects.create(every=every, period=period)
            when = {"interval": interval}
        else:
            _kind, minute, hour, day_of_week = schedule
            fields = dict(
                minute=minute, hour=hour, day_of_week=day_of_week, day_of_month="*", month_of_year="*"
            )
            utc = zoneinfo.ZoneInfo("UTC")
            crontab = CrontabSchedule.objects.filter(**fields, timezone=utc).order_by("pk").first()
            crontab = crontab or CrontabSchedule.objects.create(**fields, timezone=utc)
            when = {"crontab": crontab}
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "expire_seconds": expire_seconds, "description": description, **when},
        )
        created_any = True
    if created_any:
        # Historical models send no signals: tell a running beat that the schedule changed, as the
        # model's own save() would.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0007_starter_policy"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    # Backwards leaves the rows: they may have been edited, and beat without them simply runs nothing.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
