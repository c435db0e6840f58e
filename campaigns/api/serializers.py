"""API serializers for channels and campaigns."""

from rest_framework import serializers

from accounts.models import Campaign, Channel
from revops.api.viewsets import BaseModelSerializer


class ChannelSerializer(BaseModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "name", "slug", "description", "sort_order", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]


class CampaignSerializer(BaseModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", queryset=Channel.objects.all())

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "goal",
            "description",
            "start_date",
            "end_date",
            "cost",
            "owner_team",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]
        extra_kwargs = {"cost": {"min_value": 0}}

    def validate(self, attrs):
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": "Must not be before the start date."})
        return attrs
