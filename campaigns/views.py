"""Web pages for campaigns: the list and a campaign's results (events attributed, opportunities sourced)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from accounts.models import Campaign
from accounts.views import channel_select
from revops.views import Column, ObjectDetailView, ObjectListView

from .filtersets import CampaignFilterSet
from .selectors import campaign_event_counts, campaign_opportunity_stats, campaign_sourced_opportunities

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
        context["sourced_opportunities"] = campaign_sourced_opportunities(
            user=self.request.user, campaign=campaign
        )
        return context
