"""API serializers for teams, memberships and API tokens."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from ..choices import TokenScope
from ..models import ApiToken, JobRun, Membership, Team
from .viewsets import BaseModelSerializer


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role"]
        read_only_fields = fields


class TeamSerializer(BaseModelSerializer):
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "kind", "description", "memberships", "created", "updated"]
        read_only_fields = ["id", "slug", "memberships", "created", "updated"]


class MembershipWriteSerializer(serializers.Serializer):
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all())
    role = serializers.ChoiceField(choices=Membership._meta.get_field("role").choices)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "user",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TokenScope.choices), allow_empty=False
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("A new token must expire in the future (or never: omit it).")
        return value


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once: store it now, it cannot be retrieved.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


# Where a job's files live on the server: stored for the workers, never shown (the file name is).
SERVER_FILE_KEYS = frozenset({"path", "file", "errors_file"})


class JobRunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if isinstance(data.get("params"), dict):
            data["params"] = {k: v for k, v in data["params"].items() if k not in SERVER_FILE_KEYS}
        return data

    class Meta:
        model = JobRun
        fields = [
            "id", "kind", "status", "progress", "total", "percent", "message", "params", "result",
            "created_by", "created", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields
