"""API serializers for channels, campaigns (costs, keys, target, measurement, leaderboard, history) and
segments (criteria, members, previews)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.models import Campaign, CampaignKey, Channel
from revops.api.viewsets import BaseModelSerializer

from ..choices import LeaderboardMetric
from ..models import CampaignMeasurement, CampaignTarget, Segment, SegmentMembership


class ChannelSerializer(BaseModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "name", "slug", "description", "sort_order", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]


class CostLineSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM (a date is read as its month).")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def to_representation(self, instance):
        return {
            "month": instance.month.strftime("%Y-%m"),
            "amount": str(instance.amount),
            "note": instance.note,
        }


class KeySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CampaignKey.Kind.choices)
    value = serializers.CharField(max_length=200)


class TargetSerializer(serializers.Serializer):
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), allow_null=True)
    holdout_share = serializers.FloatField(min_value=0, max_value=0.5, default=0.10)
    launched_at = serializers.DateTimeField(read_only=True)
    seed = serializers.IntegerField(read_only=True)


class CampaignSerializer(BaseModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", queryset=Channel.objects.all())
    cost_lines = CostLineSerializer(
        many=True, required=False, help_text="Replace the cost lines; the cost is their sum."
    )
    keys = KeySerializer(many=True, required=False, help_text="Replace the keys that tie events to it.")
    target = TargetSerializer(
        required=False, allow_null=True, help_text="Target segment and holdout share (fixed once launched)."
    )

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
            "budget",
            "cost",
            "cost_lines",
            "keys",
            "target",
            "owner_team",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]
        extra_kwargs = {"cost": {"min_value": 0}, "budget": {"min_value": 0}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        target = getattr(instance, "target", None) if hasattr(instance, "target") else None
        data["target"] = (
            {
                "segment": target.segment_id,
                "holdout_share": target.holdout_share,
                "launched_at": target.launched_at,
                "seed": target.seed if target.launched_at else None,
            }
            if target
            else None
        )
        data["keys"] = [{"kind": k.kind, "value": k.value} for k in instance.keys.all()]
        return data

    def validate(self, attrs):
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": "Must not be before the start date."})
        return attrs


def target_dict(target: CampaignTarget) -> dict:
    return {
        "segment": target.segment_id,
        "holdout_share": target.holdout_share,
        "launched_at": target.launched_at,
        "seed": target.seed,
        "segment_version": target.segment_version,
    }


class CampaignTargetSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    holdout_share = serializers.FloatField()
    launched_at = serializers.DateTimeField()
    seed = serializers.IntegerField()
    segment_version = serializers.IntegerField()
    treated = serializers.IntegerField(default=0)
    holdout = serializers.IntegerField(default=0)


class CampaignMeasurementSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignMeasurement
        fields = [
            "campaign",
            "measured_at",
            "control",
            "treated",
            "controls",
            "cost",
            "accounts_touched",
            "people_engaged",
            "engagement_lift",
            "engagement_lift_low",
            "engagement_lift_high",
            "engagement_lift_pct",
            "incremental_opportunities",
            "incremental_pipeline",
            "incremental_mqls",
            "cost_per_incremental_opportunity",
            "cost_per_incremental_pipeline_dollar",
            "sourced_pipeline",
            "influenced_pipeline",
            "won_revenue",
            "mqls",
            "detail",
        ]


class LeaderboardQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="Default: six months before the end.")
    end = serializers.DateField(required=False, help_text="Default: today.")
    metric = serializers.ChoiceField(
        choices=LeaderboardMetric.choices, default=LeaderboardMetric.INCREMENTAL_PIPELINE
    )
    channel = serializers.CharField(required=False, default="", help_text="A channel slug.")

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "Must not be before the start."})
        return attrs


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    cut = serializers.BooleanField()
    campaign = serializers.SerializerMethodField()
    measurement = serializers.SerializerMethodField()
    pipeline_per_dollar = serializers.FloatField(allow_null=True)

    def get_campaign(self, row) -> dict:
        c = row.campaign
        return {
            "id": c.pk,
            "name": c.name,
            "channel": c.channel.slug,
            "goal": c.goal,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "cost": str(c.cost),
        }

    def get_measurement(self, row) -> dict | None:
        m = row.measurement
        if m is None:
            return None
        names = [f for f in CampaignMeasurementSerializer.Meta.fields if f not in {"campaign", "detail"}]
        return {name: _plain(getattr(m, name)) for name in names}


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


class LeaderboardSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    metric = serializers.CharField()
    cut_count = serializers.IntegerField()
    totals = serializers.DictField()
    rows = LeaderboardRowSerializer(many=True)


class CampaignTouchSerializer(serializers.Serializer):
    campaign = serializers.DictField()
    start_date = serializers.DateField(allow_null=True)
    end_date = serializers.DateField(allow_null=True)
    touches = serializers.IntegerField()
    people = serializers.IntegerField()
    people_names = serializers.ListField(child=serializers.CharField())
    first_touch = serializers.DateTimeField(allow_null=True)
    last_touch = serializers.DateTimeField(allow_null=True)
    audience_group = serializers.CharField(allow_null=True)
    engagement_before_per_week = serializers.FloatField(allow_null=True)
    engagement_during_per_week = serializers.FloatField(allow_null=True)
    engagement_change_per_week = serializers.FloatField(allow_null=True)
    raised_engagement = serializers.BooleanField(allow_null=True)


class SegmentSerializer(BaseModelSerializer):
    criteria = serializers.JSONField(
        required=False,
        help_text='Filter name → list of values, e.g. {"industry_in": ["Software"], "stage": ["decision"], '
        '"intent_topics": ["lead scoring"], "intent_days": ["30"]}; every accounts-list filter is one too.',
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "criteria",
            "owner_team",
            "version",
            "member_count",
            "refreshed_at",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "version", "member_count", "refreshed_at", "created", "updated"]


class SegmentMemberSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="account.domain", allow_null=True)
    name = serializers.CharField(source="account.name")

    class Meta:
        model = SegmentMembership
        fields = ["account", "name", "domain", "joined_at", "left_at", "version"]


class CriteriaSerializer(serializers.Serializer):
    criteria = serializers.JSONField(help_text="As a segment's criteria.")


class PreviewAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    domain = serializers.CharField(allow_null=True)
    industry = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    accounts = PreviewAccountSerializer(many=True)


class RefreshSerializer(serializers.Serializer):
    joined = serializers.IntegerField()
    left = serializers.IntegerField()
    members = serializers.IntegerField()


class StaticMembersSerializer(serializers.Serializer):
    account_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=1_000_000
    )
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, max_length=1_000_000
    )
    mode = serializers.ChoiceField(choices=["replace", "add", "remove"], default="add")

    def validate(self, attrs):
        if not attrs.get("account_ids") and not attrs.get("domains"):
            raise serializers.ValidationError({"account_ids": "Give account_ids or domains."})
        return attrs
