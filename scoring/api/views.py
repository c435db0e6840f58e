"""API for versions of the rules and their workflow, sales' lifecycle decisions, the funnel and scores.

Thin: every write calls one service of ``scoring.workflow`` or ``scoring.lifecycle``; the services
check who may do what and raise ``WorkflowError`` for impossible state changes, which become 409
(412 for a stale edit, 428 for an edit without ``If-Match``).
"""

from __future__ import annotations

import datetime

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Contact
from revops.api.documents import IF_MATCH, WorkflowErrorsMixin
from revops.api.pagination import CursorPagination, FixedOrderCursorPagination
from scoring import filtersets, lifecycle, metrics, selectors, workflow
from scoring.api import serializers
from scoring.exceptions import StaleRevision
from scoring.models import ContactScore, LifecycleTransition, Ruleset, RulesetApproval
from scoring.rescore import contact_score_as_of

# Keys of the document that are state, not content: ignored when a client sends the document back.
_READ_ONLY_KEYS = {*serializers.RulesetSerializer.Meta.fields} - {*selectors.DEFINITION_FIELDS, "rules"}
_ERROR = OpenApiResponse(description="{detail} saying why.")


def _document_queryset():
    return Ruleset.objects.select_related("based_on").prefetch_related(
        "rules", Prefetch("approvals", queryset=RulesetApproval.objects.select_related("user"))
    )


_RULESET_PERMISSIONS = {
    "list": ["scoring.view_ruleset"],
    "retrieve": ["scoring.view_ruleset"],
    "diff": ["scoring.view_ruleset"],
    "history": ["scoring.view_ruleset", "scoring.view_rulesethistory"],
    "create": ["scoring.add_ruleset"],
    "update": ["scoring.change_ruleset"],
    "partial_update": ["scoring.change_ruleset"],
    "destroy": ["scoring.change_ruleset"],
    "propose": ["scoring.change_ruleset"],
    "withdraw": ["scoring.change_ruleset"],
    "approve": ["scoring.approve_ruleset"],
    "reject": ["scoring.approve_ruleset"],
    "publish": ["scoring.publish_ruleset"],
    "rollback": ["scoring.publish_ruleset"],
}


# PUT and PATCH of a draft answer alike: 412 (stale If-Match) and 428 (none) are PATCH's answers too.
_EDIT_RESPONSES = {
    200: serializers.RulesetSerializer,
    400: OpenApiResponse(description="Field → messages."),
    409: _ERROR,
    412: serializers.RulesetConflictSerializer,
    428: _ERROR,
}


class OldestFirstPagination(FixedOrderCursorPagination):
    """A version's comments, oldest first, a page at a time like every list of the API."""

    ordering = ("created", "id")


class HistoryPagination(FixedOrderCursorPagination):
    ordering = ("at", "id")


@extend_schema_view(
    list=extend_schema(
        summary="Versions of the rules", responses=serializers.RulesetListSerializer(many=True)
    ),
    retrieve=extend_schema(
        summary="A version's whole document",
        description="Definition fields, rules in order, approvals and the revision; the ETag header "
        "guards edits (send it back in If-Match).",
    ),
)
class RulesetViewSet(
    WorkflowErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Versions of the scoring rules and lifecycle definitions, and their workflow."""

    queryset = Ruleset.objects.all()
    serializer_class = serializers.RulesetSerializer
    filterset_class = filtersets.RulesetFilterSet
    ordering_fields = ["number", "id"]
    ordering = ("-number",)

    def get_permissions(self):
        if self.action == "comments":
            self.required_permissions = (
                ["scoring.view_rulesetcomment"]
                if self.request.method in ("GET", "HEAD", "OPTIONS")
                else ["scoring.add_rulesetcomment"]
            )
        elif self.action in _RULESET_PERMISSIONS:
            self.required_permissions = _RULESET_PERMISSIONS[self.action]
        return super().get_permissions()

    def get_queryset(self):
        qs = _document_queryset() if self.action != "list" else Ruleset.objects.select_related("based_on")
        return qs.for_user(self.request.user)

    def get_serializer_class(self):
        return serializers.RulesetListSerializer if self.action == "list" else serializers.RulesetSerializer

    def _document(self, ruleset: Ruleset, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _document_queryset().get(pk=ruleset.pk)
        data = serializers.RulesetSerializer(fresh).data
        return Response(data, status=status_code, headers={"ETag": fresh.etag})

    def retrieve(self, request, *args, **kwargs):
        ruleset = self.get_object()
        return Response(serializers.RulesetSerializer(ruleset).data, headers={"ETag": ruleset.etag})

    def current_body(self, exc: StaleRevision) -> dict:
        # Edited since the client read it (412): what changed since their revision, and the document now.
        return {
            "changes_since_yours": serializers.RulesetChangeSerializer(
                selectors.ruleset_changes_since(ruleset=exc.current, revision=self.client_revision or 0),
                many=True,
            ).data,
            "current": serializers.RulesetSerializer(_document_queryset().get(pk=exc.current.pk)).data,
        }

    @extend_schema(
        summary="Start a draft",
        description="Copies every definition field and rule of `based_on` (default: the published version).",
        request=serializers.RulesetCreateSerializer,
        responses={201: serializers.RulesetSerializer, 403: _ERROR},
    )
    def create(self, request, *args, **kwargs):
        payload = serializers.RulesetCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        draft = workflow.ruleset_draft_create(
            user=request.user,
            based_on=payload.validated_data.get("based_on"),
            name=payload.validated_data.get("name"),
        )
        return self._document(draft, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a draft",
        description="PUT sends the whole document (``rules`` is the full new list: rules keep their ids, "
        "left-out rules are deleted); PATCH sends only the fields to change. Read-only keys of the "
        "document (status, revision …) are ignored. Errors are keyed by field, rules as `rules[3].points`.",
        parameters=[IF_MATCH],
        request=serializers.RulesetWriteSerializer,
        responses=_EDIT_RESPONSES,
    )
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        ruleset = self.get_object()
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send the document as a JSON object."]})
        data = {k: v for k, v in request.data.items() if k not in _READ_ONLY_KEYS}
        rules = data.pop("rules", None)
        if not partial and rules is None:
            raise exceptions.ValidationError(
                {"rules": ["Required with PUT (the full list); use PATCH otherwise."]}
            )
        saved = workflow.ruleset_update(
            ruleset=ruleset,
            user=request.user,
            expected_revision=self.if_match(request, ruleset),
            data=data,
            rules=rules,
        )
        return self._document(saved)

    @extend_schema(
        parameters=[IF_MATCH], request=serializers.RulesetWriteSerializer, responses=_EDIT_RESPONSES
    )
    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    @extend_schema(summary="Delete a draft", responses={204: None, 403: _ERROR, 409: _ERROR})
    def destroy(self, request, *args, **kwargs):
        workflow.ruleset_draft_delete(ruleset=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Propose a draft for approval",
        request=None,
        responses={200: serializers.RulesetSerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        return self._document(workflow.ruleset_propose(ruleset=self.get_object(), user=request.user))

    @extend_schema(
        summary="Withdraw a proposal (back to draft)",
        request=None,
        responses={200: serializers.RulesetSerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._document(workflow.ruleset_withdraw(ruleset=self.get_object(), user=request.user))

    @extend_schema(
        summary="Approve a proposed version for your team",
        description="A marketing lead and a sales lead approve; the proposer may not (four eyes).",
        request=None,
        responses={200: serializers.RulesetSerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        ruleset = self.get_object()
        workflow.ruleset_approve(ruleset=ruleset, user=request.user)
        return self._document(ruleset)

    @extend_schema(
        summary="Reject a proposed version (back to draft, with the reason)",
        request=serializers.RulesetRejectSerializer,
        responses={200: serializers.RulesetSerializer, 400: OpenApiResponse(), 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        ruleset = self.get_object()
        payload = serializers.RulesetRejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return self._document(
            workflow.ruleset_reject(
                ruleset=ruleset, user=request.user, reason=payload.validated_data["reason"]
            )
        )

    @extend_schema(
        summary="Publish an approved version now, or schedule it",
        request=serializers.RulesetPublishSerializer,
        responses={200: serializers.RulesetSerializer, 400: OpenApiResponse(), 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        ruleset = self.get_object()
        payload = serializers.RulesetPublishSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return self._document(
            workflow.ruleset_publish(ruleset=ruleset, user=request.user, at=payload.validated_data.get("at"))
        )

    @extend_schema(
        summary="Roll back: publish this earlier version again",
        request=None,
        responses={200: serializers.RulesetSerializer, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return self._document(workflow.ruleset_rollback(target=self.get_object(), user=request.user))

    @extend_schema(
        summary="What changed against another version",
        parameters=[
            OpenApiParameter(
                "other", OpenApiTypes.INT, description="The version to compare with; default: based_on."
            )
        ],
        responses={200: serializers.RulesetDiffSerializer, 400: OpenApiResponse()},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        ruleset = self.get_object()
        other_id = request.query_params.get("other")
        if other_id in (None, ""):
            other = ruleset.based_on
            if other is None:
                raise exceptions.ValidationError(
                    {"other": ["This version has no based_on: say which to compare."]}
                )
        else:
            if not other_id.isdigit():
                raise exceptions.ValidationError({"other": ["A version id is required."]})
            other = selectors.ruleset_visible(user=request.user, pk=int(other_id))
            if other is None:
                raise exceptions.ValidationError({"other": [f"No version with id {other_id}."]})
        diff = selectors.ruleset_diff(old=other, new=ruleset)
        return Response(serializers.RulesetDiffSerializer({"old": other.pk, "new": ruleset.pk, **diff}).data)

    @extend_schema(
        methods=["GET"],
        summary="Comments on this version",
        responses=serializers.RulesetCommentSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Comment on this version",
        request=serializers.RulesetCommentCreateSerializer,
        responses={201: serializers.RulesetCommentSerializer, 400: OpenApiResponse(), 403: _ERROR},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=OldestFirstPagination, filter_backends=[])
    def comments(self, request, pk=None):
        ruleset = self.get_object()
        if request.method == "POST":
            payload = serializers.RulesetCommentCreateSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            comment = workflow.ruleset_comment_add(
                ruleset=ruleset, user=request.user, body=payload.validated_data["body"]
            )
            return Response(
                serializers.RulesetCommentSerializer(comment).data, status=status.HTTP_201_CREATED
            )
        comments = self.paginate_queryset(ruleset.comments.select_related("author"))
        return self.get_paginated_response(serializers.RulesetCommentSerializer(comments, many=True).data)

    @extend_schema(
        summary="What happened to this version, in order",
        responses=serializers.RulesetHistorySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=HistoryPagination, filter_backends=[])
    def history(self, request, pk=None):
        rows = self.paginate_queryset(self.get_object().history.select_related("actor"))
        return self.get_paginated_response(serializers.RulesetHistorySerializer(rows, many=True).data)


# --- lifecycle --------------------------------------------------------------------------------------
class TransitionCursorPagination(CursorPagination):
    ordering = ("-at", "-id")


@extend_schema_view(
    list=extend_schema(summary="Lifecycle transitions, newest first"),
    retrieve=extend_schema(summary="One lifecycle transition"),
)
class LifecycleTransitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Who moved which contact between stages, when, under which version and why."""

    queryset = LifecycleTransition.objects.select_related("contact", "actor", "ruleset")
    serializer_class = serializers.LifecycleTransitionSerializer
    filterset_class = filtersets.LifecycleTransitionFilterSet
    pagination_class = TransitionCursorPagination
    ordering_fields = ["at", "id"]
    ordering = ("-at", "-id")


_DECISION = {201: serializers.LifecycleTransitionSerializer, 400: OpenApiResponse(), 403: _ERROR, 409: _ERROR}


class LifecycleDecisionViewSet(WorkflowErrorsMixin, viewsets.GenericViewSet):
    """Sales decisions on a contact (sales, BDR/SDR and revenue-operations members and leads)."""

    queryset = Contact.objects.all()
    serializer_class = serializers.LifecycleTransitionSerializer
    lookup_url_kwarg = "contact_id"
    required_permissions = ["scoring.add_lifecycletransition"]
    filter_backends: list = []

    def get_queryset(self):
        return Contact.objects.for_user(self.request.user)

    def _created(self, transition: LifecycleTransition) -> Response:
        return Response(
            serializers.LifecycleTransitionSerializer(transition).data, status=status.HTTP_201_CREATED
        )

    def _payload(self, serializer_class):
        payload = serializer_class(data=self.request.data)
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    @extend_schema(
        summary="Accept an MQL (→ SAL)", request=serializers.LifecycleAcceptSerializer, responses=_DECISION
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, contact_id=None):
        contact = self.get_object()
        data = self._payload(serializers.LifecycleAcceptSerializer)
        return self._created(
            lifecycle.contact_accept(contact=contact, user=request.user, reason=data["reason"])
        )

    @extend_schema(
        summary="Reject an MQL or SAL (→ recycled, or disqualified)",
        request=serializers.LifecycleRejectSerializer,
        responses=_DECISION,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, contact_id=None):
        contact = self.get_object()
        data = self._payload(serializers.LifecycleRejectSerializer)
        return self._created(
            lifecycle.contact_reject(
                contact=contact,
                user=request.user,
                reason_code=data["reason_code"],
                reason=data["reason"],
                disqualify=data["disqualify"],
            )
        )

    @extend_schema(
        summary="Qualify (SAL → SQL, or MQL → SQL without SAL), confirming the SQL checklist",
        request=serializers.LifecycleQualifySerializer,
        responses=_DECISION,
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, contact_id=None):
        contact = self.get_object()
        data = self._payload(serializers.LifecycleQualifySerializer)
        return self._created(
            lifecycle.contact_qualify(
                contact=contact, user=request.user, checklist=data["checklist"], reason=data["reason"]
            )
        )

    @extend_schema(
        summary="Recycle (MQL, SAL, SQL or opportunity → recycled)",
        request=serializers.LifecycleRecycleSerializer,
        responses=_DECISION,
    )
    @action(detail=True, methods=["post"])
    def recycle(self, request, contact_id=None):
        contact = self.get_object()
        data = self._payload(serializers.LifecycleRecycleSerializer)
        return self._created(
            lifecycle.contact_recycle(
                contact=contact, user=request.user, reason_code=data["reason_code"], reason=data["reason"]
            )
        )

    @extend_schema(
        summary="Reopen a disqualified contact (→ lead)",
        request=serializers.LifecycleReasonSerializer,
        responses=_DECISION,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, contact_id=None):
        contact = self.get_object()
        data = self._payload(serializers.LifecycleReasonSerializer)
        return self._created(
            lifecycle.contact_reopen(contact=contact, user=request.user, reason=data["reason"])
        )


class LifecycleFunnelView(APIView):
    """Conversion rates and velocity between lifecycle stages."""

    required_permissions = ["scoring.view_lifecycletransition"]

    @extend_schema(
        operation_id="lifecycle_funnel_retrieve",
        summary="Lifecycle funnel: conversion and velocity per step",
        description="Contacts entering each stage between since and until (inclusive dates), how many "
        "of them reached the next stage by now, the rate, and the median and mean days it took; the "
        "contacts that entered each stage in the period (entries), the contacts at each stage today "
        "(now: the same figure as /api/contacts/?lifecycle_stage=…) and the conversion chain of the "
        "contacts that entered MQL in the period.",
        parameters=[serializers.FunnelQuerySerializer],
        responses={200: serializers.FunnelSerializer, 400: OpenApiResponse()},
    )
    def get(self, request):
        query = serializers.FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = query.validated_data.get("until") or timezone.localdate()
        since = query.validated_data.get("since") or until - datetime.timedelta(days=90)
        if since > until:
            raise exceptions.ValidationError({"since": ["Must not be after until."]})
        funnel = metrics.lifecycle_funnel(since=since, until=until)
        funnel["now"] = metrics.contacts_by_stage(user=request.user)
        funnel["conversion"] = metrics.funnel_conversion(since=since, until=until)
        return Response(serializers.FunnelSerializer(funnel).data)


class LifecycleReasonsView(APIView):
    """Why leads were rejected or recycled: the reason codes given, counted over a period."""

    required_permissions = ["scoring.view_lifecycletransition"]

    @extend_schema(
        operation_id="lifecycle_reasons_retrieve",
        summary="Reject and recycle reasons: how often each code was given",
        description="Sales' rejects and recycles decided between since and until (inclusive dates), "
        "counted per reason code, with each code's share of its decision.",
        parameters=[serializers.FunnelQuerySerializer],
        responses={200: serializers.LifecycleReasonsSerializer, 400: OpenApiResponse()},
    )
    def get(self, request):
        query = serializers.FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = query.validated_data.get("until") or timezone.localdate()
        since = query.validated_data.get("since") or until - datetime.timedelta(days=90)
        if since > until:
            raise exceptions.ValidationError({"since": ["Must not be after until."]})
        reasons = selectors.lifecycle_reasons(since=since, until=until)
        return Response(serializers.LifecycleReasonsSerializer(reasons).data)


# --- scores -----------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="Contacts' current rules scores"),
    retrieve=extend_schema(summary="A contact's current score, with the points each rule gave"),
)
class ContactScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only: scores are written by the scoring engine."""

    queryset = ContactScore.objects.select_related("contact", "ruleset")
    serializer_class = serializers.ContactScoreSerializer
    filterset_class = filtersets.ContactScoreFilterSet
    lookup_url_kwarg = "contact_id"
    ordering_fields = ["fit", "engagement", "scored_at"]

    @property
    def ordering(self):
        return ("-scored_at", "-id") if self.action == "history" else ("-pk",)

    def get_permissions(self):
        if self.action in ("history", "as_of"):
            self.required_permissions = ["scoring.view_contactscorehistory"]
        return super().get_permissions()

    def get_serializer_class(self):
        return (
            serializers.ContactScoreDetailSerializer
            if self.action == "retrieve"
            else super().get_serializer_class()
        )

    @extend_schema(
        summary="A contact's score as of a past day, stored and reproduced with the version that made it",
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="as-of", filterset_class=None)
    def as_of(self, request, contact_id=None):
        # DRF's get_object_or_404: an id that is not a number is a 404 too.
        contact = get_object_or_404(selectors.contacts_visible(user=request.user), pk=contact_id)
        try:
            day = datetime.date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            raise exceptions.ValidationError({"date": ["Give the day as YYYY-MM-DD."]}) from None

        answer = contact_score_as_of(contact_id=contact.pk, day=day)
        if answer is None:
            raise exceptions.NotFound(f"Contact {contact.pk} had no score on or before {day}.")
        return Response(answer)

    @extend_schema(
        summary="Every past score of a contact, newest first",
        responses=serializers.ContactScoreHistorySerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request, contact_id=None):
        # DRF's get_object_or_404: an id that is not a number is a 404 too.
        contact = get_object_or_404(selectors.contacts_visible(user=request.user), pk=contact_id)
        rows = selectors.contact_score_history(contact)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializers.ContactScoreHistorySerializer(page, many=True).data)
