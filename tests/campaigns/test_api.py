"""The segment and campaign API as an integration uses it: CRUD with criteria checked, members as of a
date, previews, static lists, campaigns with costs, keys and targets, launch, measurement, the
leaderboard and per-account history — permission-checked, bad input refused with nothing written."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Campaign, CampaignCost
from campaigns.models import CampaignAudience, Segment, SegmentMembership
from revops.choices import Role, TeamKind
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, CampaignFactory, ChannelFactory, EngagementEventFactory
from tests.scoring.factories import AccountModelScoreFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def world():
    accounts = [AccountFactory(industry="Software" if i < 6 else "Retail") for i in range(10)]
    for i, account in enumerate(accounts):
        AccountModelScoreFactory(
            account=account, stage=BuyingStage.DECISION if i < 3 else BuyingStage.AWARENESS
        )
    return accounts


def test_segment_crud_members_and_preview(client_for, member, world):
    api = client_for(member)
    bad = api.post("/api/segments/", {"name": "X", "criteria": {"stage": ["pondering"]}}, format="json")
    assert bad.status_code == 400 and "stage" in bad.json() and not Segment.objects.exists()
    unknown = api.post("/api/segments/", {"name": "X", "criteria": {"colour": ["red"]}}, format="json")
    assert unknown.status_code == 400 and "colour" in unknown.json()
    created = api.post(
        "/api/segments/", {"name": "Software", "criteria": {"industry_in": ["software"]}}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["member_count"] == 6 and body["version"] == 1
    sid = body["id"]
    narrowed = api.patch(
        f"/api/segments/{sid}/",
        {"criteria": {"industry_in": ["software"], "stage": ["decision"]}},
        format="json",
    )
    assert narrowed.json()["version"] == 2 and narrowed.json()["member_count"] == 3
    members = api.get(f"/api/segments/{sid}/members/").json()["results"]
    assert len(members) == 3 and {m["version"] for m in members} == {1}
    before = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert api.get(f"/api/segments/{sid}/members/", {"as_of": before}).json()["results"] == []
    assert api.get(f"/api/segments/{sid}/members/", {"as_of": "yesterday"}).status_code == 400
    preview = api.post("/api/segments/preview/", {"criteria": {"stage": ["decision"]}}, format="json").json()
    assert preview["count"] == 3 and len(preview["accounts"]) == 3
    assert api.post("/api/segments/preview/", {"criteria": "stage"}, format="json").status_code == 400
    assert api.post(f"/api/segments/{sid}/refresh/").json() == {"joined": 0, "left": 0, "members": 3}


def test_static_members_by_ids_and_domains(client_for, member, world):
    api = client_for(member)
    sid = api.post("/api/segments/", {"name": "Named", "kind": "static"}, format="json").json()["id"]
    result = api.post(
        f"/api/segments/{sid}/static-members/",
        {"account_ids": [world[0].pk], "domains": [world[1].domain, "nobody.example"]},
        format="json",
    ).json()
    assert result["joined"] == 2 and result["unknown_domains"] == ["nobody.example"]
    removed = api.post(
        f"/api/segments/{sid}/static-members/",
        {"account_ids": [world[0].pk], "mode": "remove"},
        format="json",
    ).json()
    assert removed["left"] == 1 and removed["members"] == 1
    assert api.post(f"/api/segments/{sid}/static-members/", {}, format="json").status_code == 400


def test_campaign_with_costs_keys_target_launch_and_measurement(client_for, member, world):
    api = client_for(member)
    ChannelFactory(slug="events")
    sid = api.post(
        "/api/segments/", {"name": "All software", "criteria": {"industry_in": ["Software"]}}, format="json"
    ).json()["id"]
    body = {
        "name": "Summit",
        "channel": "events",
        "goal": "win_rate",
        "start_date": (TODAY - datetime.timedelta(days=10)).isoformat(),
        "end_date": TODAY.isoformat(),
        "cost_lines": [{"month": "2026-11", "amount": "100.50"}, {"month": "2026-12-01", "amount": "99.50"}],
        "keys": [{"kind": "utm_campaign", "value": "Summit"}],
        "target": {"segment": sid, "holdout_share": 0.5},
    }
    created = api.post("/api/campaigns/", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["cost"] == "200.00" and data["keys"] == [{"kind": "utm_campaign", "value": "summit"}]
    assert data["target"]["segment"] == sid and data["target"]["launched_at"] is None
    cid = data["id"]
    launched = api.post(f"/api/campaigns/{cid}/launch/")
    assert launched.status_code == 200 and launched.json()["treated"] + launched.json()["holdout"] == 6
    assert api.post(f"/api/campaigns/{cid}/launch/").status_code == 400
    changed = api.patch(
        f"/api/campaigns/{cid}/", {"target": {"segment": sid, "holdout_share": 0.1}}, format="json"
    )
    assert changed.status_code == 400
    assert api.get(f"/api/campaigns/{cid}/measurement/").status_code == 404
    measured = api.post(f"/api/campaigns/{cid}/measure/")
    assert measured.status_code == 200 and measured.json()["treated"] + measured.json()["controls"] == 6
    assert api.get(f"/api/campaigns/{cid}/measurement/").json()["control"] == "holdout"
    board = api.get("/api/campaigns/leaderboard/", {"metric": "engagement_lift"}).json()
    assert [r["campaign"]["id"] for r in board["rows"]] == [cid]
    assert api.get("/api/campaigns/leaderboard/", {"metric": "vibes"}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"cost_lines": [{"month": "2026-13", "amount": "1"}]},
        {"cost_lines": [{"month": "2026-01", "amount": "-1"}]},
        {"cost_lines": [{"month": "2026-01", "amount": "1"}, {"month": "2026-01", "amount": "2"}]},
        {"keys": [{"kind": "fax", "value": "1"}]},
        {"target": {"segment": 999999}},
        {"target": {"segment": None, "holdout_share": 0.9}},
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
    ],
)
def test_bad_campaign_input_is_refused_and_nothing_is_written(client_for, member, body):
    ChannelFactory(slug="events")
    response = client_for(member).post(
        "/api/campaigns/", {"name": "Bad", "channel": "events", **body}, format="json"
    )
    assert response.status_code == 400
    assert not Campaign.objects.filter(name="Bad").exists() and not CampaignCost.objects.exists()


def test_a_key_already_used_by_another_campaign_is_refused(client_for, member):
    ChannelFactory(slug="events")
    api = client_for(member)
    assert (
        api.post(
            "/api/campaigns/",
            {"name": "A", "channel": "events", "keys": [{"kind": "ad_id", "value": "7"}]},
            format="json",
        ).status_code
        == 201
    )
    again = api.post(
        "/api/campaigns/",
        {"name": "B", "channel": "events", "keys": [{"kind": "ad_id", "value": "7"}]},
        format="json",
    )
    assert again.status_code == 400 and "keys" in again.json()


def test_history_of_an_account(client_for, viewer):
    account = AccountFactory()
    campaign = CampaignFactory(start_date=TODAY - datetime.timedelta(days=5))
    EngagementEventFactory(account=account, campaign=campaign)
    api = client_for(viewer)
    [item] = api.get("/api/campaigns/history/", {"account": account.pk}).json()
    assert item["campaign"]["id"] == campaign.pk and item["touches"] == 1
    assert api.get("/api/campaigns/history/").status_code == 400
    assert api.get("/api/campaigns/history/", {"account": "x"}).status_code == 400
    assert api.get("/api/campaigns/history/", {"account": 999999}).status_code == 404


def test_roles_and_token_scopes(client_for, user_in, world, api_client):
    viewer = user_in(TeamKind.SALES, Role.VIEWER)
    member = user_in(TeamKind.MARKETING, Role.MEMBER)
    segment_id = (
        client_for(member).post("/api/segments/", {"name": "S", "criteria": {}}, format="json").json()["id"]
    )
    as_viewer = client_for(viewer)
    assert as_viewer.get(f"/api/segments/{segment_id}/members/").status_code == 200
    assert as_viewer.post("/api/segments/", {"name": "V"}, format="json").status_code == 403
    assert as_viewer.post(f"/api/segments/{segment_id}/refresh/").status_code == 403
    assert as_viewer.delete(f"/api/segments/{segment_id}/").status_code == 403
    assert as_viewer.post("/api/segments/preview/", {"criteria": {}}, format="json").status_code == 200
    assert client_for(member).delete(f"/api/segments/{segment_id}/").status_code == 403  # leads delete
    lead = user_in(TeamKind.MARKETING, Role.LEAD)
    assert client_for(lead).delete(f"/api/segments/{segment_id}/").status_code == 204
    assert not SegmentMembership.objects.filter(segment_id=segment_id).exists()
    assert not CampaignAudience.objects.exists()
