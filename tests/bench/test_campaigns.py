"""The campaigns benchmark's own correctness (never its timings): its plain baselines decide and measure
exactly what the product does, and its bench campaigns fold their events into the rollups."""

import datetime

import numpy as np
import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage, OpportunityStage
from accounts.models import Account, AccountActivityDaily, Campaign, ContactActivityDaily, EngagementEvent
from bench import campaigns as bench
from campaigns.measurement import audience_write, campaigns_measure_all
from campaigns.models import CampaignAudience
from campaigns.segments import criteria_accounts, refresh_order, segment_refresh
from scoring.choices import Band, BuyingStage
from scoring.models import LifecycleTransition
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    ContactFactory,
    EngagementEventFactory,
    OpportunityFactory,
)
from tests.scoring.factories import AccountModelScoreFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def _day(offset: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=offset)


def test_segment_baseline_finds_the_members_criteria_accounts_finds():
    rng = np.random.default_rng(7)
    industries = [*bench.INDUSTRIES[:3], "Retail", "Energy"]
    rows = []
    for n in range(160):
        account = AccountFactory(
            industry=str(rng.choice(industries)).lower() if n % 3 else str(rng.choice(industries)),
            employee_count=int(rng.choice([50, 300, 4000, 20_000])),
        )
        AccountModelScoreFactory(
            account=account,
            stage=str(rng.choice([BuyingStage.TARGET, BuyingStage.CONSIDERATION, BuyingStage.DECISION])),
            fit_band=str(rng.choice([Band.HIGH, Band.MEDIUM, Band.LOW])),
        )
        topic = str(rng.choice([*bench.TOPICS, "cloud computing"]))
        day = _day(int(rng.integers(0, 60)))
        rows.append(AccountActivityDaily(account=account, day=day, event_type="intent", key=topic, count=1))
        for k in range(int(rng.integers(0, 3))):
            kind = str(rng.choice([*bench.ENGAGEMENT_KINDS, "page_view"]))
            day = _day(int(rng.integers(0, 120)))
            rows.append(
                AccountActivityDaily(
                    account=account, day=day, event_type=kind, key=f"/{n}/{k}", count=int(rng.integers(1, 3))
                )
            )
        deal = rng.integers(0, 4)
        if deal == 1:
            OpportunityFactory(account=account, stage=OpportunityStage.PROPOSAL)
        elif deal == 2:
            OpportunityFactory(account=account, stage=OpportunityStage.WON)
    AccountActivityDaily.objects.bulk_create(rows)
    segments = bench._segments_define(lag=0)
    for segment in refresh_order(segments.values()):
        segment_refresh(segment=segment)

    ids = sorted(criteria_accounts(segments[bench.IN_MARKET].criteria).values_list("pk", flat=True))
    base = bench._segment_baseline(segments, sorted(Account.objects.values_list("pk", flat=True)))
    assert 0 < len(ids) < 160
    assert base["members"] == ids


def _activity(accounts, rng, start, rate_pre, rate_post):
    rows = []
    for account in accounts:
        for offset in range(-56, 42):
            n = rng.poisson((rate_pre if offset < 0 else rate_post) / 7)
            if n:
                day = start + datetime.timedelta(days=offset)
                rows.append(
                    AccountActivityDaily(account=account, day=day, event_type="page_view", key="/p", count=n)
                )
    AccountActivityDaily.objects.bulk_create(rows)


def test_measurement_baseline_gives_the_figures_campaigns_measure_all_stores():
    rng = np.random.default_rng(2026)
    start = TODAY - datetime.timedelta(days=41)
    treated, held = AccountFactory.create_batch(80), AccountFactory.create_batch(25)
    _activity(treated, rng, start, 2.0, 3.5)
    _activity(held, rng, start, 2.0, 2.0)
    campaign = CampaignFactory(name="Webinar", start_date=start, end_date=TODAY, cost=20_000)
    audience_write(
        campaign=campaign, treated=[a.pk for a in treated], holdout=[a.pk for a in held], at=timezone.now()
    )
    for n, account in enumerate(treated[:30] + held[:4]):
        created = start + datetime.timedelta(days=5 + n)
        OpportunityFactory(
            account=account,
            created_date=created,
            amount=1000 * (n + 1),
            source_campaign=campaign if n % 2 else None,
        )
        occurred = timezone.make_aware(
            datetime.datetime.combine(created, datetime.time(10))
        ) - datetime.timedelta(days=n)
        EngagementEventFactory(account=account, campaign=campaign, occurred_at=occurred)
    for account in treated[:12] + held[:2]:
        contact = ContactFactory(account=account)
        at = datetime.datetime.combine(start + datetime.timedelta(days=3), datetime.time(12), datetime.UTC)
        LifecycleTransition.objects.create(
            contact=contact, from_stage=LifecycleStage.LEAD, to_stage=LifecycleStage.MQL, at=at
        )
        if account in treated[:6]:  # engaged by the campaign before: counts among its MQLs
            EngagementEventFactory(account=account, contact=contact, campaign=campaign, occurred_at=at)

    base = bench._measurement_baseline([campaign], TODAY)
    assert campaigns_measure_all(end_of_data=TODAY)["measured"] == 1
    agreement = bench._measurement_agreement(base["results"])
    assert agreement == {"same": 6, "of": 6}
    assert base["results"][campaign.pk]["influenced_pipeline"] > 0
    assert base["results"][campaign.pk]["mqls"] == 6
    assert base["accounts"] == 105


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark runs on PostgreSQL only")
def test_bench_campaigns_fold_their_events_into_the_rollups():
    accounts = AccountFactory.create_batch(120)
    for account in accounts[::2]:
        ContactFactory(account=account)
    first, last = _day(300), _day(1)
    AccountActivityDaily.objects.bulk_create(
        AccountActivityDaily(account=a, day=d, event_type="page_view", key="/", count=1)
        for a in accounts[:2]
        for d in (first, last)
    )
    before = AccountActivityDaily.objects.aggregate(n=Sum("count"))["n"]
    contact_before = ContactActivityDaily.objects.aggregate(n=Sum("count"))["n"] or 0

    info = bench._campaigns_make({"count": 4, "seed": 3, "world_end": TODAY.isoformat()})

    campaigns = Campaign.objects.filter(name__startswith=bench.CAMPAIGN_PREFIX)
    assert campaigns.count() == info["campaigns"] == 4
    assert CampaignAudience.objects.filter(campaign__in=campaigns).count() == info["audience_accounts"]
    events = EngagementEvent.objects.filter(campaign__in=campaigns)
    assert events.count() == info["events"] > 0
    assert AccountActivityDaily.objects.aggregate(n=Sum("count"))["n"] - before == info["events"]
    known = events.filter(contact__isnull=False).count()
    assert ContactActivityDaily.objects.aggregate(n=Sum("count"))["n"] - contact_before == known
    assert not events.filter(event_type=EventType.INTENT).exists()
    for campaign in campaigns:
        assert first + datetime.timedelta(days=56) < campaign.start_date <= last
