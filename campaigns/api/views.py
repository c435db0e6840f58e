"""API viewsets for channels, campaigns (with costs, keys, target, launch, measurement, the leaderboard and
per-account history) and segments (CRUD, members as of a date, preview, refresh, static lists)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import Account, Campaign, Channel, Contact
from revops.api.viewsets import BaseModelViewSet

from .. import filtersets, selectors
from ..measurement import campaign_launch, campaign_measure, campaign_target_set
from ..models import Segment
from ..segments import (
    criteria_preview,
    domains_resolve,
    segment_create,
    segment_delete,
    segment_members_as_of,
    segment_refresh,
    segment_update,
    static_members_set,
)
from ..services import campaign_create, campaign_update
from . import serializers

# Actions beyond CRUD and the permissions each needs (RolePermission reads ``required_permissions``).
_CAMPAIGN_PERMISSIONS = {
    "measurement": ["accounts.view_campaign", "campaigns.view_campaignmeasurement"],
    "measure": ["accounts.change_campaign"],
    "launch": ["accounts.change_campaign", "campaigns.change_campaigntarget"],
    "leaderboard": ["accounts.view_campaign", "campaigns.view_campaignmeasurement"],
    "history": ["accounts.view_campaign"],
}
_SEGMENT_PERMISSIONS = {
    "members": ["campaigns.view_segment", "accounts.view_account"],
    "preview": ["campaigns.view_segment", "accounts.view_account"],
    "refresh": ["campaigns.refresh_segment"],
    "static_members": ["campaigns.change_segment"],
}


def _raise(exc: DjangoValidationError):
    raise ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    ) from exc


class ChannelViewSet(BaseModelViewSet):
    queryset = Channel.objects.all()
    serializer_class = serializers.ChannelSerializer
    filterset_class = filtersets.ChannelFilterSet
    ordering_fields = ["id", "sort_order", "name"]


class CampaignViewSet(BaseModelViewSet):
    """Campaigns. Writes take ``cost_lines`` (month, amount, note) and ``keys`` (kind, value) and the
    target (``target_segment``, ``holdout_share``); ``launch`` draws and records the holdout."""

    queryset = Campaign.objects.select_related("channel", "target").prefetch_related("cost_lines", "keys")
    serializer_class = serializers.CampaignSerializer
    filterset_class = filtersets.CampaignFilterSet
    ordering_fields = ["id", "start_date", "cost"]

    def get_permissions(self):
        if self.action in _CAMPAIGN_PERMISSIONS:
            self.required_permissions = _CAMPAIGN_PERMISSIONS[self.action]
        return super().get_permissions()

    def _save(self, serializer, instance: Campaign | None) -> Campaign:
        data = dict(serializer.validated_data)
        lines = data.pop("cost_lines", None)
        keys = data.pop("keys", None)
        target = data.pop("target", None)
        try:
            with transaction.atomic():
                if instance is None:
                    campaign = campaign_create(
                        actor=self.request.user, data=data, cost_lines=lines, keys=keys
                    )
                else:
                    campaign = campaign_update(
                        actor=self.request.user, campaign=instance, data=data, cost_lines=lines, keys=keys
                    )
                if target is not None:
                    campaign_target_set(
                        actor=self.request.user,
                        campaign=campaign,
                        segment=target.get("segment"),
                        holdout_share=target.get("holdout_share", 0.10),
                    )
        except DjangoValidationError as exc:
            _raise(exc)
        return (
            Campaign.objects.select_related("channel", "target")
            .prefetch_related("cost_lines", "keys")
            .get(pk=campaign.pk)
        )

    def perform_create(self, serializer):
        serializer.instance = self._save(serializer, None)

    def perform_update(self, serializer):
        serializer.instance = self._save(serializer, serializer.instance)

    @extend_schema(request=None, responses=serializers.CampaignTargetSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Launch to the target segment: a reproducible random ``holdout_share`` of it is held out and
        the audience recorded (once)."""
        campaign = self.get_object()
        try:
            target = campaign_launch(actor=request.user, campaign=campaign)
        except DjangoValidationError as exc:
            _raise(exc)
        counts = selectors.campaign_audience_counts(campaign=campaign)
        return Response(
            serializers.CampaignTargetSerializer({**serializers.target_dict(target), **counts}).data
        )

    @extend_schema(responses=serializers.CampaignMeasurementSerializer)
    @action(detail=True, methods=["get"])
    def measurement(self, request, pk=None):
        """The last measurement: lift with 95% intervals, reach, pipeline, costs, weekly series."""
        campaign = self.get_object()
        measurement = selectors.campaign_measurement(campaign=campaign)
        if measurement is None:
            return Response({"detail": "Not measured yet (not started, or no run since)."}, status=404)
        return Response(serializers.CampaignMeasurementSerializer(measurement).data)

    @extend_schema(request=None, responses=serializers.CampaignMeasurementSerializer)
    @action(detail=True, methods=["post"])
    def measure(self, request, pk=None):
        """Measure now (measurements also run after every full rescore)."""
        campaign = self.get_object()
        measurement = campaign_measure(campaign=campaign)
        if measurement is None:
            raise ValidationError({"start_date": ["The campaign has not started yet, or has no start date."]})
        return Response(serializers.CampaignMeasurementSerializer(measurement).data)

    @extend_schema(
        parameters=[serializers.LeaderboardQuerySerializer],
        responses=serializers.LeaderboardSerializer,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def leaderboard(self, request):
        """Programs that ran in a period (default the last six months) ranked by ``metric``, best first,
        the bottom 10% of the ranked ones marked ``cut``, with totals."""
        query = serializers.LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        board = selectors.leaderboard(**query.validated_data)
        return Response(serializers.LeaderboardSerializer(board).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("account", int, description="An account id."),
            OpenApiParameter("contact", int, description="A contact id (instead of an account)."),
        ],
        responses=serializers.CampaignTouchSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def history(self, request):
        """Which campaigns touched an account (or a contact): touches, people, when, and its engaged
        events per week before each campaign and while it ran."""
        account_id, contact_id = request.query_params.get("account"), request.query_params.get("contact")
        if bool(account_id) == bool(contact_id):
            raise ValidationError({"account": ["Give exactly one of account or contact (an id)."]})
        try:
            if account_id:
                if not request.user.has_perm("accounts.view_account"):
                    return Response({"detail": "You may not see accounts."}, status=403)
                account = get_object_or_404(Account.objects.for_user(request.user), pk=int(account_id))
                items = selectors.account_campaign_history(account=account)
            else:
                if not request.user.has_perm("accounts.view_contact"):
                    return Response({"detail": "You may not see contacts."}, status=403)
                contact = get_object_or_404(Contact.objects.for_user(request.user), pk=int(contact_id))
                items = selectors.contact_campaign_history(contact=contact)
        except ValueError as exc:
            raise ValidationError({"account": ["An id is a whole number."]}) from exc
        return Response([item.as_dict() for item in items])


class SegmentViewSet(BaseModelViewSet):
    """Segments: ``criteria`` are filter name → list of values (the accounts list's filters, plus the
    segment-only ones); a static segment's accounts change through ``static-members``."""

    queryset = Segment.objects.select_related("owner_team")
    serializer_class = serializers.SegmentSerializer
    filterset_class = filtersets.SegmentFilterSet
    ordering_fields = ["id", "name", "member_count", "refreshed_at"]

    def get_permissions(self):
        if self.action in _SEGMENT_PERMISSIONS:
            self.required_permissions = _SEGMENT_PERMISSIONS[self.action]
        return super().get_permissions()

    def perform_create(self, serializer):
        try:
            serializer.instance = segment_create(
                actor=self.request.user, data=dict(serializer.validated_data)
            )
        except DjangoValidationError as exc:
            _raise(exc)

    def perform_update(self, serializer):
        try:
            serializer.instance = segment_update(
                actor=self.request.user, segment=serializer.instance, data=dict(serializer.validated_data)
            )
        except DjangoValidationError as exc:
            _raise(exc)

    def perform_destroy(self, instance):
        try:
            segment_delete(actor=self.request.user, segment=instance)
        except DjangoValidationError as exc:
            _raise(exc)

    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", datetime.datetime, description="Members at this moment (ISO).")
        ],
        responses=serializers.SegmentMemberSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["joined_at"])
    def members(self, request, pk=None):
        """The members now, or at ``as_of`` (joined on or before it, not left by then), with the dates
        they joined and left and the segment version that put them in."""
        segment = self.get_object()
        text = request.query_params.get("as_of")
        if text:
            parsed = drf_serializers.DateTimeField().run_validation(text)
            rows = segment_members_as_of(segment=segment, at=parsed)
        else:
            rows = segment.memberships.filter(left_at__isnull=True)
        rows = rows.select_related("account").order_by("-joined_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializers.SegmentMemberSerializer(page, many=True).data)

    @extend_schema(request=serializers.CriteriaSerializer, responses=serializers.PreviewSerializer)
    @action(detail=False, methods=["post"], filterset_class=None)
    def preview(self, request):
        """How many accounts ``criteria`` select, and the first 20 by name. Writes nothing."""
        body = serializers.CriteriaSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            preview = criteria_preview(body.validated_data["criteria"])
        except DjangoValidationError as exc:
            _raise(exc)
        return Response(serializers.PreviewSerializer(preview).data)

    @extend_schema(request=None, responses=serializers.RefreshSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Bring the stored membership up to date now (it also refreshes after every rescore)."""
        segment = self.get_object()
        return Response(segment_refresh(segment=segment))

    @extend_schema(request=serializers.StaticMembersSerializer, responses=serializers.RefreshSerializer)
    @action(detail=True, methods=["post"], url_path="static-members")
    def static_members(self, request, pk=None):
        """Replace, add to or remove from a static segment's list, by account ids or domains."""
        segment = self.get_object()
        body = serializers.StaticMembersSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = list(body.validated_data.get("account_ids", []))
        missing: list[str] = []
        if body.validated_data.get("domains"):
            found, missing = domains_resolve(body.validated_data["domains"])
            ids += found
        try:
            result = static_members_set(
                actor=request.user, segment=segment, account_ids=ids, mode=body.validated_data["mode"]
            )
        except DjangoValidationError as exc:
            _raise(exc)
        return Response({**result, "unknown_domains": missing}, status=status.HTTP_200_OK)
