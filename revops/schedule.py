"""The periodic tasks' schedule (django-celery-beat's rows): read in words, retimed and switched on or off.

The tasks themselves are created by migrations (``scoring/migrations/0008_beat_schedule.py``); a
revenue-operations admin edits when they run on the Schedule page (or in admin, Periodic tasks). Beat's
``DatabaseScheduler`` notices a saved task at once (``PeriodicTask.save`` marks the schedule changed).
"""

from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab as celery_crontab
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from .audit import change_record_create
from .choices import ChangeAction
from .models import ChangeRecord

# What an interval may be counted in on the page (beat also knows microseconds: nobody needs them).
INTERVAL_PERIODS = [
    (IntervalSchedule.SECONDS, "seconds"),
    (IntervalSchedule.MINUTES, "minutes"),
    (IntervalSchedule.HOURS, "hours"),
    (IntervalSchedule.DAYS, "days"),
]
PERIOD_SECONDS = {IntervalSchedule.SECONDS: 1, IntervalSchedule.MINUTES: 60, IntervalSchedule.HOURS: 3600,
                  IntervalSchedule.DAYS: 86400}  # fmt: skip
# Shorter than this a task would run back to back with itself (the outbox drain's own default is 10 s).
MIN_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 366 * 86400
DAY_NAMES = {"0": "Sunday", "1": "Monday", "2": "Tuesday", "3": "Wednesday", "4": "Thursday", "5": "Friday",
             "6": "Saturday", "7": "Sunday"}  # fmt: skip
UTC = "UTC"


def interval_in_words(every: int, period: str) -> str:
    """``every 10 seconds``, ``every minute`` (60 seconds read as a minute, 120 minutes as 2 hours)."""
    seconds = every * PERIOD_SECONDS.get(period, 0)
    for bigger in (IntervalSchedule.DAYS, IntervalSchedule.HOURS, IntervalSchedule.MINUTES):
        size = PERIOD_SECONDS[bigger]
        if seconds and seconds >= size and seconds % size == 0 and size > PERIOD_SECONDS[period]:
            every, period = seconds // size, bigger
            break
    unit = period.rstrip("s")
    return f"every {unit}" if every == 1 else f"every {every} {period}"


def crontab_in_words(cron: CrontabSchedule) -> str:
    """``every day at 03:00 UTC``, ``Sundays at 02:00 UTC``; anything else as its five fields."""
    zone = str(cron.timezone or UTC)
    minute, hour, dom, moy, dow = (
        cron.minute,
        cron.hour,
        cron.day_of_month,
        cron.month_of_year,
        cron.day_of_week,
    )
    if minute.isdigit() and hour.isdigit() and dom == "*" and moy == "*":
        at = f"at {int(hour):02d}:{int(minute):02d} {zone}"
        if dow == "*":
            return f"every day {at}"
        if dow in DAY_NAMES:
            return f"{DAY_NAMES[dow]}s {at}"
    if minute.isdigit() and hour == "*" and dom == moy == dow == "*":
        return f"every hour at minute {int(minute)}"
    return f"cron “{minute} {hour} {dom} {moy} {dow}” ({zone})"


def schedule_in_words(task: PeriodicTask) -> str:
    """When ``task`` runs, in words."""
    if task.interval_id:
        return interval_in_words(task.interval.every, task.interval.period)
    if task.crontab_id:
        return crontab_in_words(task.crontab)
    if task.clocked_id:
        return f"once, at {task.clocked.clocked_time:%Y-%m-%d %H:%M} UTC"
    if task.solar_id:
        return str(task.solar)
    return "no schedule"


def periodic_task_snapshot(task: PeriodicTask) -> dict[str, Any]:
    """What the audit log keeps of a task: whether it runs, and when."""
    return {"enabled": task.enabled, "schedule": schedule_in_words(task)}


@dataclass(frozen=True)
class Interval:
    every: int
    period: str


@dataclass(frozen=True)
class Crontab:
    minute: str
    hour: str
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"


def periodic_task_list():
    """Every periodic task with its schedule rows, by name."""
    return PeriodicTask.objects.select_related("interval", "crontab", "clocked", "solar").order_by("name")


def periodic_task_history(task: PeriodicTask, limit: int = 20):
    """The latest audited changes to ``task``'s schedule, newest first."""
    kind = ContentType.objects.get_for_model(PeriodicTask)
    return ChangeRecord.objects.filter(object_type=kind, object_id=str(task.pk)).select_related("actor")[
        :limit
    ]


def interval_validate(interval: Interval) -> None:
    """Refuse an interval beat would run too often, or never in practice."""
    if interval.period not in PERIOD_SECONDS:
        raise ValidationError({"period": f"Choose one of {', '.join(p for p, _ in INTERVAL_PERIODS)}."})
    seconds = interval.every * PERIOD_SECONDS[interval.period]
    if interval.every < 1 or seconds < MIN_INTERVAL_SECONDS:
        raise ValidationError({"every": f"Run at most every {MIN_INTERVAL_SECONDS} seconds."})
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValidationError({"every": "Run at least once a year."})


def crontab_validate(cron: Crontab) -> None:
    """Refuse crontab fields celery cannot read (each field is checked alone, so the error names it)."""
    names = {"minute": "minute", "hour": "hour", "day_of_week": "day_of_week", "day_of_month": "day_of_month",
             "month_of_year": "month_of_year"}  # fmt: skip
    errors = {}
    for field, argument in names.items():
        value = getattr(cron, field).strip()
        if not value:
            errors[field] = "Required: a number, a list (1,15), a range (1-5), a step (*/15) or *."
            continue
        try:
            celery_crontab(**{argument: value})
        except (ValueError, TypeError, IndexError) as exc:
            errors[field] = f"“{value}” is not a valid {field.replace('_', ' ')}: {exc}"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def periodic_task_update(
    *,
    actor,
    task: PeriodicTask,
    enabled: bool,
    interval: Interval | None = None,
    crontab: Crontab | None = None,
) -> PeriodicTask:
    """Switch ``task`` on or off and retime it (an interval or a crontab, in UTC), audited.

    Schedule rows are shared between tasks: an equal row is reused, or a new one made; a row another task
    uses is never changed under it.
    """
    if interval is not None and crontab is not None:
        raise ValidationError("Give an interval or a crontab, not both.")
    task = (
        PeriodicTask.objects.select_for_update(of=("self",))
        .select_related("interval", "crontab")
        .get(pk=task.pk)
    )
    before = periodic_task_snapshot(task)
    if interval is not None:
        interval_validate(interval)
        row = (
            IntervalSchedule.objects.filter(every=interval.every, period=interval.period)
            .order_by("pk")
            .first()
        )
        task.interval = row or IntervalSchedule.objects.create(every=interval.every, period=interval.period)
        task.crontab = task.solar = task.clocked = None
    elif crontab is not None:
        crontab_validate(crontab)
        fields = {name: getattr(crontab, name).strip() for name in
                  ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")}  # fmt: skip
        row = CrontabSchedule.objects.filter(**fields, timezone=UTC).order_by("pk").first()
        task.crontab = row or CrontabSchedule.objects.create(**fields, timezone=UTC)
        task.interval = task.solar = task.clocked = None
    task.enabled = enabled
    task.save()
    after = periodic_task_snapshot(task)
    if after != before:
        change_record_create(
            actor=actor, action=ChangeAction.UPDATE, instance=task, before=before, after=after
        )
    return task
