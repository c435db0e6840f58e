"""API viewsets for the revenue data. Thin: filtering by the shared FilterSets, writes via services."""

from rest_framework import mixins, viewsets

from revops.api.viewsets import BaseModelViewSet
from revops.filtersets import WidenedFilterSet

from .. import filtersets
from ..models import (
    Account,
    Contact,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
    Territory,
)
from . import serializers


class AccountViewSet(BaseModelViewSet):
    # A page of accounts reads its technologies' names in one query (serializers.AccountListSerializer);
    # one account (retrieve, update) reads them through the many-to-many.
    queryset = Account.objects.all()
    serializer_class = serializers.AccountSerializer
    ordering_fields = ["id", "name", "employee_count", "annual_revenue", "created"]

    # The apps above add their filters (scores, stage, segment …): revops.filtersets.
    filterset_class = WidenedFilterSet("accounts.account", filtersets.AccountFilterSet)


class ContactViewSet(BaseModelViewSet):
    queryset = Contact.objects.all()
    serializer_class = serializers.ContactSerializer
    filterset_class = filtersets.ContactFilterSet
    ordering_fields = ["id", "email", "created"]


class PersonaViewSet(BaseModelViewSet):
    queryset = Persona.objects.all()
    serializer_class = serializers.PersonaSerializer
    filterset_class = filtersets.PersonaFilterSet
    ordering_fields = ["id", "name", "priority"]


class OpportunityViewSet(BaseModelViewSet):
    queryset = Opportunity.objects.select_related("channel")
    serializer_class = serializers.OpportunitySerializer
    filterset_class = filtersets.OpportunityFilterSet
    ordering_fields = ["id", "created_date", "close_date", "amount"]


class TechnologyViewSet(BaseModelViewSet):
    queryset = Technology.objects.all()
    serializer_class = serializers.TechnologySerializer
    filterset_fields = ["category"]


class ProductViewSet(BaseModelViewSet):
    queryset = Product.objects.all()
    serializer_class = serializers.ProductSerializer
    filterset_fields = ["series"]


class SalesAgentViewSet(BaseModelViewSet):
    queryset = SalesAgent.objects.all()
    serializer_class = serializers.SalesAgentSerializer
    filterset_fields = ["regional_office", "manager"]


class EngagementEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read the raw events (newest first); write them with POST /api/events/batch/."""

    queryset = EngagementEvent.objects.all()
    serializer_class = serializers.EngagementEventSerializer
    filterset_class = filtersets.EngagementEventFilterSet
    ordering_fields = ["id"]

    def get_queryset(self):
        return super().get_queryset().for_user(self.request.user)


class TerritoryViewSet(BaseModelViewSet):
    """Routing territories, tried in priority order. Everyone reads them; revenue operations edits them."""

    queryset = Territory.objects.select_related("team", "user")
    serializer_class = serializers.TerritorySerializer
    filterset_class = filtersets.TerritoryFilterSet
    ordering_fields = ["priority", "id", "name"]
