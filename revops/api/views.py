"""API viewsets for teams and API tokens."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import services
from ..models import ApiToken, JobRun, Team
from . import serializers
from .viewsets import BaseModelViewSet


class TeamViewSet(BaseModelViewSet):
    queryset = Team.objects.prefetch_related("memberships__user")
    serializer_class = serializers.TeamSerializer
    filterset_fields = ["kind"]
    ordering_fields = ["id", "name"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.team_create(
            actor=self.request.user,
            name=data["name"],
            kind=data["kind"],
            description=data.get("description", ""),
        )

    @extend_schema(request=serializers.MembershipWriteSerializer, responses=serializers.MembershipSerializer)
    @action(detail=True, methods=["post"], url_path="members")
    def set_member(self, request, pk=None):
        """Add a user to the team, or change their role."""
        if not request.user.has_perm("revops.change_membership"):
            return Response({"detail": "You may not manage team members."}, status=status.HTTP_403_FORBIDDEN)
        team = self.get_object()
        payload = serializers.MembershipWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.membership_set(actor=request.user, team=team, **payload.validated_data)
        return Response(serializers.MembershipSerializer(membership).data)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your API tokens (revenue-operations admins see all). Create shows the key once; revoke ends it."""

    queryset = ApiToken.objects.select_related("user")
    serializer_class = serializers.ApiTokenSerializer
    filterset_fields = ["revoked_at"]

    def get_queryset(self):
        qs = super().get_queryset().for_user(self.request.user)
        if not self.request.user.has_perm("revops.delete_apitoken"):
            qs = qs.filter(user=self.request.user)
        return qs

    @extend_schema(
        summary="Create an API token for yourself",
        description="The key is in the answer once. Signed in, you may give the token any of those scopes; "
        "authenticated with a token, only scopes that token has itself (a subset; more is 403). "
        "Either way only scopes your permissions could use (read: any view permission; write: any add, "
        "change or delete permission; ingest: adding events); another is 403. "
        "A token acts as you: every request is also checked against your current permissions.",
        request=serializers.ApiTokenCreateSerializer,
        responses={201: serializers.ApiTokenCreatedSerializer},
    )
    def create(self, request):
        payload = serializers.ApiTokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        via_token = request.auth if isinstance(request.auth, ApiToken) else None
        try:
            token, key = services.api_token_create(
                actor=request.user,
                user=request.user,
                via_token=via_token,
                check_grantable=True,
                **payload.validated_data,
            )
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        token.key = key
        return Response(serializers.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=serializers.ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the token now; requests with it fail from then on."""
        token = services.api_token_revoke(actor=request.user, token=self.get_object())
        return Response(serializers.ApiTokenSerializer(token).data)

    def get_permissions(self):
        # Creating and revoking tokens is "changing" them; the role map grants that to leads and revops.
        if self.action in {"create", "revoke"}:
            self.required_permissions = ["revops.add_apitoken", "revops.change_apitoken"]
        return super().get_permissions()


class JobRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Long jobs (imports, rescores) with their progress: poll ``/api/jobs/{id}/`` after starting one.

    Import jobs are listed to their creator only (and to revenue-operations admins), as on the import
    pages: they hold the file's rejected rows. Server file paths are never shown.
    """

    queryset = JobRun.objects.select_related("created_by").order_by("-created", "-id")
    serializer_class = serializers.JobRunSerializer
    filterset_fields = ["kind", "status"]

    def get_queryset(self):
        return super().get_queryset().for_user(self.request.user)
