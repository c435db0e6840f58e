"""Reads of what campaigns produced and whom they touched (bounded, grouped queries)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from accounts.choices import OPEN_STAGES, EventType, OpportunityStage
from accounts.models import (
    Account,
    AccountActivityDaily,
    Campaign,
    CampaignCost,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
)

from .choices import LeaderboardMetric
from .models import CampaignAudience, CampaignMeasurement, CampaignTarget, Segment, SegmentMembership


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


# --- the leaderboard -----------------------------------------------------------------------------------
LEADERBOARD_MONTHS = 6
CUT_SHARE = 0.10


@dataclass
class LeaderboardRow:
    campaign: Campaign
    measurement: CampaignMeasurement | None
    value: float | None = None
    rank: int | None = None
    cut: bool = False

    @property
    def pipeline_per_dollar(self) -> float | None:
        m = self.measurement
        if m is None or m.incremental_pipeline is None or not m.cost:
            return None
        return m.incremental_pipeline / float(m.cost)


@dataclass
class Leaderboard:
    start: datetime.date
    end: datetime.date
    metric: str
    rows: list[LeaderboardRow]
    totals: dict[str, float]
    cut_count: int


def metric_value(row: LeaderboardRow, metric: str) -> float | None:
    if metric == LeaderboardMetric.PIPELINE_PER_DOLLAR:
        return row.pipeline_per_dollar
    if row.measurement is None:
        return None
    value = getattr(row.measurement, metric, None)
    return None if value is None else float(value)


def leaderboard_period(
    start: datetime.date | None, end: datetime.date | None
) -> tuple[datetime.date, datetime.date]:
    """The period asked for, by default the six months to today."""
    end = end or timezone.localdate()
    start = start or (end - datetime.timedelta(days=round(LEADERBOARD_MONTHS * 30.44)))
    return start, end


def leaderboard(
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    metric: str = LeaderboardMetric.INCREMENTAL_PIPELINE,
    channel: str = "",
) -> Leaderboard:
    """Programs that ran in the period, ranked by ``metric`` (best first), the bottom 10% of the ranked
    ones marked as cut candidates, with totals. One query (campaigns with their stored measurement)."""
    start, end = leaderboard_period(start, end)
    metric = metric if metric in LeaderboardMetric.values else LeaderboardMetric.INCREMENTAL_PIPELINE
    campaigns = (
        Campaign.objects.filter(start_date__lte=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
        .select_related("channel", "owner_team", "measurement")
        .defer("measurement__detail")
    )
    if channel:
        campaigns = campaigns.filter(channel__slug=channel)
    rows = []
    for campaign in campaigns:
        measurement = getattr(campaign, "measurement", None) if hasattr(campaign, "measurement") else None
        rows.append(LeaderboardRow(campaign=campaign, measurement=measurement))
    for row in rows:
        row.value = metric_value(row, metric)
    ranked = sorted((r for r in rows if r.value is not None), key=lambda r: (-r.value, r.campaign.name))
    for position, row in enumerate(ranked, start=1):
        row.rank = position
    cut_count = math.ceil(CUT_SHARE * len(ranked)) if len(ranked) >= 3 else 0
    for row in ranked[len(ranked) - cut_count :] if cut_count else []:
        row.cut = True
    unranked = sorted((r for r in rows if r.value is None), key=lambda r: r.campaign.name)
    measured = [r.measurement for r in rows if r.measurement is not None]
    totals = {
        "campaigns": len(rows),
        "cost": float(sum(float(r.campaign.cost or 0) for r in rows)),
        "incremental_opportunities": sum(m.incremental_opportunities or 0 for m in measured),
        "incremental_pipeline": sum(m.incremental_pipeline or 0 for m in measured),
        "sourced_pipeline": sum(m.sourced_pipeline for m in measured),
        "influenced_pipeline": sum(m.influenced_pipeline for m in measured),
        "won_revenue": sum(m.won_revenue for m in measured),
        "accounts_touched": sum(m.accounts_touched for m in measured),
    }
    return Leaderboard(
        start=start, end=end, metric=metric, rows=ranked + unranked, totals=totals, cut_count=cut_count
    )


def campaign_measurement(*, campaign: Campaign) -> CampaignMeasurement | None:
    return CampaignMeasurement.objects.filter(campaign=campaign).first()


def campaign_cost_lines(*, campaign: Campaign) -> list[CampaignCost]:
    return list(CampaignCost.objects.filter(campaign=campaign).order_by("month"))


def campaign_target(*, campaign: Campaign) -> CampaignTarget | None:
    return CampaignTarget.objects.filter(campaign=campaign).select_related("segment", "launched_by").first()


def campaign_audience_counts(*, campaign: Campaign) -> dict[str, int]:
    return dict(
        CampaignAudience.objects.filter(campaign=campaign)
        .order_by()
        .values_list("group")
        .annotate(n=Count("id"))
        .values_list("group", "n")
    )


# --- segments -------------------------------------------------------------------------------------------
def segment_list(*, user) -> QuerySet[Segment]:
    return Segment.objects.for_user(user).select_related("owner_team")


def segment_get(*, user, pk: int, action: str = "view") -> Segment:
    return Segment.objects.for_user(user, action).select_related("owner_team").get(pk=pk)


def segment_members(*, segment: Segment, at: datetime.datetime | None = None) -> QuerySet[SegmentMembership]:
    """A segment's members now (or at ``at``), with their accounts, newest joiners first."""
    rows = SegmentMembership.objects.filter(segment=segment)
    if at is None:
        rows = rows.filter(left_at__isnull=True)
    else:
        rows = rows.filter(joined_at__lte=at).filter(Q(left_at__isnull=True) | Q(left_at__gt=at))
    return rows.select_related("account").order_by("-joined_at", "account__name", "pk")


def segment_changes(*, segment: Segment, limit: int = 20) -> list[dict[str, Any]]:
    """The last joins and leaves (newest first)."""
    joins = (
        SegmentMembership.objects.filter(segment=segment)
        .select_related("account")
        .order_by("-joined_at", "-pk")[:limit]
    )
    leaves = (
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=False)
        .select_related("account")
        .order_by("-left_at", "-pk")[:limit]
    )
    changes = [{"at": m.joined_at, "joined": True, "membership": m} for m in joins]
    changes += [{"at": m.left_at, "joined": False, "membership": m} for m in leaves]
    return sorted(changes, key=lambda c: c["at"], reverse=True)[:limit]


def segment_campaigns(*, segment: Segment) -> list[CampaignTarget]:
    return list(
        CampaignTarget.objects.filter(segment=segment)
        .select_related("campaign")
        .order_by("-campaign__start_date")
    )


def segment_choices() -> list[tuple[int, str]]:
    return list(Segment.objects.order_by("name").values_list("pk", "name"))


def audience_rows(*, segment: Segment, kind: str):
    """What an ad platform takes: the members' domains, or the e-mails of their buying teams (contacts
    mapped to a persona), streamed in id order."""
    members = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).values("account_id")
    if kind == "emails":
        return (
            Contact.objects.filter(account_id__in=members, persona__isnull=False)
            .exclude(email="")
            .order_by("pk")
            .values_list("email", "first_name", "last_name", "account__domain")
            .iterator(chunk_size=5000)
        )
    return (
        Account.objects.filter(pk__in=members)
        .exclude(domain__isnull=True)
        .exclude(domain="")
        .order_by("pk")
        .values_list("domain", "name")
        .iterator(chunk_size=5000)
    )


def segment_export_rows(*, segment: Segment):
    """The current members with their firmographics and learned scores, streamed in account order."""
    return (
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
        .order_by("account_id")
        .values_list(
            "account_id",
            "account__name",
            "account__domain",
            "account__industry",
            "account__employee_count",
            "account__country",
            "account__model_score__stage",
            "account__model_score__in_market",
            "account__model_score__profile_fit",
            "account__model_score__qualified",
            "joined_at",
        )
        .iterator(chunk_size=5000)
    )


def segment_member_ids(*, segment: Segment) -> list[int]:
    """The current members' account ids (for a what-if over the segment)."""
    return list(
        SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )
