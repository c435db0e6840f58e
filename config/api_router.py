"""The one API router: every viewset is registered here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.api import views as accounts_views
from accounts.api.events import EventBatchView
from campaigns.api import views as campaigns_views
from desk.api import views as desk_views
from plans.api import views as plans_views
from playbooks.api import views as playbooks_views
from revops.api import views as revops_views
from scoring.api import views as scoring_views
from scoring.api import whatif as whatif_views
from scoring.delivery import api as webhooks_views
from scoring.learned import api as learned_views

router = DefaultRouter()
router.register("accounts", accounts_views.AccountViewSet)
router.register("contacts", accounts_views.ContactViewSet)
router.register("personas", accounts_views.PersonaViewSet)
router.register("opportunities", accounts_views.OpportunityViewSet)
router.register("technologies", accounts_views.TechnologyViewSet)
router.register("products", accounts_views.ProductViewSet)
router.register("sales-agents", accounts_views.SalesAgentViewSet)
router.register("events", accounts_views.EngagementEventViewSet)
router.register("territories", accounts_views.TerritoryViewSet)
router.register("channels", campaigns_views.ChannelViewSet)
router.register("campaigns", campaigns_views.CampaignViewSet)
router.register("segments", campaigns_views.SegmentViewSet)
router.register("revenue-plans", plans_views.RevenuePlanViewSet)
router.register("playbooks", playbooks_views.PlaybookViewSet)
router.register("play-runs", playbooks_views.PlayRunViewSet)
router.register("play-tasks", playbooks_views.PlayTaskViewSet)
router.register("teams", revops_views.TeamViewSet)
router.register("tokens", revops_views.ApiTokenViewSet)
router.register("jobs", revops_views.JobRunViewSet)
router.register("webhooks", webhooks_views.WebhookEndpointViewSet)
router.register("webhook-deliveries", webhooks_views.WebhookDeliveryViewSet)
router.register("notifications", webhooks_views.NotificationViewSet)
router.register("rulesets", scoring_views.RulesetViewSet)
router.register("lifecycle/transitions", scoring_views.LifecycleTransitionViewSet)
router.register("lifecycle/contacts", scoring_views.LifecycleDecisionViewSet, basename="lifecycle-contact")
router.register("contact-scores", scoring_views.ContactScoreViewSet)
router.register("whatif", whatif_views.WhatIfRunViewSet)
router.register("account-scores", learned_views.AccountModelScoreViewSet)
router.register("stage-transitions", learned_views.BuyingStageTransitionViewSet)
router.register("contact-model-scores", learned_views.ContactModelScoreViewSet)
router.register("models", learned_views.ScoringModelViewSet)
router.register("backtests", learned_views.BacktestViewSet, basename="backtest")
router.register("policies", learned_views.QualificationPolicyViewSet)

urlpatterns = [
    path("events/batch/", EventBatchView.as_view(), name="events-batch"),
    path("rescore/", whatif_views.RescoreView.as_view(), name="rescore"),
    path("sales-metrics/", plans_views.SalesMetricsView.as_view(), name="sales-metrics"),
    path("account-rescore/", learned_views.AccountRescoreView.as_view(), name="account-rescore"),
    path("me/accounts/", desk_views.MyAccountsView.as_view(), name="me-accounts"),
    path("me/queue/", desk_views.MyQueueView.as_view(), name="me-queue"),
    path("me/queue/seen/", desk_views.MyQueueSeenView.as_view(), name="me-queue-seen"),
    path("lifecycle/funnel/", scoring_views.LifecycleFunnelView.as_view(), name="lifecycle-funnel"),
    path("lifecycle/reasons/", scoring_views.LifecycleReasonsView.as_view(), name="lifecycle-reasons"),
    *router.urls,
]
