"""A full rescore spread over processes writes exactly what the single-process run writes (PostgreSQL)."""

import datetime
import os

import pytest
from django.db import models
from django.utils import timezone

from accounts.choices import Seniority
from accounts.ingest import events_ingest
from accounts.models import AccountActivityDaily, Contact
from scoring import rescore
from scoring.models import AccountRuleScore, ContactScore, LifecycleTransition
from scoring.population import anonymous_activity, spec_for
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.revops.factories import UserFactory
from tests.scoring.factories import starter_ruleset

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),  # the worker processes must see the data: committed
]


def _snapshot():
    contacts = sorted(ContactScore.objects.values_list("contact_id", "fit", "engagement", "as_of"))
    accounts = sorted(AccountRuleScore.objects.values_list("account_id", "fit", "engagement", "explanation"))
    moves = sorted(LifecycleTransition.objects.values_list("contact_id", "from_stage", "to_stage", "rule"))
    return contacts, accounts, moves


def test_processes_write_what_one_process_writes(monkeypatch):
    starter_ruleset()
    monkeypatch.setattr(rescore, "CONTACT_CHUNK", 7)  # several chunks of each kind
    monkeypatch.setattr(rescore, "ACCOUNT_CHUNK", 3)
    items = []
    for a in range(8):
        account = AccountFactory(domain=f"firm{a}.com", industry="Software", employee_count=300 + a)
        for c in range(4):
            email = f"p{c}@firm{a}.com"
            ContactFactory(account=account, email=email, seniority=Seniority.VP, department="marketing")
            when = timezone.now() - datetime.timedelta(days=a + c)
            items += [
                {"message_id": f"{email}-{k}", "type": "page_view", "url": "/pricing",
                 "occurred_at": (when - datetime.timedelta(hours=k)).isoformat(), "contact_email": email}
                for k in range(a % 3 + 1)
            ]  # fmt: skip
    events_ingest(actor=UserFactory(), items=items)
    _reset()  # what the outbox drained on commit
    rescore.rescore_all()
    single = _snapshot()
    _reset()
    stats = rescore.rescore_all(processes=2)
    assert stats["contacts"] == 32 and stats["accounts"] == 8
    assert _snapshot() == single
    assert len(single[0]) == 32 and len(single[1]) == 8


def _reset():
    for model in (ContactScore, AccountRuleScore, LifecycleTransition):
        model.objects.all().delete()
    Contact.objects.update(lifecycle_stage="lead")


def test_automatic_moves_are_written_whole_with_their_ids(monkeypatch):
    """The rescore writes its moves in one statement over arrays: every field as the ORM would write it
    (no actor, decision, reason code or checklist), and the objects it hands on carry the rows' ids."""
    ruleset = starter_ruleset()
    handed = []
    monkeypatch.setattr(
        rescore.notifications, "stage_change_notify", lambda *, transitions: handed.extend(transitions)
    )
    items = []
    for a in range(3):
        account = AccountFactory(domain=f"mover{a}.com", industry="Software", employee_count=500)
        for c in range(3):
            email = f"p{c}@mover{a}.com"
            ContactFactory(account=account, email=email, seniority=Seniority.VP, department="marketing")
            items += [
                {"message_id": f"{email}-{k}", "type": "demo_request", "url": "/demo",
                 "occurred_at": (timezone.now() - datetime.timedelta(hours=k)).isoformat(),
                 "contact_email": email}
                for k in range(6)
            ]  # fmt: skip
    events_ingest(actor=UserFactory(), items=items)
    _reset()  # what the outbox drained on commit
    handed.clear()
    rescore.rescore_all()
    rows = list(LifecycleTransition.objects.order_by("id"))
    assert rows and len(rows) == len(handed)
    assert sorted(t.pk for t in handed) == [t.pk for t in rows]
    by_id = {t.pk: t for t in handed}
    for row in rows:
        assert (row.actor_id, row.decision, row.reason_code, row.checklist) == (None, "", "", {})
        assert row.ruleset_id == ruleset.pk and row.rule and row.reason and row.from_stage == "lead"
        kept = by_id[row.pk]
        assert (kept.contact_id, kept.to_stage, kept.at, kept.reason) == (
            row.contact_id, row.to_stage, row.at, row.reason
        )  # fmt: skip
        assert not kept._state.adding
    assert len({row.at for row in rows}) == 1


def test_rollup_keys_read_by_copy_come_back_exactly_as_stored():
    """The engine reads rollups as COPY CSV: keys with commas, quotes, a newline, unicode, a backslash,
    text that looks like a missing value, and the empty key each come back as they are."""
    account = AccountFactory(domain="keys.example")
    day = timezone.now().date() - datetime.timedelta(days=1)
    keys = ["/a,b", 'say "hi"', "line\nbreak", "/préços/über", "back\\slash", "NA", "null", ""]
    AccountActivityDaily.objects.bulk_create(
        [AccountActivityDaily(account=account, day=day, event_type="page_view", key=k, count=2, known_count=0)
         for k in keys]
    )  # fmt: skip
    frame = anonymous_activity(
        spec_for(starter_ruleset()), timezone.now().date(), where="r.account_id = %s", params=[account.pk]
    )
    assert sorted(frame["key"].tolist()) == sorted(keys)
    assert frame["count"].tolist() == [2] * len(keys) and frame["entity"].eq(account.pk).all()


@pytest.mark.parametrize("share", [0.0, 2.0])  # every chunk's history by id range and stamp / by ids
def test_a_full_rescore_writes_a_history_row_for_each_score_it_writes(monkeypatch, share):
    from scoring.models import ContactScoreHistory

    starter_ruleset()
    monkeypatch.setattr(rescore, "CONTACT_CHUNK", 5)
    monkeypatch.setattr(rescore, "HISTORY_BY_RANGE_SHARE", share)
    account = AccountFactory(domain="firm.com", industry="Software", employee_count=400)
    people = [
        ContactFactory(
            account=account, email=f"p{n}@firm.com", seniority=Seniority.VP, department="marketing"
        )
        for n in range(12)
    ]
    ContactScore.objects.all().delete()
    ContactScoreHistory.objects.all().delete()
    rescore.rescore_all()
    fields = ("contact_id", "fit", "engagement", "fit_grade", "excluded", "scored_at")
    scores = sorted(ContactScore.objects.values_list(*fields))
    assert len(scores) == 12 and sorted(ContactScoreHistory.objects.values_list(*fields)) == scores

    Contact.objects.filter(pk__in=[people[1].pk, people[7].pk]).update(seniority=Seniority.ENTRY)
    rescore.rescore_all()  # two scores change: two history rows more, the others' stay one each
    counts = dict(
        ContactScoreHistory.objects.values_list("contact_id")
        .annotate(n=models.Count("id"))
        .values_list("contact_id", "n")
    )
    assert counts == {p.pk: 2 if p in (people[1], people[7]) else 1 for p in people}
    newest = ContactScoreHistory.objects.filter(contact=people[1]).latest("scored_at")
    assert (newest.fit, newest.scored_at) == ContactScore.objects.values_list("fit", "scored_at").get(
        contact=people[1]
    )
