"""Campaign measurement over a synthetic world with a known effect: the lift is recovered within its
interval against a random holdout and against a matched control; launch records a reproducible holdout."""

import datetime

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import EventType, LifecycleStage
from accounts.models import AccountActivityDaily, Contact
from campaigns.choices import AudienceGroup, ControlKind
from campaigns.measurement import audience_write, campaign_launch, campaign_measure, campaign_target_set
from campaigns.models import CampaignAudience
from campaigns.segments import segment_create
from scoring.models import LifecycleTransition
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    EngagementEventFactory,
    OpportunityFactory,
)

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
START = TODAY - datetime.timedelta(days=41)  # six weeks of campaign, eight weeks before


def _activity(accounts, rng, rate_pre, rate_post):
    rows = []
    for account in accounts:
        for offset in range(-56, 42):
            rate = rate_pre if offset < 0 else rate_post
            n = rng.poisson(rate / 7)
            if n:
                rows.append(
                    AccountActivityDaily(
                        account=account,
                        day=START + datetime.timedelta(days=offset),
                        event_type=EventType.PAGE_VIEW,
                        key="/p",
                        count=n,
                    )
                )
        # third-party intent never counts as engagement
        rows.append(
            AccountActivityDaily(account=account, day=START, event_type=EventType.INTENT, key="x", count=50)
        )
    AccountActivityDaily.objects.bulk_create(rows)


@pytest.fixture
def world():
    rng = np.random.default_rng(2026)
    treated = AccountFactory.create_batch(300)
    held = AccountFactory.create_batch(120)
    _activity(treated, rng, 2.0, 3.5)  # +1.5 events a week
    _activity(held, rng, 2.0, 2.0)
    campaign = CampaignFactory(
        name="Funding video", start_date=START, end_date=TODAY + datetime.timedelta(days=20), cost=30_000
    )
    audience_write(
        campaign=campaign, treated=[a.pk for a in treated], holdout=[a.pk for a in held], at=timezone.now()
    )
    for account in treated[:60]:
        OpportunityFactory(account=account, created_date=START + datetime.timedelta(days=10), amount=10_000)
    for account in held[:6]:
        OpportunityFactory(account=account, created_date=START + datetime.timedelta(days=10), amount=10_000)
    for account in treated[:30]:
        EngagementEventFactory(account=account, campaign=campaign, occurred_at=timezone.now())
    return {"campaign": campaign, "treated": treated, "held": held}


def test_lift_against_the_holdout_recovers_the_effect(world):
    m = campaign_measure(campaign=world["campaign"], end_of_data=TODAY)
    assert m.control == ControlKind.HOLDOUT and m.treated == 300 and m.controls == 120
    assert m.engagement_lift_low < 1.5 < m.engagement_lift_high
    # 20% of targeted accounts opened a deal against 5% of the holdout: ~45 incremental, $450k.
    opp = m.detail["opportunities"]
    assert opp["low"] < 0.15 < opp["high"]
    assert 30 < m.incremental_opportunities < 60
    assert m.cost_per_incremental_opportunity == pytest.approx(30_000 / m.incremental_opportunities, rel=1e-3)
    assert m.accounts_touched == 30
    assert m.mqls == 0 and m.incremental_mqls == 0
    weekly = m.detail["weekly"]
    assert len(weekly["weeks"]) == len(weekly["treated"]) == len(weekly["control"]) == 14
    assert m.detail["engaged_accounts"][0]["touches"] == 1


def test_mqls_count_per_account(world):
    contact = Contact.objects.create(account=world["treated"][0], email="a@b.example")
    LifecycleTransition.objects.create(
        contact=contact,
        from_stage=LifecycleStage.LEAD,
        to_stage=LifecycleStage.MQL,
        at=timezone.make_aware(
            datetime.datetime.combine(START + datetime.timedelta(days=3), datetime.time(12))
        ),
    )
    m = campaign_measure(campaign=world["campaign"], end_of_data=TODAY)
    # one more MQL in a targeted account, but not among the people the campaign engaged
    assert m.mqls == 0 and m.incremental_mqls == pytest.approx(1.0)
    EngagementEventFactory(account=contact.account, contact=contact, campaign=world["campaign"])
    assert campaign_measure(campaign=world["campaign"], end_of_data=TODAY).mqls == 1


def test_matched_control_without_a_holdout(world):
    CampaignAudience.objects.filter(campaign=world["campaign"], group=AudienceGroup.HOLDOUT).delete()
    m = campaign_measure(campaign=world["campaign"], end_of_data=TODAY)
    assert m.control == ControlKind.MATCHED and m.controls == 120
    assert m.engagement_lift_low < 1.5 < m.engagement_lift_high
    assert "matched" in m.detail["note"]


def test_not_started_campaigns_are_not_measured():
    campaign = CampaignFactory(start_date=TODAY + datetime.timedelta(days=3), end_date=None)
    assert campaign_measure(campaign=campaign, end_of_data=TODAY) is None


def test_launch_draws_a_reproducible_holdout_once(user_in):
    user = user_in()
    AccountFactory.create_batch(200, industry="Robotics")
    segment = segment_create(actor=user, data={"name": "Robots", "criteria": {"industry_in": ["Robotics"]}})
    first, second = CampaignFactory(), CampaignFactory()
    for campaign in (first, second):
        campaign_target_set(actor=user, campaign=campaign, segment=segment, holdout_share=0.2)
        campaign_launch(actor=user, campaign=campaign, seed=99)
    held = {
        c.pk: set(
            CampaignAudience.objects.filter(campaign=c, group=AudienceGroup.HOLDOUT).values_list(
                "account_id", flat=True
            )
        )
        for c in (first, second)
    }
    assert held[first.pk] == held[second.pk] and 20 < len(held[first.pk]) < 60
    assert CampaignAudience.objects.filter(campaign=first).count() == 200
    with pytest.raises(ValidationError):
        campaign_launch(actor=user, campaign=first)
    with pytest.raises(ValidationError):
        campaign_target_set(actor=user, campaign=first, segment=segment, holdout_share=0.3)
    with pytest.raises(ValidationError):
        campaign_target_set(actor=user, campaign=CampaignFactory(), segment=segment, holdout_share=0.9)
