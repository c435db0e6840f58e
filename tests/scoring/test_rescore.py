"""Rescoring against the database: batch and incremental agree, only changes are written, the lifecycle
moves by itself, and an ingested event rescores its contact through the outbox."""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.choices import LifecycleStage, Seniority
from accounts.ingest import events_ingest
from accounts.models import AccountActivityDaily, Contact
from scoring.choices import RulesetStatus
from scoring.models import (
    AccountRuleScore,
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    Ruleset,
    ScoringOutbox,
)
from scoring.population import spec_for
from scoring.rescore import contact_score_explanation, outbox_drain, rescore_all, rescore_contacts
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.revops.factories import UserFactory
from tests.scoring.factories import starter_ruleset

pytestmark = pytest.mark.django_db
TODAY = timezone.now().date()


def _event(n, *, email=None, domain=None, kind="page_view", url="/pricing", days_ago=0, topic=""):
    when = timezone.now() - datetime.timedelta(days=days_ago)
    item = {"message_id": f"m-{n}", "type": kind, "occurred_at": when.isoformat(), "url": url}
    if topic:
        item["topic"] = topic
    if email:
        item["contact_email"] = email
    if domain:
        item["account_domain"] = domain
    return item


def _ingest(items):
    return events_ingest(actor=UserFactory(), items=items)


@pytest.fixture
def world():
    """A fitting buyer who looked at pricing a lot, a colleague, a free-mail sign-up and a student."""
    acme = AccountFactory(domain="acme.com", industry="Software", employee_count=800)
    buyer = ContactFactory(account=acme, email="vp@acme.com", seniority=Seniority.VP, department="marketing")
    colleague = ContactFactory(
        account=acme, email="eng@acme.com", seniority=Seniority.INDIVIDUAL, department="engineering"
    )
    freemail = ContactFactory(account=None, email="someone@gmail.com", seniority=Seniority.VP)
    student = ContactFactory(account=acme, email="kid@acme.com", title="Student", seniority=Seniority.ENTRY)
    items = [_event(i, email="vp@acme.com", days_ago=i) for i in range(4)]
    items += [_event(10, email="vp@acme.com", kind="webinar", url="/webinars/live-demo", days_ago=2)]
    items += [_event(20 + i, email="someone@gmail.com", days_ago=i) for i in range(4)]
    items += [_event(30 + i, email="kid@acme.com", url="/careers", days_ago=i) for i in range(3)]
    items += [
        _event(40 + i, domain="acme.com", url="/compare/beacon-vs-6sense", days_ago=1) for i in range(2)
    ]
    _ingest(items)
    return {"acme": acme, "buyer": buyer, "colleague": colleague, "freemail": freemail, "student": student}


def _scores():
    return {
        s.contact_id: (
            s.fit, s.engagement, s.fit_grade, s.engagement_grade, s.excluded,
            contact_score_explanation(s)["explanation"],
        )
        for s in ContactScore.objects.all()
    }  # fmt: skip


def test_batch_rescore_scores_explains_and_moves_the_lifecycle(world):
    stats = rescore_all()
    assert stats["contacts"] == 4 and stats["contacts_written"] == 4
    buyer = ContactScore.objects.get(contact=world["buyer"])
    # VP 15 + marketing 10 + 800 employees 15 + Software 10 = 50 fit → grade A
    assert buyer.fit == 50 and buyer.fit_grade == "A"
    why = contact_score_explanation(buyer)
    assert why["current"]  # recomputed on read, it gives the stored numbers back
    fired = {name for _id, name, _points in why["explanation"]}
    assert {"Decision-maker seniority", "Pricing page", "Webinar attended"} <= fired
    assert buyer.engagement > 30  # pricing decays over days, capped at 30; plus the webinar
    world["buyer"].refresh_from_db()
    assert world["buyer"].lifecycle_stage == LifecycleStage.MQL
    transition = LifecycleTransition.objects.get(contact=world["buyer"])
    assert (transition.from_stage, transition.to_stage, transition.rule) == ("lead", "mql", "MQL definition")
    assert transition.ruleset.number == 1 and transition.actor is None and "fit 50" in transition.reason
    # figures rounded for people: "engagement 41.6 ≥ 30", not "41.6321 ≥ 30"
    assert re.fullmatch(r"fit 50 ≥ \S+ and engagement \d+(\.\d)? ≥ \S+", transition.reason)

    free = ContactScore.objects.get(contact=world["freemail"])
    assert free.excluded == "free-mail address (gmail.com)"
    world["freemail"].refresh_from_db()
    assert world["freemail"].lifecycle_stage == LifecycleStage.DISQUALIFIED
    student = ContactScore.objects.get(contact=world["student"])
    assert student.excluded.startswith("title excluded") and student.engagement < 0  # careers pages

    account = AccountRuleScore.objects.get(account=world["acme"])
    assert account.fit == 50  # its best-fitting contact
    # two comparison-page visits yesterday by nobody known: 8 + 8, at a 21-day half-life
    assert account.anonymous_engagement == pytest.approx(16 * 0.5 ** (1 / 21), abs=1e-6)
    assert account.engagement == pytest.approx(
        account.anonymous_engagement
        + buyer.engagement
        + ContactScore.objects.get(contact=world["colleague"]).engagement
    )


def test_second_rescore_writes_nothing_and_history_keeps_changes(world):
    rescore_all()
    history = ContactScoreHistory.objects.count()
    again = rescore_all()
    assert again["contacts_written"] == 0 and again["accounts_written"] == 0 and again["moved"] == 0
    assert ContactScoreHistory.objects.count() == history
    # a week later the pricing visits have decayed: scores change, history grows
    later = rescore_all(as_of=TODAY + datetime.timedelta(days=7))
    assert later["contacts_written"] >= 1
    assert ContactScoreHistory.objects.filter(contact=world["buyer"]).count() == 2


def test_incremental_path_gives_the_batch_numbers(world):
    rescore_all()
    batch = _scores()
    batch_accounts = list(
        AccountRuleScore.objects.values_list("account_id", "fit", "engagement", "explanation")
    )
    ContactScore.objects.all().delete()
    AccountRuleScore.objects.all().delete()
    rescore_contacts(contact_ids=Contact.objects.values_list("id", flat=True))
    assert _scores() == batch
    assert (
        list(AccountRuleScore.objects.values_list("account_id", "fit", "engagement", "explanation"))
        == batch_accounts
    )


def test_recycle_when_engagement_decays_and_fast_track_to_sal(world):
    rescore_all()
    # months later the MQL's engagement has decayed below half the MQL minimum: recycled
    rescore_all(as_of=TODAY + datetime.timedelta(days=200))
    world["buyer"].refresh_from_db()
    assert world["buyer"].lifecycle_stage == LifecycleStage.RECYCLED
    # the colleague requests a demo: straight to SAL, whatever the points
    _ingest([_event(99, email="eng@acme.com", kind="demo_request", url="/demo")])
    rescore_contacts(contact_ids=[world["colleague"].pk])
    world["colleague"].refresh_from_db()
    assert world["colleague"].lifecycle_stage == LifecycleStage.SAL
    move = LifecycleTransition.objects.filter(contact=world["colleague"]).latest("at")
    assert move.rule == "fast-track" and re.fullmatch(
        r"Demo request on \d{1,2} [A-Z][a-z]{2} \d{4}", move.reason
    )


def test_a_person_moving_the_stage_meanwhile_wins(world, monkeypatch):
    """The automatic move only applies where the stage is still what the decision saw."""
    from scoring import rescore

    original = rescore._stages_set

    def racing(moves, now):
        Contact.objects.filter(pk=world["buyer"].pk).update(lifecycle_stage=LifecycleStage.SQL)
        return original(moves, now)

    monkeypatch.setattr(rescore, "_stages_set", racing)
    rescore_all()
    world["buyer"].refresh_from_db()
    assert world["buyer"].lifecycle_stage == LifecycleStage.SQL
    assert not LifecycleTransition.objects.filter(contact=world["buyer"], to_stage="mql").exists()


def test_no_published_ruleset_is_a_clear_error(world):
    Ruleset.objects.update(status=RulesetStatus.SUPERSEDED)
    with pytest.raises(Exception, match="No published ruleset"):
        rescore_all()


def test_spec_compiles_the_starter_rules():
    spec = spec_for(Ruleset.objects.get(status=RulesetStatus.PUBLISHED))
    assert len(spec.fit_rules) == 7 and len(spec.engagement_rules) == 13
    assert spec.lookback_days == 120 and "gmail.com" in spec.free_mail_domains


@pytest.mark.django_db(transaction=True)
def test_an_ingested_event_rescores_its_contact_through_the_outbox():
    starter_ruleset()  # transactional tests flush the migrations' data
    acme = AccountFactory(domain="acme.com", industry="Software", employee_count=800)
    buyer = ContactFactory(account=acme, email="vp@acme.com", seniority=Seniority.VP, department="marketing")
    outbox_drain()  # the factory's saves queued the contact; in tests the queue drains on commit anyway
    before = ContactScore.objects.get(contact=buyer)
    assert before.engagement == 0
    _ingest([_event(1, email="vp@acme.com", kind="demo_request", url="/demo")])
    # eager Celery ran the drain on commit: the score and the stage are current
    after = ContactScore.objects.get(contact=buyer)
    assert after.engagement == 30.0
    assert not ScoringOutbox.objects.filter(processed_at__isnull=True).exists()
    buyer.refresh_from_db()
    assert buyer.lifecycle_stage == LifecycleStage.SAL
    assert AccountActivityDaily.objects.filter(account=acme).exists()


def test_a_past_score_is_reproduced_with_the_version_that_made_it(world, client_for, viewer):
    rescore_all(as_of=TODAY - datetime.timedelta(days=10))  # before most of the pricing visits
    rescore_all()
    contact = world["buyer"]
    past = client_for(viewer).get(
        f"/api/contact-scores/{contact.pk}/as-of/", {"date": (TODAY - datetime.timedelta(days=5)).isoformat()}
    )
    assert past.status_code == 200, past.content
    body = past.json()
    assert (
        body["as_of"] == (TODAY - datetime.timedelta(days=10)).isoformat() and body["ruleset"]["number"] == 1
    )
    assert body["matches"] and body["stored"]["engagement"] == body["reproduced"]["engagement"]
    assert body["stored"]["engagement"] < ContactScore.objects.get(contact=contact).engagement
    client = client_for(viewer)
    assert client.get(f"/api/contact-scores/{contact.pk}/as-of/", {"date": "soon"}).status_code == 400
    early = (TODAY - datetime.timedelta(days=400)).isoformat()
    assert client.get(f"/api/contact-scores/{contact.pk}/as-of/", {"date": early}).status_code == 404
