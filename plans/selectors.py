"""Reads for revenue plans: the opportunity history a plan's numbers come from, the pipeline created
against its quota (attainment), the expected pipeline of accounts in market, and the plan itself with
everything it implies (``plan_figures``), computed by ``plans.engine``.

Dates: an opportunity is *created* on its created date, or, when the CRM gave none (Maven's export has
only the engage date), on its engaged date; it *closes* on its close date. Pipeline is the amount of the
opportunities created; an opportunity without an amount counts at the plan's deal size (and is counted
apart, so nobody mistakes the estimate for a figure).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.choices import OPEN_STAGES, OpportunityStage
from accounts.models import Channel, Opportunity
from campaigns.models import SegmentMembership
from revops.choices import VersionStatus
from revops.models import Membership
from scoring import metrics

from . import engine
from .models import PlanAllocation, PlanComment, PlanHistory, RevenuePlan

UNASSIGNED = "unassigned"  # the key of opportunities without a channel
OPENED = Coalesce("created_date", "engaged_date")


# --- the plans --------------------------------------------------------------------------------------
def plan_list(*, user, status: list[str] | None = None) -> QuerySet[RevenuePlan]:
    plans = RevenuePlan.objects.for_user(user).select_related("team", "segment", "created_by")
    if status:
        plans = plans.filter(status__in=status)
    return plans


def plan_get(*, user, pk: int) -> RevenuePlan:
    return (
        RevenuePlan.objects.for_user(user)
        .select_related("team", "segment", "based_on", "created_by", "proposed_by", "published_by")
        .prefetch_related("approvals__user")
        .get(pk=pk)
    )


def plan_allocations(plan: RevenuePlan) -> list[PlanAllocation]:
    return list(plan.allocations.select_related("channel"))


def plan_versions(plan: RevenuePlan) -> QuerySet[RevenuePlan]:
    """The versions of the same plan (period and scope), newest first."""
    return RevenuePlan.objects.filter(scope_key=plan.scope_key).order_by("-number")


def plan_history(plan: RevenuePlan, *, limit: int = 100) -> list[PlanHistory]:
    return list(plan.history.select_related("actor").order_by("-at", "-id")[:limit])


def plan_comments(plan: RevenuePlan) -> list[PlanComment]:
    return list(plan.comments.select_related("author"))


def channels() -> list[Channel]:
    return list(Channel.objects.order_by("sort_order", "name"))


# --- the opportunities a plan counts ----------------------------------------------------------------
def scoped_opportunities(
    *, team_id: int | None = None, segment_id: int | None = None
) -> QuerySet[Opportunity]:
    """Every opportunity, or those of a team (their owner is one of its members) or of a segment's
    accounts (its members now)."""
    opportunities = Opportunity.objects.all()
    if team_id:
        members = Membership.objects.filter(team_id=team_id).values("user_id")
        opportunities = opportunities.filter(owner_id__in=members)
    if segment_id:
        accounts = SegmentMembership.objects.filter(segment_id=segment_id, left_at__isnull=True).values(
            "account_id"
        )
        opportunities = opportunities.filter(account_id__in=accounts)
    return opportunities


def history_compute(
    *, start: datetime.date, end: datetime.date, team_id: int | None = None, segment_id: int | None = None
) -> dict[str, Any]:
    """What the opportunities of ``start``–``end`` say: won, lost, win rate, deal size and cycle (closed in
    the window), and per channel the pipeline created in it and the deals it won and lost. JSON-ready."""
    opportunities = scoped_opportunities(team_id=team_id, segment_id=segment_id)
    closed = opportunities.filter(
        stage__in=(OpportunityStage.WON, OpportunityStage.LOST), close_date__range=(start, end)
    )
    # Counted in the database by channel, stage and cycle length (a year of deals is a few thousand
    # groups), rather than every closed deal read into Python: 3-4 times faster at 200,000 closed deals
    # (docs/benchmarks.md, plans). Only the won amounts are read, for the engine's mean.
    groups = (
        closed.annotate(cycle=ExpressionWrapper(F("close_date") - OPENED, output_field=DurationField()))
        .values("channel_id", "stage", "cycle")
        .annotate(n=Count("id"))
        .order_by()
    )
    won = lost = 0
    cycles: list[int] = []
    by_channel: dict[str, dict[str, float]] = defaultdict(lambda: {"pipeline": 0.0, "won": 0, "lost": 0})
    for row in groups:
        key = str(row["channel_id"]) if row["channel_id"] else UNASSIGNED
        n = row["n"]
        if row["stage"] == OpportunityStage.WON:
            won += n
            by_channel[key]["won"] += n
        else:
            lost += n
            by_channel[key]["lost"] += n
        if row["cycle"] is not None:  # no created (nor engaged) date: no cycle
            cycles.extend([row["cycle"].days] * n)
    won_amounts: list[Decimal] = list(
        closed.filter(stage=OpportunityStage.WON, amount__isnull=False)
        .order_by()
        .values_list("amount", flat=True)
    )
    figures = engine.history_figures(won=won, lost=lost, won_amounts=won_amounts, cycle_days=cycles)
    created = (
        opportunities.annotate(opened=OPENED)
        .filter(opened__range=(start, end))
        .values("channel_id")
        .annotate(priced=Sum("amount"), missing=Count("id", filter=Q(amount__isnull=True)))
    )
    unpriced = 0
    for row in created:
        key = str(row["channel_id"]) if row["channel_id"] else UNASSIGNED
        by_channel[key]["pipeline"] += float(row["priced"] or 0) + float(row["missing"]) * (
            figures.deal_size or 0
        )
        unpriced += row["missing"]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        **figures.as_dict(),
        "unpriced_opportunities": unpriced,
        "channels": {key: dict(value) for key, value in sorted(by_channel.items())},
        "computed_at": timezone.now().isoformat(),
    }


# --- what a plan implies ----------------------------------------------------------------------------
@dataclass
class ChannelRow:
    key: str
    name: str
    share: float
    capacity: float | None
    note: str
    quota: float
    opportunities: float
    capped: bool
    suggested: float | None
    historical_win_rate: float | None
    by_month: dict[datetime.date, float] = field(default_factory=dict)


@dataclass
class PlanFigures:
    """A plan's numbers in use (override or history), what they imply, and where each came from."""

    win_rate: float | None
    deal_size: float | None
    cycle_days: int | None
    sources: dict[str, str]  # "history" or "override", per number
    revenue: float
    pipeline: float | None
    opportunities: float | None
    schedule: dict[datetime.date, float]  # pipeline to create per month (one cycle ahead)
    opportunity_schedule: dict[datetime.date, float]
    channels: list[ChannelRow]
    shortfall: float
    problems: list[str]

    creation_window: tuple[datetime.date, datetime.date] | None = None  # first and last day to create

    @property
    def creation_start(self) -> datetime.date | None:
        return self.creation_window[0] if self.creation_window else None

    @property
    def ready(self) -> bool:
        return self.pipeline is not None


def effective_numbers(plan: RevenuePlan) -> tuple[float | None, float | None, int | None, dict[str, str]]:
    history = plan.history_figures or {}
    sources = {}
    if plan.win_rate is not None:
        win_rate, sources["win_rate"] = plan.win_rate, "override"
    else:
        win_rate, sources["win_rate"] = history.get("win_rate"), "history"
    if plan.deal_size is not None:
        deal_size, sources["deal_size"] = float(plan.deal_size), "override"
    else:
        deal_size, sources["deal_size"] = history.get("deal_size"), "history"
    if plan.cycle_days is not None:
        cycle, sources["cycle_days"] = plan.cycle_days, "override"
    else:
        value = history.get("cycle_days")
        cycle, sources["cycle_days"] = (int(round(value)) if value is not None else None), "history"
    return win_rate, deal_size, cycle, sources


def suggested_shares(plan: RevenuePlan, channel_ids: list[int]) -> dict[int, float]:
    """Shares suggested from the plan's history for ``channel_ids`` (pipeline without a channel is left out:
    nobody can be given a quota for it)."""
    stored = (plan.history_figures or {}).get("channels", {})
    history = {
        pk: engine.ChannelHistory(
            pipeline=float(stored.get(str(pk), {}).get("pipeline", 0.0)),
            won=int(stored.get(str(pk), {}).get("won", 0)),
            lost=int(stored.get(str(pk), {}).get("lost", 0)),
        )
        for pk in channel_ids
    }
    return engine.channel_suggestion(history, overall_win_rate=(plan.history_figures or {}).get("win_rate"))


def plan_figures(plan: RevenuePlan, allocations: list[PlanAllocation] | None = None) -> PlanFigures:
    """Everything the plan implies; ``problems`` says what is missing to compute it."""
    allocations = plan_allocations(plan) if allocations is None else allocations
    win_rate, deal_size, cycle, sources = effective_numbers(plan)
    revenue = float(plan.revenue_target)
    problems = []
    if not win_rate:
        problems.append("No win rate: the history has no closed opportunities; set one by hand.")
    if not deal_size:
        problems.append("No deal size: the history has no won amounts; set one by hand.")
    if cycle is None:
        problems.append("No sales cycle: the history has no dated closed opportunities; set one by hand.")
    if problems:
        return PlanFigures(
            win_rate, deal_size, cycle, sources, revenue, None, None, {}, {}, [], 0.0, problems
        )
    pipeline = engine.pipeline_needed(revenue, win_rate)
    opportunities = engine.opportunities_needed(pipeline, deal_size)
    schedule = engine.creation_schedule(
        period_start=plan.period_start, period_end=plan.period_end, amount=pipeline, cycle_days=cycle
    )
    opportunity_schedule = {month: value / deal_size for month, value in schedule.items()}
    shares = {a.channel_id: a.share for a in allocations}
    capacity = {a.channel_id: (float(a.capacity) if a.capacity is not None else None) for a in allocations}
    split = engine.allocate(pipeline, shares, capacity)
    suggested = suggested_shares(plan, [a.channel_id for a in allocations]) if allocations else {}
    stored = (plan.history_figures or {}).get("channels", {})
    rows = []
    for a in allocations:
        quota = split.quota.get(a.channel_id, 0.0)
        h = stored.get(str(a.channel_id), {})
        closed = h.get("won", 0) + h.get("lost", 0)
        rows.append(
            ChannelRow(
                key=str(a.channel_id),
                name=a.channel.name,
                share=a.share,
                capacity=capacity[a.channel_id],
                note=a.note,
                quota=quota,
                opportunities=quota / deal_size,
                capped=a.channel_id in split.capped,
                suggested=suggested.get(a.channel_id),
                historical_win_rate=h.get("won", 0) / closed if closed else None,
                by_month={month: quota * value / pipeline for month, value in schedule.items()}
                if pipeline
                else {},
            )
        )
    if split.shortfall > 0.005:
        problems.append(
            f"The channels' capacities leave {split.shortfall:,.0f} of pipeline without a channel: raise a "
            "capacity, add a channel or lower the target."
        )
    if allocations and abs(sum(shares.values()) - 1) > 0.001:
        problems.append("The channels' shares do not add up to 100%.")
    return PlanFigures(
        win_rate=win_rate,
        deal_size=deal_size,
        cycle_days=cycle,
        sources=sources,
        revenue=revenue,
        pipeline=pipeline,
        opportunities=opportunities,
        schedule=schedule,
        opportunity_schedule=opportunity_schedule,
        channels=rows,
        shortfall=split.shortfall,
        problems=problems,
        creation_window=(
            plan.period_start - datetime.timedelta(days=cycle),
            plan.period_end - datetime.timedelta(days=cycle),
        ),
    )


# --- attainment and forecast ------------------------------------------------------------------------
@dataclass
class Attainment:
    months: list[datetime.date]
    # (month, channel key) → created pipeline and opportunities; channel keys as in ChannelRow, plus
    # UNASSIGNED and channels outside the plan (the whole pipeline is tracked, not only the plan's).
    pipeline: dict[tuple[datetime.date, str], float]
    count: dict[tuple[datetime.date, str], int]
    unpriced: int
    channel_names: dict[str, str]
    forecast: engine.Forecast | None
    in_market_accounts: int

    def month_total(self, month: datetime.date) -> float:
        return sum(v for (m, _), v in self.pipeline.items() if m == month)

    def channel_total(self, key: str) -> float:
        return sum(v for (_, k), v in self.pipeline.items() if k == key)

    def channel_count(self, key: str) -> int:
        return sum(v for (_, k), v in self.count.items() if k == key)

    @property
    def total(self) -> float:
        return sum(self.pipeline.values())

    @property
    def total_count(self) -> int:
        return sum(self.count.values())


def in_market_expected(
    *, deal_size: float, segment_id: int | None = None
) -> tuple[list[tuple[float, float]], int]:
    """(probability, deal size) of each account in market without an open opportunity, and how many there
    are. "In market" is the one definition every page uses (``scoring.metrics.in_market_queryset``: the
    in-market list's qualified accounts), so the forecast's count is the sales metrics' less open deals."""
    open_deal = Exists(Opportunity.objects.filter(account_id=OuterRef("account_id"), stage__in=OPEN_STAGES))
    scores = metrics.in_market_queryset().filter(~open_deal)
    if segment_id:
        scores = scores.filter(
            account_id__in=SegmentMembership.objects.filter(
                segment_id=segment_id, left_at__isnull=True
            ).values("account_id")
        )
    # One float per account, read at once: a server-side cursor (.iterator()) makes PostgreSQL plan for the
    # first rows (a nested loop of index probes for the open deals), five times slower at 100,000
    # accounts than the hash anti-join it picks for the whole result (docs/benchmarks.md, plans).
    probabilities = list(scores.values_list("in_market", flat=True))
    return [(p, deal_size) for p in probabilities], len(probabilities)


def plan_attainment(
    plan: RevenuePlan, figures: PlanFigures, *, today: datetime.date | None = None
) -> Attainment | None:
    """Pipeline and opportunities created each month of the plan's creation window (through the period's
    end), by channel, against its quota; and the forecast to the window's end. None if the plan cannot be
    computed yet."""
    if not figures.ready:
        return None
    today = today or timezone.localdate()
    # The creation window: the period shifted back one cycle. Pipeline created later cannot close in the
    # period; it counts toward the next one.
    start, end = figures.creation_window
    months = engine.months_between(start, end)
    rows = (
        scoped_opportunities(team_id=plan.team_id, segment_id=plan.segment_id)
        .annotate(opened=OPENED)
        .filter(opened__range=(start, min(end, today)))
        .annotate(month=TruncMonth("opened"))
        .values("month", "channel_id")
        .annotate(n=Count("id"), priced=Sum("amount"), missing=Count("id", filter=Q(amount__isnull=True)))
    )
    pipeline: dict[tuple[datetime.date, str], float] = defaultdict(float)
    count: dict[tuple[datetime.date, str], int] = defaultdict(int)
    unpriced = 0
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        key = str(row["channel_id"]) if row["channel_id"] else UNASSIGNED
        pipeline[(month, key)] += float(row["priced"] or 0) + row["missing"] * figures.deal_size
        count[(month, key)] += row["n"]
        unpriced += row["missing"]
    names = {str(c.pk): c.name for c in channels()}
    names[UNASSIGNED] = "No channel"
    by_month = defaultdict(float)
    for (month, _), value in pipeline.items():
        by_month[month] += value
    in_market, accounts = in_market_expected(deal_size=figures.deal_size, segment_id=plan.segment_id)
    outlook = engine.forecast(
        start=start, end=end, today=today, created_by_month=by_month, in_market=in_market
    )
    return Attainment(
        months=months,
        pipeline=dict(pipeline),
        count=dict(count),
        unpriced=unpriced,
        channel_names=names,
        forecast=outlook,
        in_market_accounts=accounts,
    )


def published_plans(*, user, on: datetime.date | None = None) -> QuerySet[RevenuePlan]:
    """The published plans whose period holds ``on`` (default today) or is yet to come."""
    on = on or timezone.localdate()
    return plan_list(user=user, status=[VersionStatus.PUBLISHED]).filter(
        period_start__gte=engine.month_start(on) - datetime.timedelta(days=366)
    )
