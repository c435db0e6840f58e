"""Web pages for campaigns: the list and a campaign's results (events attributed, opportunities sourced)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from accounts.choices import OPEN_STAGES, OpportunityStage
from accounts.models import Campaign, EngagementEvent, Opportunity
from accounts.views import channel_select
from revops.views import Column, ObjectDetailView, ObjectListView

from .filtersets import CampaignFilterSet


# These reads belong in campaigns/selectors.py (not part of this change); kept small and bounded here.
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


_EMPTY_STATS = {"n": 0, "pipeline": None, "open_pipeline": None, "won": 0, "won_amount": None}


class CampaignListView(ObjectListView):
    """Campaigns, filtered by the CampaignFilterSet, with what each one produced."""

    model = Campaign
    filterset_class = CampaignFilterSet
    template_name = "campaigns/campaign_list.html"
    columns = [
        Column("name", "Name", ("name",)),
        Column("channel", "Channel", ("channel__sort_order", "channel__name")),
        Column("goal", "Goal", ("goal",)),
        Column("start", "Start", ("start_date",)),
        Column("end", "End", ("end_date",)),
        Column("cost", "Cost", ("cost",), numeric=True),
        Column("events", "Events attributed", numeric=True),
        Column("opportunities", "Opportunities sourced", numeric=True),
        Column("pipeline", "Pipeline sourced", numeric=True),
    ]
    default_sort = "-start"
    primary_filters = ["q", "channel", "goal", "active_on"]
    filter_labels = {"owner_team": "Owner team id"}

    def get_queryset(self):
        return super().get_queryset().select_related("channel", "owner_team")

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        channel_select(form)

    def decorate_rows(self, rows: list[Campaign]) -> None:
        ids = [c.pk for c in rows]
        events = campaign_event_counts(campaign_ids=ids)
        stats = campaign_opportunity_stats(campaign_ids=ids)
        for campaign in rows:
            campaign.event_count = events.get(campaign.pk, 0)
            campaign.opportunity_stats = stats.get(campaign.pk, _EMPTY_STATS)


class CampaignDetailView(ObjectDetailView):
    """A campaign: channel, goal, dates, cost, and the events and opportunities it produced."""

    model = Campaign
    template_name = "campaigns/campaign_detail.html"
    select_related = ("channel", "owner_team")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        campaign = self.object
        stats = campaign_opportunity_stats(campaign_ids=[campaign.pk]).get(campaign.pk, _EMPTY_STATS)
        context["event_count"] = campaign_event_counts(campaign_ids=[campaign.pk]).get(campaign.pk, 0)
        context["stats"] = stats
        context["cost_per_opportunity"] = (
            (campaign.cost / stats["n"]).quantize(Decimal(1)) if stats["n"] and campaign.cost else None
        )
        context["pipeline_per_dollar"] = (
            (stats["pipeline"] / campaign.cost).quantize(Decimal("0.1"))
            if stats["pipeline"] and campaign.cost
            else None
        )
        context["sourced_opportunities"] = list(
            Opportunity.objects.for_user(self.request.user)
            .filter(source_campaign=campaign)
            .select_related("account", "channel")
            .order_by("-created_date", "-id")[:20]
        )
        return context
