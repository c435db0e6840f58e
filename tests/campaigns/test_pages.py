"""The segment and campaign pages as marketing uses them: build a segment with a live count, launch a
campaign with a holdout, read its lift and the leaderboard, see per account which campaigns touched it."""

import csv
import datetime
import io

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import EventType
from accounts.models import AccountActivityDaily, Campaign, CampaignCost, CampaignKey
from campaigns.choices import AudienceGroup, SegmentKind
from campaigns.measurement import audience_write, campaigns_measure_all
from campaigns.models import CampaignAudience, CampaignTarget, Segment, SegmentMembership
from campaigns.segments import segment_create
from scoring.choices import BuyingStage
from scoring.models import Ruleset, WhatIfRun
from scoring.signals import rescore_finished
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    ChannelFactory,
    ContactFactory,
    EngagementEventFactory,
)
from tests.scoring.factories import AccountModelScoreFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def world():
    accounts = [
        AccountFactory(industry="Software" if i % 2 else "Retail", employee_count=100 * (i + 1))
        for i in range(20)
    ]
    for i, account in enumerate(accounts):
        AccountModelScoreFactory(
            account=account, stage=BuyingStage.DECISION if i < 5 else BuyingStage.AWARENESS
        )
    return accounts


def test_build_a_segment_with_a_live_count_then_save_it(client, member, world):
    client.force_login(member)
    assert client.get(reverse("campaigns:segment_create")).status_code == 200
    preview = client.post(
        reverse("campaigns:segment_preview"), {"c-industry_in": ["Software"], "c-stage": ["decision"]}
    )
    assert preview.status_code == 200
    assert preview.context["preview"].count == 2  # accounts 1 and 3
    bad = client.post(reverse("campaigns:segment_preview"), {"c-employees_min": "lots"})
    assert "errors" in bad.context and "preview" not in bad.context
    response = client.post(
        reverse("campaigns:segment_create"),
        {
            "name": "Software deciders",
            "kind": "dynamic",
            "c-industry_in": ["Software"],
            "c-stage": ["decision"],
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Software deciders")
    assert (
        segment.criteria == {"industry_in": ["Software"], "stage": ["decision"]} and segment.member_count == 2
    )
    page = client.get(reverse("campaigns:segment_detail", kwargs={"pk": segment.pk}))
    assert len(page.context["members"]) == 2
    assert ("Buying stage", "Decision") in page.context["criteria"]
    # Who was in it yesterday: nobody (it was created today).
    yesterday = (TODAY - datetime.timedelta(days=1)).isoformat()
    past = client.get(reverse("campaigns:segment_detail", kwargs={"pk": segment.pk}), {"as_of": yesterday})
    assert past.context["members"] == [] and past.context["as_of_count"] == 0
    # The accounts list filters by it, and by stage and deal, as the API does.
    listed = client.get(reverse("accounts:account_list"), {"segment": segment.pk})
    assert len(listed.context["object_list"]) == 2


def test_bad_segment_input_changes_nothing(client, member, world):
    client.force_login(member)
    response = client.post(reverse("campaigns:segment_create"), {"name": "", "kind": "dynamic"})
    assert response.status_code == 400 and not Segment.objects.exists()
    response = client.post(
        reverse("campaigns:segment_create"), {"name": "Odd", "kind": "dynamic", "c-employees_min": "many"}
    )
    assert response.status_code == 400 and not Segment.objects.exists()


def test_static_segment_by_domains_and_the_exports(client, member, world):
    client.force_login(member)
    segment = segment_create(actor=member, data={"name": "Named accounts", "kind": SegmentKind.STATIC})
    domains = f"{world[0].domain}\nhttps://www.{world[1].domain}/about\nnobody.example"
    response = client.post(
        reverse("campaigns:segment_members", kwargs={"pk": segment.pk}),
        {"domains": domains, "mode": "add"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("nobody.example" in t for t in texts) and any("2 joined" in t for t in texts)
    ContactFactory(account=world[0], email="buyer@x.example", persona=None)
    export = client.get(reverse("campaigns:segment_export", kwargs={"pk": segment.pk}), {"kind": "accounts"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][0] == "account_id" and len(rows) == 3
    domains_export = client.get(
        reverse("campaigns:segment_export", kwargs={"pk": segment.pk}), {"kind": "domains"}
    )
    assert world[0].domain in b"".join(domains_export.streaming_content).decode()
    assert (
        client.get(reverse("campaigns:segment_export", kwargs={"pk": segment.pk}), {"kind": "x"}).status_code
        == 400
    )


def test_viewers_read_but_cannot_build_or_launch(client, viewer, member, world):
    segment = segment_create(actor=member, data={"name": "All", "criteria": {}})
    campaign = CampaignFactory()
    client.force_login(viewer)
    assert client.get(reverse("campaigns:segment_detail", kwargs={"pk": segment.pk})).status_code == 200
    assert client.get(reverse("campaigns:segment_create")).status_code == 403
    assert client.post(reverse("campaigns:segment_refresh", kwargs={"pk": segment.pk})).status_code == 403
    assert client.post(reverse("campaigns:campaign_launch", kwargs={"pk": campaign.pk})).status_code == 403
    assert client.get(reverse("campaigns:campaign_create")).status_code == 403
    assert client.get(reverse("campaigns:leaderboard")).status_code == 200


def test_create_a_campaign_with_costs_keys_and_target_then_launch_and_measure(client, member, world):
    client.force_login(member)
    channel = ChannelFactory(slug="events")
    segment = segment_create(
        actor=member, data={"name": "Software", "criteria": {"industry_in": ["Software"]}}
    )
    response = client.post(
        reverse("campaigns:campaign_create"),
        {
            "name": "Summit 2027 ✨",
            "channel": channel.pk,
            "goal": "win_rate",
            "start_date": (TODAY - datetime.timedelta(days=20)).isoformat(),
            "end_date": (TODAY + datetime.timedelta(days=10)).isoformat(),
            "budget": "50000",
            "cost": "0",
            "cost_lines": "2026-11 12000 booth\n2026-12 3000",
            "keys": "utm_campaign: Summit-2027\nad_id: 4411",
            "target_segment": segment.pk,
            "holdout_percent": "20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Summit 2027 ✨")
    assert campaign.cost == 15000 and CampaignCost.objects.filter(campaign=campaign).count() == 2
    assert set(CampaignKey.objects.filter(campaign=campaign).values_list("kind", "value")) == {
        ("utm_campaign", "summit-2027"),
        ("ad_id", "4411"),
    }
    assert CampaignTarget.objects.get(campaign=campaign).holdout_share == pytest.approx(0.2)
    launched = client.post(reverse("campaigns:campaign_launch", kwargs={"pk": campaign.pk}), follow=True)
    assert any("Launched to" in str(m) for m in launched.context["messages"])
    assert CampaignAudience.objects.filter(campaign=campaign).count() == 10
    again = client.post(reverse("campaigns:campaign_launch", kwargs={"pk": campaign.pk}), follow=True)
    assert any("Launched already" in str(m) for m in again.context["messages"])
    measured = client.post(reverse("campaigns:campaign_measure", kwargs={"pk": campaign.pk}), follow=True)
    assert measured.context["measurement"] is not None


def test_bad_campaign_lines_are_form_errors_and_nothing_is_saved(client, member):
    client.force_login(member)
    channel = ChannelFactory(slug="events")
    base = {"name": "X", "channel": channel.pk, "goal": "pipeline", "cost": "0", "holdout_percent": "10"}
    bad = [
        {"cost_lines": "2026-13 100"},
        {"cost_lines": "2026-01 -5"},
        {"cost_lines": "2026-01 5\n2026-01 6"},
        {"keys": "fax: 1"},
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        {"holdout_percent": "80"},
    ]
    for extra in bad:
        response = client.post(reverse("campaigns:campaign_create"), {**base, **extra})
        assert response.status_code == 400, extra
    assert not Campaign.objects.filter(name="X").exists()


def _engagement(accounts, start, rng, before, during):
    rows = []
    for account in accounts:
        for offset in range(-56, 28):
            n = rng.poisson((before if offset < 0 else during) / 7)
            if n:
                rows.append(
                    AccountActivityDaily(
                        account=account,
                        day=start + datetime.timedelta(days=offset),
                        event_type=EventType.PAGE_VIEW,
                        key="/",
                        count=n,
                    )
                )
    AccountActivityDaily.objects.bulk_create(rows)


def test_leaderboard_ranks_marks_the_bottom_and_exports(client, viewer):
    rng = np.random.default_rng(1)
    start = TODAY - datetime.timedelta(days=27)
    for n, effect in enumerate([8.0, 6.0, 4.0, 2.0, 0.0]):
        campaign = CampaignFactory(name=f"Program {n}", start_date=start, end_date=TODAY, cost=1000 * (n + 1))
        treated, held = AccountFactory.create_batch(30), AccountFactory.create_batch(10)
        audience_write(
            campaign=campaign,
            treated=[a.pk for a in treated],
            holdout=[a.pk for a in held],
            at=timezone.now(),
        )
        _engagement(treated, start, rng, 1.0, 1.0 + effect)
        _engagement(held, start, rng, 1.0, 1.0)
    campaigns_measure_all(end_of_data=TODAY)
    client.force_login(viewer)
    page = client.get(reverse("campaigns:leaderboard"), {"metric": "engagement_lift"})
    board = page.context["board"]
    assert len(board.rows) == 5 and board.cut_count == 1
    assert [r.rank for r in board.rows] == [1, 2, 3, 4, 5] and board.rows[-1].cut
    assert [r.campaign.name for r in board.rows] == [f"Program {n}" for n in range(5)]
    assert board.totals["cost"] == 15000
    exported = client.get(reverse("campaigns:leaderboard"), {"metric": "engagement_lift", "format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][0] == "rank" and len(rows) == 6 and rows[-1][-1] == "yes"
    empty = client.get(reverse("campaigns:leaderboard"), {"start": "2001-01-01", "end": "2001-02-01"})
    assert empty.context["board"].rows == []
    wrong = client.get(reverse("campaigns:leaderboard"), {"start": "2002-01-01", "end": "2001-02-01"})
    assert wrong.status_code == 200 and wrong.context["form"].errors


def test_account_and_contact_pages_show_the_campaigns_that_touched_them(client, viewer):
    account = AccountFactory()
    contact = ContactFactory(account=account, first_name="Zoë", last_name="Ørsted")
    campaign = CampaignFactory(
        name="Funding video", start_date=TODAY - datetime.timedelta(days=14), end_date=TODAY
    )
    audience_write(campaign=campaign, treated=[account.pk], holdout=[], at=timezone.now())
    EngagementEventFactory(account=account, contact=contact, campaign=campaign)
    AccountActivityDaily.objects.create(
        account=account,
        day=TODAY - datetime.timedelta(days=3),
        event_type=EventType.PAGE_VIEW,
        key="/v",
        count=7,
    )
    client.force_login(viewer)
    page = client.get(reverse("accounts:account_detail", kwargs={"pk": account.pk}))
    [item] = page.context["campaign_history"]
    assert item.campaign == campaign and item.touches == 1 and item.group == AudienceGroup.TREATED
    assert (
        item.people_names == ["Zoë Ørsted"] and item.before == 0 and item.during == 3.27 and item.raised
    )  # 7 in 15 days
    assert "Funding video" in page.content.decode()
    contact_page = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk}))
    assert [t.campaign for t in contact_page.context["campaign_history"]] == [campaign]


def test_segment_membership_follows_a_rescore(member, world, django_capture_on_commit_callbacks):
    segment = segment_create(actor=member, data={"name": "Deciders", "criteria": {"stage": ["decision"]}})
    assert segment.member_count == 5
    world[10].model_score.stage = BuyingStage.DECISION
    world[10].model_score.save()
    with django_capture_on_commit_callbacks(execute=True):
        rescore_finished.send(sender=None, as_of=TODAY.isoformat())
    assert SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count() == 6


def test_what_if_over_a_segment(client, revops_admin, member, world, django_capture_on_commit_callbacks):
    segment = segment_create(actor=member, data={"name": "Deciders", "criteria": {"stage": ["decision"]}})
    client.force_login(revops_admin)
    published = Ruleset.objects.get(status="published")
    page = client.get(reverse("campaigns:segment_detail", kwargs={"pk": segment.pk}))
    assert page.context["whatif_form"] is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:segment_whatif", kwargs={"pk": segment.pk}),
            {"ruleset": published.pk, "days": 30},
        )
    assert response.status_code == 302 and "?run=" in response.url
    run = WhatIfRun.objects.get()
    run.refresh_from_db()
    assert run.scope.startswith("segment Deciders") and sorted(run.account_ids) == sorted(
        a.pk for a in world[:5]
    )
    assert run.status == "succeeded" and run.result["accounts_limited_to"] == 5
    bad = client.post(
        reverse("campaigns:segment_whatif", kwargs={"pk": segment.pk}), {"days": 3}, follow=True
    )
    assert any("Rules version" in str(m) or "required" in str(m) for m in bad.context["messages"])
