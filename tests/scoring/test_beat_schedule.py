"""The beat schedule lives in the database (migration ``scoring.0008_beat_schedule``) and admin edits survive
beat starting: ``DatabaseScheduler`` writes ``CELERY_BEAT_SCHEDULE`` over the rows each time it starts, so
that setting must stay empty."""

import importlib

import pytest
from celery.schedules import crontab
from django.apps import apps as django_apps
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("scoring.migrations.0008_beat_schedule")
EXPECTED = {
    "scoring-outbox-drain": ("scoring.tasks.outbox_drain_task", "every 10 seconds"),
    "webhook-deliveries": ("scoring.tasks.webhook_deliveries_task", "every 30 seconds"),
    "rulesets-publish-due": ("scoring.tasks.rulesets_publish_due_task", "every 60 seconds"),
    "Retrain the in-market model": ("scoring.tasks.model_train_task", "0 2 * * 0 (m/h/dM/MY/d) UTC"),
    "Nightly full rescore": ("scoring.tasks.full_rescore_task", "0 3 * * * (m/h/dM/MY/d) UTC"),
    "Resume stalled rescore jobs": ("scoring.tasks.full_rescore_resume_task", "every minute"),
}


def _rows() -> dict[str, tuple[str, str]]:
    return {
        task.name: (task.task, str(task.interval or task.crontab))
        for task in PeriodicTask.objects.select_related("interval", "crontab").filter(name__in=EXPECTED)
    }


def test_migrate_creates_the_periodic_tasks():
    assert _rows() == EXPECTED
    assert all(
        task.enabled and task.expire_seconds for task in PeriodicTask.objects.filter(name__in=EXPECTED)
    )


@pytest.mark.django_db(transaction=True)  # beat runs in autocommit: it closes a connection that is not
def test_admin_edits_survive_beat_starting_and_migrating_again():
    MIGRATION.forwards(django_apps, None)  # the rows again, should an earlier transactional test have flushed
    retrain = PeriodicTask.objects.get(name="Retrain the in-market model")
    retrain.crontab = CrontabSchedule.objects.create(minute="30", hour="4", day_of_week="6", timezone="UTC")
    retrain.save()
    drain = PeriodicTask.objects.get(name="scoring-outbox-drain")  # one the old setting also defined
    drain.interval = IntervalSchedule.objects.create(every=20, period=IntervalSchedule.SECONDS)
    drain.save()
    PeriodicTask.objects.filter(name="Nightly full rescore").update(enabled=False)

    # As `celery beat` starts it, with the app's configuration (the settings' CELERY_* values).
    scheduler = DatabaseScheduler(app=celery_app)
    MIGRATION.forwards(django_apps, None)  # and a later migrate: still no overwrite, no duplicates

    retrain.refresh_from_db()
    assert (retrain.crontab.minute, retrain.crontab.hour, retrain.crontab.day_of_week) == ("30", "4", "6")
    drain.refresh_from_db()
    assert (drain.interval.every, drain.interval.period) == (20, "seconds")
    assert not PeriodicTask.objects.get(name="Nightly full rescore").enabled
    assert PeriodicTask.objects.filter(name__in=EXPECTED).count() == len(EXPECTED)

    # What beat will actually run: the edited schedules, the disabled task left out.
    schedule = scheduler.schedule
    assert schedule["Retrain the in-market model"].schedule == crontab(minute="30", hour="4", day_of_week="6")
    assert schedule["scoring-outbox-drain"].schedule.run_every.total_seconds() == 20
    assert "Nightly full rescore" not in schedule
    assert {"webhook-deliveries", "rulesets-publish-due", "Resume stalled rescore jobs"} <= set(schedule)


def test_the_settings_schedule_stays_empty():
    """Any entry here would be written over its row, edits and all, each time beat starts."""
    assert celery_app.conf.beat_schedule == {}
    assert celery_app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
