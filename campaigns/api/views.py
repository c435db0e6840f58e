"""API viewsets for channels and campaigns."""

from accounts.models import Campaign, Channel
from revops.api.viewsets import BaseModelViewSet

from .. import filtersets
from . import serializers


class ChannelViewSet(BaseModelViewSet):
    queryset = Channel.objects.all()
    serializer_class = serializers.ChannelSerializer
    filterset_class = filtersets.ChannelFilterSet
    ordering_fields = ["id", "sort_order", "name"]


class CampaignViewSet(BaseModelViewSet):
    queryset = Campaign.objects.select_related("channel")
    serializer_class = serializers.CampaignSerializer
    filterset_class = filtersets.CampaignFilterSet
    ordering_fields = ["id", "start_date", "cost"]
