"""The project's own page: the dashboard, which reads every app (the shell stands above them all)."""

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from accounts import selectors
from scoring import metrics
from scoring.learned.views import STAGE_COLOURS

# The lifecycle stages the dashboard counts (the whole list is on the funnel page).
DASHBOARD_STAGES = ["mql", "sal", "sql", "opportunity", "customer"]


class HomeView(LoginRequiredMixin, TemplateView):
    """The dashboard: headline numbers, contacts currently at each lifecycle stage, the last 30 days of
    engagement, accounts by buying stage and in market (the learned scores), recent opportunities.

    Only cheap queries: planner estimates for big tables on PostgreSQL, the daily rollups for events
    (never the raw events table), one aggregate over open opportunities.
    """

    template_name = "home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        # Headline numbers and 30 days of engagement (half a million rollup rows at 100,000 accounts):
        # kept a few minutes and after each full rescore, shown "as of" (scoring.metrics.figure_kept).
        summary, context["summary_as_of"] = metrics.figure_kept(
            "dashboard_summary", lambda: selectors.dashboard_summary(user=user), user=user
        )
        context["summary"] = summary
        context["events_by_day"] = {
            "label": "Events",
            "labels": [day.strftime("%d %b") for day, _ in summary.events_by_day],
            "values": [n for _, n in summary.events_by_day],
        }
        context["recent_opportunities"] = (
            selectors.opportunity_recent_list(user=user) if user.has_perm("accounts.view_opportunity") else []
        )
        if user.has_perm("accounts.view_contact"):
            # Currently <stage>: the contacts list filtered to each stage (scoring.metrics), a million
            # contacts counted: kept until a lifecycle move or a contact is added (or a full rescore).
            counts, context["lifecycle_as_of"] = metrics.figure_kept(
                "contacts_by_stage",
                lambda: metrics.contacts_by_stage(user=user),
                user=user,
                version=metrics.lifecycle_version,
            )
            context["lifecycle_now"] = [
                {"stage": stage, "label": metrics.stage_now_label(stage), "contacts": counts[stage]}
                for stage in DASHBOARD_STAGES
            ]
        if user.has_perm("scoring.view_accountmodelscore"):
            stages = metrics.buying_stage_summary(user=user)
            for stage in stages["stages"]:
                stage["colour"] = STAGE_COLOURS.get(stage["value"], "secondary")
            context["buying_stages"] = stages
        return context
