"""Plays start when accounts enter a stage: once per entry, suppressed for customers and open deals,
stopped by a regression, resumed (not duplicated) when a stage flaps, every action logged."""

import datetime

import pytest
from django.utils import timezone

from accounts.choices import OpportunityStage
from accounts.models import Persona
from playbooks.choices import PlayKind, RunStatus, StopCondition, TaskStatus
from playbooks.models import PlayAction, PlayRun, PlayTask
from playbooks.triggers import plays_trigger
from revops.choices import Role, TeamKind
from scoring.models import WebhookDelivery, WebhookEndpoint
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory, PersonaFactory
from tests.campaigns.factories import SegmentFactory
from tests.revops.factories import TeamFactory, make_member

from .factories import enter, published_playbook

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision_book():
    return published_playbook(
        "decision",
        {
            "name": "BDR cadence",
            "kind": PlayKind.CADENCE,
            "team_kind": TeamKind.BDR,
            "touches": 5,
            "due_days": 20,
        },
        {"name": "Ads", "kind": PlayKind.DISPLAY_ADS, "team_kind": TeamKind.MARKETING},
    )


def test_entering_a_stage_starts_its_plays_once_with_tasks_for_the_owner(decision_book):
    bdr = make_member(kind=TeamKind.BDR, role=Role.MEMBER, username="bo")
    marketing = TeamFactory(kind=TeamKind.MARKETING)
    account = AccountFactory(owner=bdr)
    enter(account, "decision", from_stage="consideration")
    counts = plays_trigger()
    assert counts["started"] == 2 and counts["tasks"] == 5
    cadence = PlayRun.objects.get(play__name="BDR cadence")
    assert cadence.status == RunStatus.OPEN and cadence.owner == bdr
    tasks = list(cadence.tasks.order_by("sequence"))
    assert [t.sequence for t in tasks] == [1, 2, 3, 4, 5] and all(t.assignee == bdr for t in tasks)
    today = timezone.localdate()
    assert [t.due_on for t in tasks] == [today + datetime.timedelta(days=d) for d in (0, 5, 10, 15, 20)]
    ads = PlayRun.objects.get(play__name="Ads")
    assert ads.tasks.count() == 0 and ads.team == marketing
    assert PlayAction.objects.filter(action="started").count() == 2
    # Again: nothing new (the cursor), and a replayed cursor would still find the unique run.
    assert plays_trigger()["started"] == 0
    assert PlayRun.objects.count() == 2


def test_customers_and_open_deals_are_suppressed_unless_the_play_says_so(decision_book):
    TeamFactory(kind=TeamKind.MARKETING)
    customer, open_deal = AccountFactory(), AccountFactory()
    OpportunityFactory(account=customer, stage=OpportunityStage.WON)
    OpportunityFactory(account=open_deal, stage=OpportunityStage.ENGAGING)
    decision_book.plays.filter(name="Ads").update(include_customers=True)
    for account in (customer, open_deal):
        enter(account, "decision")
    counts = plays_trigger()
    runs = {(r.account_id, r.play.name): r for r in PlayRun.objects.select_related("play")}
    assert runs[(customer.pk, "BDR cadence")].status == RunStatus.SUPPRESSED
    assert runs[(customer.pk, "BDR cadence")].reason == "customer"
    assert runs[(customer.pk, "Ads")].status == RunStatus.OPEN  # the play includes customers
    assert runs[(open_deal.pk, "Ads")].reason == "open deal"
    assert counts["suppressed"] == 3 and counts["started"] == 1
    assert not PlayTask.objects.filter(run__status=RunStatus.SUPPRESSED).exists()
    assert PlayAction.objects.filter(action="suppressed").count() == 3


def test_a_regression_stops_the_plays_and_a_flapping_stage_resumes_rather_than_duplicates(decision_book):
    account = AccountFactory()
    enter(account, "decision", from_stage="consideration")
    plays_trigger()
    enter(account, "consideration", from_stage="decision")
    assert plays_trigger()["stopped"] == 2
    cadence = PlayRun.objects.get(play__name="BDR cadence")
    assert cadence.status == RunStatus.STOPPED and "fell back" in cadence.reason
    assert set(cadence.tasks.values_list("status", flat=True)) == {TaskStatus.STOPPED}
    enter(account, "decision", from_stage="consideration")
    counts = plays_trigger()
    assert counts["resumed"] == 2 and counts["started"] == 0
    cadence.refresh_from_db()
    assert cadence.status == RunStatus.OPEN and PlayRun.objects.count() == 2
    assert set(cadence.tasks.values_list("status", flat=True)) == {TaskStatus.OPEN}
    # Advancing does not stop plays that stop on regression.
    enter(account, "purchase", from_stage="decision")
    assert plays_trigger()["stopped"] == 0


def test_stop_conditions_exit_and_opportunity():
    published_playbook(
        "consideration",
        {"name": "Hub", "kind": PlayKind.CONTENT_HUB, "stop_on": StopCondition.STAGE_EXIT},
        {"name": "Meeting", "kind": PlayKind.MEETING, "stop_on": StopCondition.OPPORTUNITY},
        {"name": "Mail", "kind": PlayKind.DIRECT_MAIL, "stop_on": StopCondition.NONE},
    )
    account = AccountFactory()
    enter(account, "consideration")
    plays_trigger()
    OpportunityFactory(account=account, stage=OpportunityStage.PROSPECTING)
    enter(account, "decision", from_stage="consideration")
    plays_trigger()
    status = dict(PlayRun.objects.values_list("play__name", "status"))
    assert status == {"Hub": "stopped", "Meeting": "stopped", "Mail": "open"}


def test_a_segment_playbook_replaces_the_general_one_for_its_members_and_old_entries_start_nothing():
    segment = SegmentFactory(name="Enterprise")
    published_playbook("awareness", {"name": "General"})
    published_playbook("awareness", {"name": "Enterprise only"}, segment=segment)
    member, other, old = AccountFactory(), AccountFactory(), AccountFactory()
    segment.memberships.create(account=member, joined_at=timezone.now(), version=1)
    enter(member, "awareness")
    enter(other, "awareness")
    enter(old, "awareness", at=timezone.now() - datetime.timedelta(days=60))  # a backfill of history
    counts = plays_trigger()
    assert counts["too_old"] == 1
    assert dict(PlayRun.objects.values_list("account_id", "play__name")) == {
        member.pk: "Enterprise only",
        other.pk: "General",
    }


def test_enrichment_names_the_missing_personas_and_webhooks_go_to_the_team():
    PersonaFactory(name="Economic buyer", required_in_buying_team=True)
    champion = PersonaFactory(name="Champion", required_in_buying_team=True)
    team = TeamFactory(kind=TeamKind.MARKETING)
    WebhookEndpoint.objects.create(team=team, name="CRM", url="https://crm.example.com/hook", secret="s")
    published_playbook(
        "consideration",
        {"name": "Enrich", "kind": PlayKind.ENRICH, "team_kind": TeamKind.MARKETING, "notify_webhook": True},
    )
    account = AccountFactory()
    ContactFactory(account=account, persona=champion)
    enter(account, "consideration")
    counts = plays_trigger()
    assert PlayTask.objects.get().title == "Enrich: Economic buyer"
    assert counts["webhooks"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "play.started" and delivery.payload["data"]["account"]["id"] == account.pk
    assert Persona.objects.count() == 2


def test_a_replay_after_publishing_starts_recent_entries_once_and_never_twice():
    account, other = AccountFactory(), AccountFactory()
    enter(account, "awareness")
    assert plays_trigger()["started"] == 0  # no playbook yet: the cursor moves on
    published_playbook("awareness", {"name": "Ads", "kind": PlayKind.DISPLAY_ADS})
    enter(other, "awareness", at=timezone.now() - datetime.timedelta(days=40))
    counts = plays_trigger(replay_days=14)
    assert counts["started"] == 1 and PlayRun.objects.get().account == account
    assert plays_trigger(replay_days=14)["started"] == 0  # replaying again starts nothing twice
    assert PlayRun.objects.count() == 1
