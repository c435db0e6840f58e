"""Output of the desk's API: my accounts with their stored scores, and my queue's sections."""

from rest_framework import serializers

from accounts.models import Account, Contact
from playbooks.api.views import PlayTaskSerializer


class MyAccountSerializer(serializers.ModelSerializer):
    """An account with its owner, owning team and stored scores (null when not scored yet)."""

    stage = serializers.CharField(source="model_score.stage", default=None, read_only=True)
    in_market = serializers.FloatField(source="model_score.in_market", default=None, read_only=True)
    in_market_band = serializers.CharField(source="model_score.in_market_band", default=None, read_only=True)
    profile_fit = serializers.FloatField(source="model_score.profile_fit", default=None, read_only=True)
    qualified = serializers.BooleanField(source="model_score.qualified", default=None, read_only=True)
    fit_grade = serializers.CharField(source="rule_score.fit_grade", default=None, read_only=True)
    engagement_grade = serializers.CharField(
        source="rule_score.engagement_grade", default=None, read_only=True
    )

    class Meta:
        model = Account
        fields = [
            "id", "name", "domain", "industry", "employee_count", "country", "owner", "owner_team",
            "stage", "in_market", "in_market_band", "profile_fit", "qualified", "fit_grade",
            "engagement_grade",
        ]  # fmt: skip
        read_only_fields = fields


class QueueContactSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", default=None, read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id", "email", "first_name", "last_name", "title", "account", "account_name", "owner",
            "owner_team", "lifecycle_stage", "updated",
        ]  # fmt: skip
        read_only_fields = fields


class QueueSectionSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many in all (the list shows at most 100).")


class QueueMqlsSerializer(QueueSectionSerializer):
    items = QueueContactSerializer(many=True)


class QueueQualifiedSerializer(QueueSectionSerializer):
    since = serializers.DateTimeField(help_text="Newly qualified means qualified after this moment.")
    since_marked = serializers.BooleanField(
        help_text="Whether `since` is when you last marked the queue seen."
    )
    items = MyAccountSerializer(many=True)


class QueuePlaysSerializer(QueueSectionSerializer):
    items = PlayTaskSerializer(many=True, help_text="Open tasks of running plays, due first.")


class QueueSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["mine", "team"])
    mqls_to_accept = QueueMqlsSerializer()
    newly_qualified = QueueQualifiedSerializer()
    plays_due = QueuePlaysSerializer()


class QueueSeenSerializer(serializers.Serializer):
    seen_at = serializers.DateTimeField()
