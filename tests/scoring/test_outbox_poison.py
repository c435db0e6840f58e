"""Failure and poison in the scoring outbox (issue 12, item 6): one row that fails no longer stops the
outbox. The failing row is found by halving the batch, retried with back-off a bounded number of times
(the beat sweep picks it up once its wait has elapsed), then parked with its error in words — on the
outbox page (revenue operations, from the navigation) and in admin, both with an audited replay —
while every other row drains. (A bad account in a *full* rescore fails its row, not the job:
tests/scoring/test_messy_data.py::test_a_row_that_fails_is_parked_with_its_name_and_the_rest_are_scored.)
"""

import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from revops.models import ChangeRecord
from scoring import rescore
from scoring.models import ContactScore, ScoringOutbox
from tests.accounts.factories import ContactFactory
from tests.scoring.factories import starter_ruleset

pytestmark = pytest.mark.django_db


@pytest.fixture
def poisoned(monkeypatch, settings):
    """Three contacts, each in its own outbox row; rescoring the middle one raises (as the NaN explanation
    of an account without an employee count once did)."""
    settings.SCORING_INCREMENTAL = False  # the factories' saves queue nothing: the rows are made here
    starter_ruleset()
    good1, bad, good2 = ContactFactory(), ContactFactory(), ContactFactory()
    rows = [ScoringOutbox.objects.create(contact_ids=[c.pk]) for c in (good1, bad, good2)]
    real = rescore.rescore_contacts

    def breaks_on_one(*, contact_ids=(), account_ids=(), **kwargs):
        if bad.pk in set(contact_ids):
            raise ValueError(f"Out of range float values are not JSON compliant: contact {bad.pk}")
        return real(contact_ids=contact_ids, account_ids=account_ids, **kwargs)

    monkeypatch.setattr(rescore, "rescore_contacts", breaks_on_one)
    return rows, (good1, bad, good2)


def _elapse(row: ScoringOutbox) -> None:
    """Its back-off is over (as if the wait had passed)."""
    past = timezone.now() - datetime.timedelta(seconds=1)
    ScoringOutbox.objects.filter(pk=row.pk).update(next_attempt_at=past)


def test_one_failing_row_waits_with_back_off_and_the_rest_drains(poisoned):
    (first, bad_row, last), (good1, bad, good2) = poisoned
    assert rescore.outbox_drain() == 2
    first.refresh_from_db(), bad_row.refresh_from_db(), last.refresh_from_db()
    assert first.processed_at and last.processed_at  # the later row drained past the bad one
    assert set(ContactScore.objects.values_list("contact_id", flat=True)) == {good1.pk, good2.pk}
    assert bad_row.processed_at is None and bad_row.parked_at is None and bad_row.attempts == 1
    reason = f"ValueError: Out of range float values are not JSON compliant: contact {bad.pk}"
    assert bad_row.last_error == reason
    wait = (bad_row.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30  # the first back-off

    # The sweep (beat: the drain task every 10 s) leaves it alone until its wait is over …
    assert rescore.outbox_drain_task() == 0
    bad_row.refresh_from_db()
    assert bad_row.attempts == 1
    # … then tries it again, with a wait twice as long each time, and parks it after the fifth failure.
    waits = []
    for attempt in range(2, 6):
        _elapse(bad_row)
        assert rescore.outbox_drain_task() == 0
        bad_row.refresh_from_db()
        assert bad_row.attempts == attempt
        if bad_row.parked_at is None:
            waits.append(round((bad_row.next_attempt_at - timezone.now()).total_seconds() / 30))
    assert waits == [2, 4, 8]
    assert bad_row.parked_at is not None and bad_row.next_attempt_at is None
    assert not rescore.outbox_pending().exists()

    # Later rows are not held back by the parked one.
    new = ScoringOutbox.objects.create(contact_ids=[good1.pk])
    assert rescore.outbox_drain() == 1
    new.refresh_from_db()
    assert new.processed_at is not None


def test_many_rows_failing_together_each_count_an_attempt_and_nothing_else_is_lost(poisoned, monkeypatch):
    rows, _contacts = poisoned

    def everything_breaks(**kwargs):
        raise ValueError("the engine is broken")

    monkeypatch.setattr(rescore, "rescore_contacts", everything_breaks)
    assert rescore.outbox_drain() == 0
    for row in rows:
        row.refresh_from_db()
        assert (row.attempts, row.processed_at) == (1, None)
        assert row.last_error == "ValueError: the engine is broken"


def test_parked_rows_are_shown_with_their_error_and_replayed_from_the_page(poisoned, client, revops_admin):
    (_first, bad_row, _last), (_g1, bad, _g2) = poisoned
    ScoringOutbox.objects.filter(pk=bad_row.pk).update(attempts=4)
    rescore.outbox_drain()
    bad_row.refresh_from_db()
    assert bad_row.parked_at is not None

    client.force_login(revops_admin)
    home = client.get(reverse("scoring:ruleset_list")).content.decode()
    assert reverse("scoring:outbox") in home  # reachable from the navigation
    page = client.get(reverse("scoring:outbox")).content.decode()
    assert f"outbox-row-{bad_row.pk}" in page and f"contact {bad.pk}" in page and "Parked (1)" in page

    response = client.post(reverse("scoring:outbox_replay"), {"row": [bad_row.pk]})
    assert response.status_code == 302
    bad_row.refresh_from_db()
    # Replayed: fresh attempts, in the queue now (the after-commit drain, or the sweep, takes it).
    assert (bad_row.parked_at, bad_row.attempts, bad_row.next_attempt_at) == (None, 0, None)
    assert list(rescore.outbox_pending()) == [bad_row]
    record = ChangeRecord.objects.get(object_id=str(bad_row.pk), object_type__model="scoringoutbox")
    assert record.actor == revops_admin and record.before["parked_at"] and not record.after["parked_at"]


def test_only_revenue_operations_see_and_replay_the_outbox(client, member, poisoned):
    client.force_login(member)
    assert client.get(reverse("scoring:outbox")).status_code == 403
    assert client.post(reverse("scoring:outbox_replay"), {"all": "1"}).status_code == 403
    assert reverse("scoring:outbox") not in client.get(reverse("scoring:ruleset_list")).content.decode()


def test_admin_lists_parked_rows_and_replays_them_audited(poisoned, client, revops_admin):
    (_first, bad_row, _last), _contacts = poisoned
    ScoringOutbox.objects.filter(pk=bad_row.pk).update(
        attempts=5, parked_at=timezone.now(), last_error="ValueError: boom"
    )
    client.force_login(revops_admin)
    url = reverse("admin:scoring_scoringoutbox_changelist")
    listing = client.get(url + "?parked_at__isnull=False")
    assert listing.status_code == 200 and b"ValueError: boom" in listing.content
    response = client.post(url, {"action": "replay", "_selected_action": [bad_row.pk]})
    assert response.status_code == 302
    bad_row.refresh_from_db()
    assert bad_row.parked_at is None
    assert ChangeRecord.objects.filter(object_id=str(bad_row.pk), actor=revops_admin).exists()


def test_the_resume_sweep_runs_every_minute_unless_someone_changed_it():
    migration = importlib.import_module("scoring.migrations.0011_outbox_retry")
    task = PeriodicTask.objects.get(name=migration.RESUME)
    assert (task.interval.every, task.interval.period) == (1, "minutes")
    # An installation from before: every 5 minutes is retimed; a schedule someone edited is left alone.
    task.interval = IntervalSchedule.objects.create(every=5, period="minutes")
    task.expire_seconds = 300
    task.save()
    migration.resume_every_minute(django_apps, None)
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period, task.expire_seconds) == (1, "minutes", 60)
    task.interval = IntervalSchedule.objects.create(every=10, period="minutes")
    task.save()
    migration.resume_every_minute(django_apps, None)
    task.refresh_from_db()
    assert task.interval.every == 10
