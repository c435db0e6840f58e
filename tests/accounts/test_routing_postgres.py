"""PostgreSQL only: concurrent routings share one round-robin without handing a turn out twice."""

import os
import threading

import pytest
from django.db import connection

from accounts.models import Account, RoutingCursor, Territory
from accounts.routing import accounts_route
from revops.choices import Role, TeamKind
from revops.models import Team
from tests.accounts.factories import AccountFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_concurrent_routings_advance_one_cursor_and_stay_fair(user_in):
    members = [user_in(TeamKind.SALES, Role.MEMBER) for _ in range(3)]
    team = Team.objects.get(kind=TeamKind.SALES)
    Territory.objects.create(name="All", team=team)
    batches = [[a.pk for a in AccountFactory.create_batch(30)] for _ in range(4)]
    overlap = batches[0][:10]  # routed by two threads at once: owned once
    batches.append(overlap)
    barrier = threading.Barrier(len(batches))
    errors: list[Exception] = []

    def run(ids: list[int]) -> None:
        try:
            barrier.wait()
            accounts_route(account_ids=ids, reason="race")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(ids,)) for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert not Account.objects.filter(owner__isnull=True).exists()
    owners = list(Account.objects.values_list("owner", flat=True))
    counts = sorted(owners.count(m.pk) for m in members)
    assert counts == [40, 40, 40]  # 120 accounts, no turn handed out twice, none skipped
    assert RoutingCursor.objects.get(team=team).assigned == 120
