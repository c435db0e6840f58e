"""Reads of what campaigns produced and whom they touched (bounded, grouped queries)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from accounts.choices import OPEN_STAGES, EventType, OpportunityStage
from accounts.models import (
    Account,
    AccountActivityDaily,
    Campaign,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
)

from .models import CampaignAudience


def campaign_event_counts(*, campaign_ids: list[int]) -> dict[int, int]:
    """Events attributed to each campaign, one grouped query on the events' campaign index."""
    if not campaign_ids:
        return {}
    rows = (
        EngagementEvent.objects.filter(campaign_id__in=campaign_ids)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "n")
    )
    return dict(rows)


def campaign_opportunity_stats(*, campaign_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per campaign: opportunities sourced, their pipeline (all, open) and won amount, in one query."""
    if not campaign_ids:
        return {}
    rows = (
        Opportunity.objects.filter(source_campaign_id__in=campaign_ids)
        .order_by()
        .values("source_campaign_id")
        .annotate(
            n=Count("id"),
            pipeline=Sum("amount"),
            open_pipeline=Sum("amount", filter=Q(stage__in=OPEN_STAGES)),
            won=Count("id", filter=Q(stage=OpportunityStage.WON)),
            won_amount=Sum("amount", filter=Q(stage=OpportunityStage.WON)),
        )
    )
    return {row.pop("source_campaign_id"): row for row in rows}


def campaign_sourced_opportunities(*, user, campaign: Campaign, limit: int = 20) -> list[Opportunity]:
    """The newest opportunities ``campaign`` sourced that ``user`` may see."""
    return list(
        Opportunity.objects.for_user(user)
        .filter(source_campaign=campaign)
        .select_related("account", "channel")
        .order_by("-created_date", "-id")[:limit]
    )


# --- which campaigns touched an account or a contact ---------------------------------------------------
HISTORY_LIMIT = 25
BEFORE_WEEKS = 8


@dataclass
class CampaignTouch:
    """A campaign's touches on one account (or contact), and its engagement before and during the run."""

    campaign: Campaign
    touches: int = 0
    people: int = 0
    first_touch: datetime.datetime | None = None
    last_touch: datetime.datetime | None = None
    group: str = ""  # treated / holdout, when the campaign recorded an audience
    before: float | None = None  # engaged events per week in the BEFORE_WEEKS weeks before the start
    during: float | None = None  # … while it ran (to today at the latest)
    people_names: list[str] = field(default_factory=list)

    @property
    def raised(self) -> bool | None:
        if self.before is None or self.during is None:
            return None
        return self.during > self.before

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.during is None else round(self.during - self.before, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": {
                "id": self.campaign.pk,
                "name": self.campaign.name,
                "channel": self.campaign.channel.slug,
            },
            "start_date": self.campaign.start_date,
            "end_date": self.campaign.end_date,
            "touches": self.touches,
            "people": self.people,
            "people_names": self.people_names,
            "first_touch": self.first_touch,
            "last_touch": self.last_touch,
            "audience_group": self.group or None,
            "engagement_before_per_week": self.before,
            "engagement_during_per_week": self.during,
            "engagement_change_per_week": self.change,
            "raised_engagement": self.raised,
        }


def _rates(
    daily: dict[datetime.date, int], campaign: Campaign, today: datetime.date
) -> tuple[float | None, float | None]:
    start = campaign.start_date
    if start is None or start > today:
        return None, None
    end = min(campaign.end_date or today, today)
    pre_start = start - datetime.timedelta(weeks=BEFORE_WEEKS)
    before = sum(n for day, n in daily.items() if pre_start <= day < start) / BEFORE_WEEKS
    during_days = (end - start).days + 1
    during = sum(n for day, n in daily.items() if start <= day <= end) / (during_days / 7)
    return round(before, 2), round(during, 2)


def _touches(
    events, audience: dict[int, str], daily_of, today: datetime.date, limit: int
) -> list[CampaignTouch]:
    rows = list(
        events.order_by()
        .values("campaign_id")
        .annotate(
            touches=Count("id"),
            people=Count("contact_id", distinct=True),
            first=Min("occurred_at"),
            last=Max("occurred_at"),
        )
        .order_by("-last")[:limit]
    )
    ids = {r["campaign_id"] for r in rows} | set(audience)
    campaigns = Campaign.objects.select_related("channel").in_bulk(list(ids))
    touches = {
        r["campaign_id"]: CampaignTouch(
            campaign=campaigns[r["campaign_id"]],
            touches=r["touches"],
            people=r["people"],
            first_touch=r["first"],
            last_touch=r["last"],
        )
        for r in rows
        if r["campaign_id"] in campaigns
    }
    for campaign_id, group in audience.items():
        if campaign_id in campaigns:
            touches.setdefault(campaign_id, CampaignTouch(campaign=campaigns[campaign_id])).group = group
    items = sorted(
        touches.values(),
        key=lambda t: (t.last_touch or datetime.datetime.min.replace(tzinfo=datetime.UTC), t.campaign.pk),
        reverse=True,
    )[:limit]
    starts = [t.campaign.start_date for t in items if t.campaign.start_date]
    if starts:
        daily = daily_of(min(starts) - datetime.timedelta(weeks=BEFORE_WEEKS), today)
        for item in items:
            item.before, item.during = _rates(daily, item.campaign, today)
    return items


def account_campaign_history(
    *, account: Account, limit: int = HISTORY_LIMIT, today: datetime.date | None = None
) -> list[CampaignTouch]:
    """The campaigns that touched ``account`` (or targeted or held it out), newest touch first: touches,
    people, when, and its engaged events per week before each campaign and while it ran. Four queries."""
    today = today or timezone.localdate()
    events = EngagementEvent.objects.filter(account=account, campaign__isnull=False)
    audience = dict(CampaignAudience.objects.filter(account=account).values_list("campaign_id", "group"))

    def daily_of(since: datetime.date, until: datetime.date) -> dict[datetime.date, int]:
        rows = (
            AccountActivityDaily.objects.filter(account=account, day__gte=since, day__lte=until)
            .exclude(event_type=EventType.INTENT)
            .order_by()
            .values("day")
            .annotate(n=Sum("count"))
        )
        return {r["day"]: r["n"] for r in rows}

    items = _touches(events, audience, daily_of, today, limit)
    names = _people_names(account_id=account.pk, campaign_ids=[t.campaign.pk for t in items if t.touches])
    for item in items:
        item.people_names = names.get(item.campaign.pk, [])
    return items


def _people_names(*, account_id: int, campaign_ids: list[int], per_campaign: int = 3) -> dict[int, list[str]]:
    """Up to three people per campaign who engaged with it at the account (one query)."""
    if not campaign_ids:
        return {}
    pairs = (
        EngagementEvent.objects.filter(
            account_id=account_id, campaign_id__in=campaign_ids, contact__isnull=False
        )
        .order_by()
        .values_list("campaign_id", "contact_id")
        .distinct()[:500]
    )
    pairs = list(pairs)
    contacts = Contact.objects.in_bulk([c for _, c in pairs])
    out: dict[int, list[str]] = {}
    for campaign_id, contact_id in pairs:
        names = out.setdefault(campaign_id, [])
        contact = contacts.get(contact_id)
        if contact and len(names) < per_campaign:
            names.append(contact.full_name or contact.email)
    return out


def contact_campaign_history(
    *, contact: Contact, limit: int = HISTORY_LIMIT, today: datetime.date | None = None
) -> list[CampaignTouch]:
    """The campaigns that touched ``contact``, newest first, with the contact's engaged events per week
    before each and while it ran."""
    today = today or timezone.localdate()
    events = EngagementEvent.objects.filter(contact=contact, campaign__isnull=False)

    def daily_of(since: datetime.date, until: datetime.date) -> dict[datetime.date, int]:
        rows = (
            ContactActivityDaily.objects.filter(contact=contact, day__gte=since, day__lte=until)
            .exclude(event_type=EventType.INTENT)
            .order_by()
            .values("day")
            .annotate(n=Sum("count"))
        )
        return {r["day"]: r["n"] for r in rows}

    return _touches(events, {}, daily_of, today, limit)
