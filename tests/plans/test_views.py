"""The plan pages as people use them: create from history, edit (overrides need a reason), the workflow's
buttons shown only to who may press them, attainment and the forecast on the page."""

import datetime
import json

import pytest
from django.test import Client

from accounts.choices import OpportunityStage
from accounts.models import Channel
from plans import services
from plans.models import RevenuePlan
from revops.choices import Role, TeamKind
from tests.accounts.factories import OpportunityFactory
from tests.revops.factories import make_member

pytestmark = pytest.mark.django_db
D = datetime.date


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people():
    return {
        "editor": make_member(kind=TeamKind.MARKETING, role=Role.MEMBER, username="mia"),
        "mlead": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mark"),
        "slead": make_member(kind=TeamKind.SALES, role=Role.LEAD, username="sam"),
        "viewer": make_member(kind=TeamKind.SALES, role=Role.VIEWER, username="vic"),
    }


@pytest.fixture
def deals():
    inbound = Channel.objects.get(slug="inbound")
    for i in range(6):
        created = D(2025, 2 + i, 3)
        OpportunityFactory(
            channel=inbound,
            amount=20_000,
            created_date=created,
            close_date=created + datetime.timedelta(days=60),
            stage=OpportunityStage.WON if i % 3 else OpportunityStage.LOST,
        )


def new_plan(client, **extra) -> RevenuePlan:
    data = {"period_kind": "quarter", "period_start": "2026-01-01", "revenue_target": "800000", **extra}
    answer = client.post("/plans/add/", data)
    assert answer.status_code == 302, answer.content
    return RevenuePlan.objects.latest("id")


def test_a_plan_is_created_from_history_and_its_page_shows_what_it_implies(people, deals):
    client = browser(people["editor"])
    assert client.get("/plans/").status_code == 200
    plan = new_plan(client)
    page = client.get(f"/plans/{plan.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Q1 2026 v1" in text
    # 4 won of 6 at 20,000, cycles of 60 days: 800,000 / (2/3) = 1,200,000 of pipeline, 60 opportunities.
    assert 'id="pipeline-needed">$1,200,000' in text and 'id="opportunities-needed">60' in text
    months = json.loads(page.context["chart_months"] and json.dumps(page.context["chart_months"]))
    assert months["labels"][0] == "2025-11"  # 1 January minus 60 days
    assert sum(months["quota"]) == pytest.approx(1_200_000, abs=len(months["quota"]))
    # The window to create pipeline in ends a cycle before the quarter does: 31 March minus 60 days.
    assert page.context["chart_cone"]["labels"][-1] == "2026-01-30"
    assert page.context["chart_cone"]["expected"][-1] is not None
    assert client.get("/plans/").content.decode().count(f"/plans/{plan.pk}/") == 1


def test_editing_an_override_needs_its_reason_and_a_bad_edit_changes_nothing(people, deals):
    client = browser(people["editor"])
    plan = new_plan(client)
    form = client.get(f"/plans/{plan.pk}/edit/")
    assert form.status_code == 200
    base = {
        "revision": plan.revision,
        "name": plan.name,
        "revenue_target": "800000",
        "history_start": plan.history_start.isoformat(),
        "history_end": plan.history_end.isoformat(),
        f"share-{Channel.objects.get(slug='inbound').pk}": "100",
    }
    bad = client.post(f"/plans/{plan.pk}/edit/", {**base, "win_rate": "0.5"})
    assert bad.status_code == 400 and "Say why you override" in bad.content.decode()
    plan.refresh_from_db()
    assert plan.revision == 1 and plan.win_rate is None
    ok = client.post(f"/plans/{plan.pk}/edit/", {**base, "win_rate": "0.5", "win_rate_note": "Harder market"})
    assert ok.status_code == 302
    plan.refresh_from_db()
    assert plan.revision == 2 and plan.win_rate == 0.5
    assert 'id="pipeline-needed">$1,600,000' in client.get(f"/plans/{plan.pk}/").content.decode()
    stale = client.post(f"/plans/{plan.pk}/edit/", {**base, "name": "Stale"})
    assert stale.status_code == 409 and RevenuePlan.objects.get(pk=plan.pk).name != "Stale"


def test_approve_is_shown_only_to_leads_who_may_approve_never_to_the_proposer(people, deals):
    proposer = browser(people["mlead"])
    plan = new_plan(proposer)
    assert proposer.post(f"/plans/{plan.pk}/propose/").status_code == 302
    plan.refresh_from_db()
    assert plan.status == "proposed"

    def buttons(user) -> set[str]:
        text = browser(user).get(f"/plans/{plan.pk}/").content.decode()
        return {
            b for b in ("approve-plan", "publish-plan", "propose-plan", "reject-form") if f'id="{b}"' in text
        }

    assert buttons(people["mlead"]) == set()  # four eyes: the proposer sees no Approve
    assert buttons(people["slead"]) == {"approve-plan", "reject-form"}
    assert buttons(people["viewer"]) == set()
    # The proposer pressing it anyway is refused, and nothing changes.
    assert proposer.post(f"/plans/{plan.pk}/approve/").status_code == 302
    assert plan.approvals.count() == 0
    services.plan_approve(plan=plan, user=people["slead"])
    other_marketing_lead = make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mona")
    assert "approve-plan" in buttons(other_marketing_lead)
    browser(other_marketing_lead).post(f"/plans/{plan.pk}/approve/")
    plan.refresh_from_db()
    assert plan.status == "approved" and "publish-plan" in buttons(people["slead"])
    browser(people["slead"]).post(f"/plans/{plan.pk}/publish/")
    plan.refresh_from_db()
    assert plan.status == "published"


def test_a_viewer_reads_plans_but_cannot_create_or_act(people, deals):
    plan = new_plan(browser(people["editor"]))
    viewer = browser(people["viewer"])
    assert viewer.get(f"/plans/{plan.pk}/").status_code == 200
    assert (
        viewer.post("/plans/add/", {"period_start": "2026-04-01", "revenue_target": "1"}).status_code == 403
    )
    assert viewer.get(f"/plans/{plan.pk}/edit/").status_code == 403
    assert viewer.post(f"/plans/{plan.pk}/propose/").status_code == 403
    assert browser(people["editor"]).post(f"/plans/{plan.pk}/nonsense/").status_code == 404


def test_channels_left_at_zero_percent_are_not_part_of_the_plan(people, deals):
    client = browser(people["editor"])
    plan = new_plan(client)
    inbound, events = Channel.objects.get(slug="inbound"), Channel.objects.get(slug="events")
    answer = client.post(
        f"/plans/{plan.pk}/edit/",
        {
            "revision": plan.revision,
            "name": plan.name,
            "revenue_target": "800000",
            "history_start": plan.history_start.isoformat(),
            "history_end": plan.history_end.isoformat(),
            f"share-{inbound.pk}": "100",
            f"share-{events.pk}": "0",
            **{f"share-{c.pk}": "0" for c in Channel.objects.exclude(pk__in=[inbound.pk, events.pk])},
            f"capacity-{events.pk}": "",
        },
    )
    assert answer.status_code == 302
    assert [a.channel.slug for a in plan.allocations.all()] == ["inbound"]


def test_a_draft_for_the_next_period_based_on_this_ones_is_named_for_its_own_period(people, deals):
    client = browser(people["editor"])
    plan = new_plan(client)
    following = services.plan_draft_create(
        user=people["editor"], period_start=D(2026, 4, 1), based_on=plan, data={"revenue_target": 900_000}
    )
    assert (plan.name, following.name) == ("Revenue plan Q1 2026", "Revenue plan Q2 2026")
    assert following.history_end == D(2026, 3, 31) and following.based_on_id == plan.pk
    plan.name = "Stretch plan"
    plan.save(update_fields=["name"])
    assert services.plan_draft_create(
        user=people["editor"], period_start=D(2026, 7, 1), based_on=plan
    ).name == ("Stretch plan")
