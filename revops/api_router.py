"""The one API router: every viewset is registered here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.api import views as accounts_views
from accounts.api.events import EventBatchView
from campaigns.api import views as campaigns_views
from revops.api import views as revops_views

router = DefaultRouter()
router.register("accounts", accounts_views.AccountViewSet)
router.register("contacts", accounts_views.ContactViewSet)
router.register("personas", accounts_views.PersonaViewSet)
router.register("opportunities", accounts_views.OpportunityViewSet)
router.register("technologies", accounts_views.TechnologyViewSet)
router.register("products", accounts_views.ProductViewSet)
router.register("sales-agents", accounts_views.SalesAgentViewSet)
router.register("events", accounts_views.EngagementEventViewSet)
router.register("channels", campaigns_views.ChannelViewSet)
router.register("campaigns", campaigns_views.CampaignViewSet)
router.register("teams", revops_views.TeamViewSet)
router.register("tokens", revops_views.ApiTokenViewSet)

urlpatterns = [
    path("events/batch/", EventBatchView.as_view(), name="events-batch"),
    *router.urls,
]
