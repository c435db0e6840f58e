"""Reads of what campaigns produced: events attributed, opportunities sourced (bounded, grouped queries)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, Sum

from accounts.choices import OPEN_STAGES, OpportunityStage
from accounts.models import Campaign, EngagementEvent, Opportunity


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
