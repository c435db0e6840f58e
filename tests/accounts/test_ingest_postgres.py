"""PostgreSQL only: the COPY path, and replays racing each other count every event exactly once."""

import os
import threading

import psycopg
import pytest
from django.db import connection
from django.db.models import Sum

from accounts.ingest import STAGE_TABLE, events_ingest
from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, EngagementEvent
from tests.accounts.factories import AccountFactory
from tests.revops.factories import UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
]


def batch(prefix: str, n: int) -> list[dict]:
    """Known and new accounts, new contacts shared between events, several rollup keys."""
    items = []
    for i in range(n):
        data = {"message_id": f"{prefix}-{i}", "type": "page_view", "occurred_at": "2025-05-01T10:00:00Z"}
        if i % 3 == 0:
            data["account_domain"] = "known.com"
        elif i % 3 == 1:
            data["account_domain"] = f"new{i % 7}.com"
        else:
            data["contact_email"] = f"person{i % 11}@team{i % 11 % 5}.io"
        data["url"] = f"/blog/{i % 4}"
        items.append(data)
    return items


def race(*batches: list[dict]) -> list:
    """Ingest the batches at the same moment, each from its own thread and connection."""
    user = UserFactory()
    barrier = threading.Barrier(len(batches))
    results: list = [None] * len(batches)

    def run(slot: int, items: list[dict]) -> None:
        try:
            barrier.wait()
            results[slot] = events_ingest(actor=user, items=items)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[slot] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(slot, items)) for slot, items in enumerate(batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(isinstance(r, Exception) for r in results), results
    return results


def assert_counted_once(message_ids: set[str]) -> None:
    assert set(EngagementEvent.objects.values_list("message_id", flat=True)) == message_ids
    assert AccountActivityDaily.objects.aggregate(n=Sum("count"))["n"] == len(message_ids)
    known = EngagementEvent.objects.filter(contact__isnull=False).count()
    assert AccountActivityDaily.objects.aggregate(n=Sum("known_count"))["n"] == known
    assert ContactActivityDaily.objects.aggregate(n=Sum("count"))["n"] == known


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_write_each_event_once():
    AccountFactory(domain="known.com")
    items = batch("race", 600)

    for _ in range(3):
        results = race(items, items)
        assert_counted_once({i["message_id"] for i in items})

    assert sum(r.created for r in results) == 0  # the later rounds were pure replays
    assert Account.objects.count() == 1 + 7 + 5
    assert Contact.objects.count() == 11
    assert Account.objects.filter(domain="new3.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_writes_split_the_work_and_create_each_record_once():
    AccountFactory(domain="known.com")
    items = batch("first", 900)

    results = race(items, items)

    assert sum(r.created for r in results) == 900
    assert sum(r.accounts_created for r in results) == 7 + 5
    assert sum(r.contacts_created for r in results) == 11
    assert_counted_once({i["message_id"] for i in items})


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_opposite_orders_do_not_deadlock():
    AccountFactory(domain="known.com")
    items = batch("overlap", 900)
    first, second = items[:600], list(reversed(items[300:]))

    results = race(first, second)

    assert sum(r.created for r in results) == 900
    assert_counted_once({i["message_id"] for i in items})


@pytest.mark.django_db
def test_events_go_through_copy_into_the_staging_table(monkeypatch, member):
    statements: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self, statement, *args, **kwargs):
        statements.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    result = events_ingest(actor=member, items=batch("copy", 30))

    assert result.created == 30
    assert len(statements) == 1
    assert statements[0].startswith(f"COPY {STAGE_TABLE} (")
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
def test_an_account_deleted_under_a_batch_fails_the_batch_so_no_rollup_names_a_missing_row(monkeypatch):
    """The rollups' references are not checked by the database (accounts.models.AccountActivityDaily):
    their ids come from the events of the same statement, whose own foreign keys refuse the batch."""
    from django.db import IntegrityError

    from accounts import ingest

    account = AccountFactory(domain="gone.com")
    user = UserFactory()
    resolve = ingest._campaigns_resolve

    def delete(pk: int) -> None:  # another session (a thread's own connection), committed at once
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {Account._meta.db_table} WHERE id = %s", [pk])
        finally:
            connection.close()

    def delete_meanwhile(resolved):  # after validation, before the write
        thread = threading.Thread(target=delete, args=(account.pk,))
        thread.start()
        thread.join(timeout=30)
        resolve(resolved)

    monkeypatch.setattr(ingest, "_campaigns_resolve", delete_meanwhile)
    items = [
        {"message_id": f"gone-{i}", "type": "page_view", "occurred_at": "2025-05-01T10:00:00Z",
         "account_id": account.pk, "url": f"/p/{i}"}
        for i in range(3)
    ]  # fmt: skip
    with pytest.raises(IntegrityError):
        events_ingest(actor=user, items=items)
    assert not EngagementEvent.objects.exists()
    assert not AccountActivityDaily.objects.exists() and not ContactActivityDaily.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_or_a_contact_takes_their_rollups():
    AccountFactory(domain="known.com")
    events_ingest(actor=UserFactory(), items=batch("del", 30))
    contact = Contact.objects.filter(daily_activity__isnull=False).first()
    contact.delete()
    assert not ContactActivityDaily.objects.filter(contact_id=contact.pk).exists()
    account = Account.objects.get(domain="known.com")
    assert AccountActivityDaily.objects.filter(account=account).exists()
    account.delete()
    assert not AccountActivityDaily.objects.filter(account_id=account.pk).exists()
    assert not ContactActivityDaily.objects.filter(account_id=account.pk).exists()
