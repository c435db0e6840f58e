"""/api/revenue-plans/ as an integration and the teams use it: a draft from history, edits under the
ETag, sign-off by a marketing lead and a sales lead (four eyes), publishing per period, attainment."""

import datetime

import pytest
from rest_framework.test import APIClient

from accounts.choices import OpportunityStage
from accounts.models import Channel
from revops.choices import Role, TeamKind
from tests.accounts.factories import OpportunityFactory
from tests.revops.factories import make_member

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/revenue-plans/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def people():
    return {
        "editor": make_member(kind=TeamKind.MARKETING, role=Role.MEMBER, username="mia"),
        "mlead": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mark"),
        "mlead2": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mona"),
        "slead": make_member(kind=TeamKind.SALES, role=Role.LEAD, username="sam"),
        "viewer": make_member(kind=TeamKind.SALES, role=Role.VIEWER, username="vic"),
        "bdr_lead": make_member(kind=TeamKind.BDR, role=Role.LEAD, username="bea"),
    }


@pytest.fixture
def history():
    """2025's deals: inbound wins 3 of 4 at 10,000; outbound 1 of 4; cycles of 30 days."""
    inbound, outbound = Channel.objects.get(slug="inbound"), Channel.objects.get(slug="outbound")
    for channel, won in ((inbound, 3), (outbound, 1)):
        for i in range(4):
            created = D(2025, 3 + i, 1)
            OpportunityFactory(
                channel=channel,
                amount=10_000,
                created_date=created,
                close_date=created + datetime.timedelta(days=30),
                stage=OpportunityStage.WON if i < won else OpportunityStage.LOST,
            )


def create(client, **extra):
    return client.post(URL, {"period_kind": "quarter", "period_start": "2026-01-01", **extra}, format="json")


def test_a_draft_works_the_target_back_to_pipeline_created_a_cycle_ahead(people, history):
    answer = create(client_for(people["editor"]), revenue_target="1000000")
    assert answer.status_code == 201, answer.json()
    plan = answer.json()
    assert plan["status"] == "draft" and plan["number"] == 1 and plan["scope_label"] == "Q1 2026"
    assert (plan["history_start"], plan["history_end"]) == ("2025-01-01", "2025-12-31")
    figures = plan["figures"]
    assert figures["win_rate"] == 0.5 and figures["deal_size"] == 10_000 and figures["cycle_days"] == 30
    assert figures["sources"] == {"win_rate": "history", "deal_size": "history", "cycle_days": "history"}
    assert figures["pipeline_needed"] == 2_000_000 and figures["opportunities_needed"] == 200
    # 1 January minus 30 days, to 31 March minus 30 days: pipeline created later cannot close in the quarter.
    assert (figures["create_from"], figures["create_until"]) == ("2025-12-02", "2026-03-01")
    assert [m["month"] for m in figures["schedule"]] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    # Shares suggested from history: inbound's pipeline converts three times as well as outbound's.
    shares = {c["channel"]: c["share"] for c in figures["channels"]}
    assert shares["Inbound"] == pytest.approx(0.75) and shares["Outbound"] == pytest.approx(0.25)
    assert shares["Events"] == 0
    assert answer.headers["ETag"] == f'"plan-{plan["id"]}-r1"'


def test_overrides_need_a_note_and_shares_must_add_up_and_bad_input_changes_nothing(people, history):
    client = client_for(people["editor"])
    plan = create(client, revenue_target="1000000").json()
    url, etag = f"{URL}{plan['id']}/", f'"plan-{plan["id"]}-r1"'
    bad = client.patch(url, {"win_rate": 0.4}, format="json", HTTP_IF_MATCH=etag)
    assert bad.status_code == 400 and "win_rate_note" in bad.json()
    bad = client.patch(url, {"win_rate": 1.5, "win_rate_note": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert bad.status_code == 400 and "win_rate" in bad.json()
    bad = client.patch(
        url,
        {"allocations": [{"channel": "inbound", "share": 0.5}, {"channel": "outbound", "share": 0.2}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert bad.status_code == 400 and "70.0%" in bad.json()["allocations"][0]
    bad = client.patch(
        url, {"allocations": [{"channel": "nope", "share": 1}]}, format="json", HTTP_IF_MATCH=etag
    )
    assert bad.status_code == 400 and "unknown channel" in bad.json()["allocations"][0]
    assert client.get(url).json()["revision"] == 1  # nothing changed
    assert client.patch(url, {"name": "x"}, format="json").status_code == 428
    ok = client.patch(
        url,
        {
            "win_rate": 0.4,
            "win_rate_note": "New pricing: expect more losses",
            "allocations": [
                {"channel": "inbound", "share": 0.6, "capacity": "1000000"},
                {"channel": "outbound", "share": 0.4},
            ],
        },
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert ok.status_code == 200, ok.json()
    figures = ok.json()["figures"]
    assert figures["sources"]["win_rate"] == "override" and figures["pipeline_needed"] == 2_500_000
    quotas = {c["channel"]: (c["quota"], c["capped"]) for c in figures["channels"]}
    # Inbound would take 1.5M but can create 1M: the rest goes to outbound.
    assert quotas == {"Inbound": (1_000_000, True), "Outbound": (1_500_000, False)}
    stale = client.patch(url, {"name": "y"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["current_revision"] == 2


def test_sign_off_takes_a_marketing_and_a_sales_lead_never_the_proposer_then_publishing(people, history):
    editor = client_for(people["mlead"])
    plan = create(editor, revenue_target="500000").json()
    url = f"{URL}{plan['id']}/"
    assert client_for(people["viewer"]).post(f"{url}propose/").status_code == 403
    assert editor.post(f"{url}propose/").status_code == 200
    assert editor.post(f"{url}approve/").status_code == 403  # four eyes
    assert client_for(people["bdr_lead"]).post(f"{url}approve/").status_code == 403
    assert client_for(people["mlead2"]).post(f"{url}approve/").json()["status"] == "proposed"
    approved = client_for(people["slead"]).post(f"{url}approve/").json()
    assert approved["status"] == "approved" and {a["team_kind"] for a in approved["approvals"]} == {
        "marketing",
        "sales",
    }
    assert client_for(people["viewer"]).post(f"{url}publish/").status_code == 403
    published = client_for(people["slead"]).post(f"{url}publish/")
    assert published.status_code == 200 and published.json()["status"] == "published"
    # Another quarter's plan is its own series: numbered 1, and publishing it supersedes nothing here.
    other = create(editor, period_start="2026-04-01", revenue_target="1").json()
    assert other["number"] == 1
    # A second version of Q1 is numbered 2 and starts from the published one.
    second = create(editor, revenue_target="600000").json()
    assert second["number"] == 2 and second["based_on"] == plan["id"]
    history_rows = client_for(people["viewer"]).get(f"{url}history/").json()
    assert [h["action"] for h in history_rows][:3] == ["published", "approved", "approval"]
    listed = client_for(people["viewer"]).get(URL, {"status": "published"}).json()
    assert [p["id"] for p in listed["results"]] == [plan["id"]]


def test_attainment_tracks_every_channel_against_quota_with_a_forecast(people, history):
    client = client_for(people["editor"])
    plan = create(client, revenue_target="1000000").json()
    inbound = Channel.objects.get(slug="inbound")
    OpportunityFactory(channel=inbound, amount=50_000, created_date=D(2025, 12, 10))
    OpportunityFactory(channel=None, amount=None, created_date=D(2025, 12, 12))  # counted at the deal size
    answer = client.get(f"{URL}{plan['id']}/attainment/")
    assert answer.status_code == 200
    body = answer.json()
    assert (
        body["created"] == 60_000
        and body["opportunities_created"] == 2
        and body["unpriced_opportunities"] == 1
    )
    rows = {row["channel"]: row for row in body["channels"]}
    assert rows["Inbound"]["created"] == 50_000 and rows["Inbound"]["planned"]
    assert rows["No channel"]["created"] == 10_000 and not rows["No channel"]["planned"]
    december = next(m for m in rows["Inbound"]["months"] if m["month"] == "2025-12")
    assert december["created"] == 50_000 and december["quota"] == pytest.approx(
        0.75 * 2_000_000 * 30 / 90
    )  # 2–31 December
    assert body["forecast"]["low"] <= body["forecast"]["expected"] <= body["forecast"]["high"]
    assert client_for(people["viewer"]).get(f"{URL}{plan['id']}/attainment/").status_code == 200


def test_a_new_version_says_what_changed_from_the_one_it_is_based_on(people, history):
    editor = client_for(people["mlead"])
    first = create(editor, revenue_target="500000").json()
    url = f"{URL}{first['id']}/"
    editor.post(f"{url}propose/")
    client_for(people["mlead2"]).post(f"{url}approve/")
    client_for(people["slead"]).post(f"{url}approve/")
    client_for(people["slead"]).post(f"{url}publish/")
    second = create(editor, revenue_target="600000").json()
    answer = editor.patch(
        f"{URL}{second['id']}/",
        {"cycle_days": 20, "cycle_days_note": "Shorter deals",
         "allocations": [{"channel": "inbound", "share": 1}]},
        format="json", HTTP_IF_MATCH=f'"plan-{second["id"]}-r1"',
    )  # fmt: skip
    assert answer.status_code == 200, answer.json()
    diff = client_for(people["viewer"]).get(f"{URL}{second['id']}/diff/").json()
    changed = {c["field"]: (c["old"], c["new"]) for c in diff["settings"]}
    assert changed["revenue_target"] == ("500000.00", "600000.00")
    assert changed["cycle_days"] == (None, 20) and changed["cycle_days_note"] == ("", "Shorter deals")
    removed = [r["channel"] for r in diff["allocations"]["removed"]]
    assert removed == ["outbound", "events", "partners", "upsell", "direct"]
    assert diff["allocations"]["changed"][0]["channel"] == "inbound"
    assert editor.get(f"{url}diff/").status_code == 400  # v1 is based on nothing
    assert editor.get(f"{url}diff/", {"against": second["id"]}).status_code == 200
    assert editor.get(f"{url}diff/", {"against": "x"}).status_code == 400
