"""On PostgreSQL, two triggers at once (two workers, beat and a rescore) start each play once: the cursor
row is locked per batch, and a run is unique per play and stage entry."""

import threading

import pytest
from django.db import connection, connections

from playbooks.choices import PlayKind
from playbooks.models import PlayRun
from playbooks.triggers import plays_trigger
from tests.accounts.factories import AccountFactory

from .factories import enter, published_playbook


@pytest.mark.django_db(transaction=True)
def test_two_triggers_at_once_start_each_play_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    published_playbook("decision", {"name": "Call", "kind": PlayKind.MEETING})
    accounts = [AccountFactory() for _ in range(60)]
    for account in accounts:
        enter(account, "decision")
    results, errors = [], []

    def work():
        try:
            results.append(plays_trigger(batch=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r["started"] for r in results) == 60
    assert PlayRun.objects.count() == 60 and PlayRun.objects.values("account").distinct().count() == 60
