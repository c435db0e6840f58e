"""The Schedule page (/settings/schedule/) and admin's Periodic tasks: revenue operations retimes, enables
and disables beat's tasks; nobody else may; bad input changes nothing."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from revops import schedule
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord

pytestmark = pytest.mark.django_db

PAGE = "/settings/schedule/"
BEAT_MIGRATION = importlib.import_module("scoring.migrations.0008_beat_schedule")


@pytest.fixture(autouse=True)
def beat_rows():
    """The migration's rows (again, should a transactional test have flushed them)."""
    BEAT_MIGRATION.forwards(django_apps, None)


def task_named(name: str) -> PeriodicTask:
    return PeriodicTask.objects.select_related("interval", "crontab").get(name=name)


def edit_url(task) -> str:
    return reverse("revops:periodictask_edit", kwargs={"pk": task.pk})


def crontab_form(**overrides) -> dict:
    data = {"enabled": "on", "kind": "crontab", "minute": "30", "hour": "4", "day_of_week": "*",
            "day_of_month": "*", "month_of_year": "*", "every": "1", "period": "hours"}  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.LEAD])
def test_only_revenue_operations_reaches_the_schedule(client, user_in, role):
    user = user_in(TeamKind.SALES, role)
    client.force_login(user)
    nightly = task_named("Nightly full rescore")
    assert client.get(PAGE).status_code == 403
    assert client.get(edit_url(nightly)).status_code == 403
    assert client.post(edit_url(nightly), crontab_form()).status_code == 403
    assert task_named("Nightly full rescore").crontab.hour == "3"
    assert f'href="{PAGE}"' not in client.get("/").content.decode()


def test_a_revenue_operations_viewer_does_not_get_it_either(client, user_in):
    client.force_login(user_in(TeamKind.REVENUE_OPERATIONS, Role.VIEWER))
    assert client.get(PAGE).status_code == 403


def test_revops_sees_every_task_in_words(client, revops_admin):
    client.force_login(revops_admin)
    assert f'href="{PAGE}"' in client.get("/").content.decode()
    page = client.get(PAGE).content.decode()
    for task in PeriodicTask.objects.all():
        assert task.name in page and task.description in page
    assert "every day at 03:00 UTC" in page  # the nightly rescore
    assert "Sundays at 02:00 UTC" in page  # the retraining
    assert "every 10 seconds" in page  # the outbox drain
    assert "never" in page  # last run of a task that has not run


def test_revops_retimes_a_crontab_task_without_touching_a_shared_schedule_row(client, revops_admin):
    nightly = task_named("Nightly full rescore")
    old_row = nightly.crontab
    client.force_login(revops_admin)
    assert client.get(edit_url(nightly)).status_code == 200
    response = client.post(edit_url(nightly), crontab_form(minute="30", hour="4"))
    assert response.status_code == 302 and response["Location"] == PAGE
    nightly = task_named("Nightly full rescore")
    assert (nightly.crontab.minute, nightly.crontab.hour, str(nightly.crontab.timezone)) == ("30", "4", "UTC")
    old_row.refresh_from_db()
    assert (old_row.minute, old_row.hour) == ("0", "3")  # made a new row, did not edit the old one
    assert "every day at 04:30 UTC" in client.get(PAGE).content.decode()
    record = ChangeRecord.objects.get(object_type__model="periodictask")
    assert record.actor == revops_admin and record.object_id == str(nightly.pk)
    assert record.before == {"enabled": True, "schedule": "every day at 03:00 UTC"}
    assert record.after == {"enabled": True, "schedule": "every day at 04:30 UTC"}
    history = client.get(edit_url(nightly)).content.decode()
    assert "every day at 03:00 UTC" in history and revops_admin.username in history


def test_revops_switches_a_task_to_an_interval_and_off(client, revops_admin):
    drain = task_named("scoring-outbox-drain")
    client.force_login(revops_admin)
    response = client.post(edit_url(drain), {"kind": "interval", "every": "2", "period": "minutes"})
    assert response.status_code == 302
    drain = task_named("scoring-outbox-drain")
    assert (drain.interval.every, drain.interval.period, drain.enabled, drain.crontab) == (
        2,
        "minutes",
        False,
        None,
    )
    # A crontab replaces the interval: exactly one schedule.
    client.post(edit_url(drain), crontab_form(minute="*/5", hour="*"))
    drain = task_named("scoring-outbox-drain")
    assert drain.interval is None and drain.crontab.minute == "*/5" and drain.enabled


def test_saving_an_unchanged_task_audits_nothing(client, revops_admin):
    nightly = task_named("Nightly full rescore")
    client.force_login(revops_admin)
    assert client.post(edit_url(nightly), crontab_form(minute="0", hour="3")).status_code == 302
    assert not ChangeRecord.objects.filter(object_type__model="periodictask").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (crontab_form(minute="61"), "minute"),
        (crontab_form(hour="x"), "hour"),
        (crontab_form(hour=""), "hour"),
        (crontab_form(day_of_week="8-9"), "day_of_week"),
        (crontab_form(month_of_year="13"), "month_of_year"),
        (crontab_form(kind="interval", every="0"), "every"),
        (crontab_form(kind="interval", every="2", period="seconds"), "every"),
        (crontab_form(kind="interval", every="", period="minutes"), "every"),
        (crontab_form(kind="interval", every="400", period="days"), "every"),
        (crontab_form(kind="interval", every="5", period="fortnights"), "period"),
        (crontab_form(kind=None), "kind"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(client, revops_admin, data, field):
    nightly = task_named("Nightly full rescore")
    crontabs, intervals = CrontabSchedule.objects.count(), IntervalSchedule.objects.count()
    client.force_login(revops_admin)
    response = client.post(edit_url(nightly), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert field in response.context["form"].errors
    nightly = task_named("Nightly full rescore")
    assert (nightly.crontab.minute, nightly.crontab.hour, nightly.enabled) == ("0", "3", True)
    assert (CrontabSchedule.objects.count(), IntervalSchedule.objects.count()) == (crontabs, intervals)
    assert not ChangeRecord.objects.filter(object_type__model="periodictask").exists()


def test_an_unknown_task_is_404(client, revops_admin):
    client.force_login(revops_admin)
    assert client.get(reverse("revops:periodictask_edit", kwargs={"pk": 999_999})).status_code == 404


def test_revops_reaches_periodic_tasks_in_admin_and_others_do_not(client, revops_admin, user_in):
    nightly = task_named("Nightly full rescore")
    client.force_login(revops_admin)
    listing = client.get("/admin/django_celery_beat/periodictask/")
    assert listing.status_code == 200 and "Nightly full rescore" in listing.content.decode()
    assert client.get(f"/admin/django_celery_beat/periodictask/{nightly.pk}/change/").status_code == 200
    assert client.get("/admin/django_celery_beat/crontabschedule/add/").status_code == 200
    # Tasks come from migrations: not added or deleted by hand.
    assert client.get("/admin/django_celery_beat/periodictask/add/").status_code == 403
    assert client.get(f"/admin/django_celery_beat/periodictask/{nightly.pk}/delete/").status_code == 403
    # A sales lead is not staff.
    client.force_login(user_in(TeamKind.SALES, Role.LEAD))
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 302


def test_revops_disables_a_task_in_admin(client, revops_admin):
    nightly = task_named("Nightly full rescore")
    client.force_login(revops_admin)
    form = (
        client.get(f"/admin/django_celery_beat/periodictask/{nightly.pk}/change/").context["adminform"].form
    )
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or value is False:
            continue
        data[name] = value.pk if hasattr(value, "pk") else value
    data.pop("enabled", None)
    response = client.post(f"/admin/django_celery_beat/periodictask/{nightly.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not task_named("Nightly full rescore").enabled


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (("0", "3", "*", "*", "*"), "every day at 03:00 UTC"),
        (("15", "22", "1", "*", "*"), "Mondays at 22:15 UTC"),
        (("5", "*", "*", "*", "*"), "every hour at minute 5"),
        (("*/15", "1-5", "*", "*", "*"), "cron “*/15 1-5 * * *” (UTC)"),
        (("0", "3", "*", "1", "*"), "cron “0 3 1 * *” (UTC)"),
    ],
)
def test_crontabs_in_words(fields, words):
    minute, hour, day_of_week, day_of_month, month_of_year = fields
    cron = CrontabSchedule(minute=minute, hour=hour, day_of_week=day_of_week, day_of_month=day_of_month,
                           month_of_year=month_of_year, timezone="UTC")  # fmt: skip
    assert schedule.crontab_in_words(cron) == words


def test_intervals_in_words():
    assert schedule.interval_in_words(1, "minutes") == "every minute"
    assert schedule.interval_in_words(10, "seconds") == "every 10 seconds"
    assert schedule.interval_in_words(60, "seconds") == "every minute"
    assert schedule.interval_in_words(90, "seconds") == "every 90 seconds"
    assert schedule.interval_in_words(120, "minutes") == "every 2 hours"
    assert schedule.interval_in_words(48, "hours") == "every 2 days"
