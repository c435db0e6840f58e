"""Base API classes: thin viewsets whose writes go through the audited services."""

from rest_framework import serializers, viewsets

from revops import services

_ACTION_PERMISSION = {
    "list": "view",
    "retrieve": "view",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


class StrictFieldsMixin:
    """Reject keys the serializer does not know, instead of silently ignoring them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class BaseModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """ModelSerializer with explicit fields, strict input, and no writes of its own (services write)."""

    def create(self, validated_data):  # pragma: no cover - viewsets call the services
        raise NotImplementedError("Writes go through revops.services")

    def update(self, instance, validated_data):  # pragma: no cover
        raise NotImplementedError("Writes go through revops.services")


class BaseModelViewSet(viewsets.ModelViewSet):
    """CRUD over one model: permission-scoped querysets, audited writes through services."""

    def get_queryset(self):
        action = _ACTION_PERMISSION.get(self.action, "view")
        return super().get_queryset().for_user(self.request.user, action)

    def perform_create(self, serializer):
        serializer.instance = services.object_create(
            model=self.queryset.model, actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.object_update(
            instance=serializer.instance, actor=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.object_delete(instance=instance, actor=self.request.user)
