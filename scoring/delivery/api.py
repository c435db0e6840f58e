"""API for webhook endpoints, their delivery log, and the teams' notifications.

Rows are scoped to the user's teams; endpoints are managed (and tested, and deliveries retried) by
leads of the endpoint's team. Writes go through the services in ``scoring.delivery.webhooks`` and
``scoring.delivery.notifications``.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from revops.api.viewsets import BaseModelSerializer, BaseModelViewSet
from revops.models import Team
from scoring import filtersets
from scoring.choices import DeliveryStatus
from scoring.delivery import notifications, webhooks
from scoring.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint


# --- serializers ----------------------------------------------------------------------------------
class WebhookEndpointSerializer(BaseModelSerializer):
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        help_text="A team you lead; optional when you lead exactly one. Cannot change later.",
    )
    url = serializers.URLField(max_length=500, help_text="http:// or https://; receives signed POSTs.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=webhooks.EVENT_TYPE_CHOICES),
        required=False,
        help_text="Empty: every event type. `ping` (tests) is always sent.",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        min_length=16,
        max_length=100,
        help_text="Optional: generated when not given. Shown once, in the create response.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "team", "name", "url", "event_types", "active", "secret", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Enter an http:// or https:// URL.")
        return value

    def validate_event_types(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_team(self, team: Team) -> Team:
        if self.instance is not None and team.pk != self.instance.team_id:
            raise serializers.ValidationError("The team of an endpoint cannot change.")
        return team


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Keep it: it signs every delivery.")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["id", "at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_status_code",
            "last_error",
            "payload",
            "attempt_log",
            "created",
            "updated",
        ]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)
    read_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When you read it (null: unread for you); per person."
    )

    class Meta:
        model = Notification
        fields = [
            "id", "team", "team_name", "user", "kind", "title", "url", "contact", "account_ids", "read_at",
            "created",
        ]  # fmt: skip
        read_only_fields = fields


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Notifications marked read.")


# --- viewsets -------------------------------------------------------------------------------------
_MANAGE_ACTIONS = {"update", "partial_update", "destroy", "test"}


class WebhookEndpointViewSet(BaseModelViewSet):
    """Your teams' webhook endpoints. Leads of the team create, change, delete and test them."""

    queryset = WebhookEndpoint.objects.select_related("team")
    serializer_class = WebhookEndpointSerializer
    filterset_class = filtersets.WebhookEndpointFilterSet
    ordering_fields = ["id", "name"]

    def get_queryset(self):
        action = {"destroy": "delete"}.get(
            self.action, "change" if self.action in _MANAGE_ACTIONS else "view"
        )
        return webhooks.webhook_endpoint_list(user=self.request.user, action=action).order_by("id")

    def get_permissions(self):
        if self.action == "test":
            self.required_permissions = ["scoring.change_webhookendpoint"]
        elif self.action == "deliveries":
            self.required_permissions = ["scoring.view_webhookendpoint", "scoring.view_webhookdelivery"]
        return super().get_permissions()

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Create an endpoint for a team you lead; the response shows its secret (once)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        allowed = webhooks.lead_teams(user=request.user)
        team = data.pop("team", None)
        if team is None:
            led = list(allowed[:2])
            if len(led) != 1:
                raise exceptions.ValidationError({"team": ["Choose the team (one that you lead)."]})
            team = led[0]
        elif not allowed.filter(pk=team.pk).exists():
            raise exceptions.PermissionDenied("Only leads of the team manage its webhooks.")
        endpoint = webhooks.webhook_endpoint_create(actor=request.user, team=team, **data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "team"}
        serializer.instance = webhooks.webhook_endpoint_update(
            actor=self.request.user, endpoint=serializer.instance, data=data
        )

    def perform_destroy(self, instance):
        webhooks.webhook_endpoint_delete(actor=self.request.user, endpoint=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, many=True, enum=DeliveryStatus.values, description="Only these statuses."
            ),
            OpenApiParameter("event_type", str, description="e.g. contact.mql, contact.sql, ping"),
        ],
        responses=WebhookDeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """The endpoint's delivery log, newest first (cursor-paginated), each with its attempts."""
        endpoint = self.get_object()
        queryset = endpoint.deliveries.prefetch_related("attempt_log")
        filterset = filtersets.WebhookDeliveryFilterSet(
            request.query_params, queryset=queryset, request=request
        )
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `ping` event now, through the delivery table (its result is in the delivery log)."""
        delivery = webhooks.webhook_ping_send(actor=request.user, endpoint=self.get_object())
        delivery.refresh_from_db()  # in the embedded mode it has been sent already
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deliveries to your teams' endpoints; leads of the team retry them."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    filterset_class = filtersets.WebhookDeliveryFilterSet
    ordering_fields = ["id"]

    def get_queryset(self):
        manage = self.action == "retry"
        return webhooks.webhook_delivery_list(user=self.request.user, manage=manage).prefetch_related(
            "attempt_log"
        )

    def get_permissions(self):
        if self.action == "retry":
            self.required_permissions = ["scoring.change_webhookendpoint"]
        return super().get_permissions()

    @extend_schema(request=None, responses=WebhookDeliverySerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Redeliver now: the same event id and body, whatever the status. Audited."""
        delivery = webhooks.delivery_retry_now(delivery=self.get_object(), user=request.user)
        delivery = self.get_queryset().get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data)


@extend_schema_view(list=extend_schema(description="Notifications of your teams, newest first."))
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your teams' notifications and those addressed to you. Marking read (members and leads) marks it
    read by you only: your teammates still see it unread."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = filtersets.NotificationFilterSet
    ordering_fields = ["id"]

    def get_queryset(self):
        return notifications.notification_list(user=self.request.user)

    def get_permissions(self):
        if self.action in {"read", "read_all"}:
            self.required_permissions = ["scoring.view_notification", "scoring.change_notification"]
        return super().get_permissions()

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark this notification read."""
        notification = notifications.notification_mark_read(
            actor=request.user, notification=self.get_object()
        )
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        request=None, responses={200: OpenApiResponse(MarkedSerializer, description="How many were marked.")}
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark every notification you have not read as read by you."""
        return Response({"marked": notifications.notification_mark_all_read(actor=request.user)})
