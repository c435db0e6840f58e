"""API plumbing for the workflows (``revops.documents``, and any service raising ``revops.exceptions``):
the If-Match header of an edit, and the services' errors as answers — 428 without a revision, 412 with a
stale one (with what the document is now), 409 for an impossible change of state, 403 in the service's
own words."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from ..documents import if_match_revision
from ..exceptions import PreconditionRequired, StaleRevision, WorkflowError

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the version as you read it (GET). Missing: 428. Stale: 412.",
)


class WorkflowErrorsMixin:
    """Service errors as HTTP answers: 428, 412, 409, and 403 with the service's own message.

    An edit reads its If-Match with ``if_match(request, document)`` (kept as ``client_revision`` for the
    412 answer); a viewset adds the document as it is now with ``current_body``.
    """

    client_revision: int | None = None

    def if_match(self, request, document) -> int | None:
        """The revision the request's If-Match names for ``document`` (None: none sent; 0: none matches)."""
        self.client_revision = if_match_revision(request.headers.get("If-Match"), document)
        return self.client_revision

    def handle_exception(self, exc):
        if isinstance(exc, PreconditionRequired):
            return Response(
                {"detail": f"{exc} Send the ETag you read in an If-Match header."},
                status=status.HTTP_428_PRECONDITION_REQUIRED,
            )
        if isinstance(exc, StaleRevision):
            return self.conflict_response(exc)
        if isinstance(exc, WorkflowError):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, DjangoPermissionDenied) and str(exc):
            exc = exceptions.PermissionDenied(detail=str(exc))
        return super().handle_exception(exc)

    def current_body(self, exc: StaleRevision) -> dict:
        """What a 412 answer adds about the document as it is now (``exc.current``)."""
        return {}

    def conflict_response(self, exc: StaleRevision) -> Response:
        """412: edited since the client read it; what it is now, to merge with, and its ETag."""
        body = {
            "detail": str(exc),
            "your_revision": self.client_revision or None,
            "current_revision": exc.current.revision,
            **self.current_body(exc),
        }
        return Response(body, status=status.HTTP_412_PRECONDITION_FAILED, headers={"ETag": exc.current.etag})


class DocumentRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why: it goes to the history and the comments.")


class DocumentCommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class DocumentPublishSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, allow_null=True, help_text="Schedule for this time.")


class DocumentCommentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True)
    body = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)


class DocumentHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField(read_only=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True)
    action = serializers.CharField(read_only=True)
    detail = serializers.JSONField(read_only=True)


def _valid(serializer_class, data) -> dict:
    payload = serializer_class(data=data if isinstance(data, dict) else {})
    payload.is_valid(raise_exception=True)
    extra = set(data) - set(payload.fields) if isinstance(data, dict) else set()
    if extra:
        raise exceptions.ValidationError({key: ["Unknown field."] for key in sorted(extra)})
    return payload.validated_data


class DocumentActionsMixin(WorkflowErrorsMixin):
    """The workflow's steps of a versioned document as API actions, the same for every document: propose,
    withdraw, approve, reject, publish (now or at a time), rollback, comments and history.

    A viewset sets ``workflow`` (its ``DocumentWorkflow``) and implements ``document_response(document,
    status_code)`` (the document as saved, with its ETag); permissions per action are the viewset's.
    """

    workflow = None

    def document_response(self, document, *, status_code: int = status.HTTP_200_OK) -> Response:
        raise NotImplementedError

    @extend_schema(summary="Propose a draft for sign-off", request=None)
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        return self.document_response(self.workflow.propose(document=self.get_object(), user=request.user))

    @extend_schema(summary="Withdraw a proposal (back to draft; approvals are cleared)", request=None)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self.document_response(self.workflow.withdraw(document=self.get_object(), user=request.user))

    @extend_schema(summary="Approve a proposed version for your team (never the proposer's)", request=None)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        document = self.get_object()
        self.workflow.approve(document=document, user=request.user)
        return self.document_response(document)

    @extend_schema(
        summary="Reject a proposed version (back to draft, with the reason)", request=DocumentRejectSerializer
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        document = self.get_object()
        data = _valid(DocumentRejectSerializer, request.data)
        return self.document_response(
            self.workflow.reject(document=document, user=request.user, reason=data["reason"])
        )

    @extend_schema(summary="Publish an approved version now, or at a time", request=DocumentPublishSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        document = self.get_object()
        data = _valid(DocumentPublishSerializer, request.data or {})
        return self.document_response(
            self.workflow.publish(document=document, user=request.user, at=data.get("at"))
        )

    @extend_schema(summary="Roll back: publish this earlier version again", request=None)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return self.document_response(self.workflow.rollback(document=self.get_object(), user=request.user))

    @extend_schema(
        methods=["GET"], summary="Comments on this version", responses=DocumentCommentSerializer(many=True)
    )
    @extend_schema(
        methods=["POST"], summary="Comment on this version", request=DocumentCommentCreateSerializer,
        responses={201: DocumentCommentSerializer},
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def comments(self, request, pk=None):
        document = self.get_object()
        if request.method == "POST":
            data = _valid(DocumentCommentCreateSerializer, request.data)
            comment = self.workflow.comment_add(document=document, user=request.user, body=data["body"])
            return Response(DocumentCommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        comments = document.comments.select_related("author").order_by("created", "id")
        return Response(DocumentCommentSerializer(comments, many=True).data)

    @extend_schema(
        summary="What happened to this version, newest first", responses=DocumentHistorySerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        rows = self.get_object().history.select_related("actor").order_by("-at", "-id")[:200]
        return Response(DocumentHistorySerializer(rows, many=True).data)


def document_actions_schema(document_serializer):
    """The schema of ``DocumentActionsMixin``'s steps for one document: each answers the document (200) or
    says why not (403, 409; reject and publish 400 too). Decorate the viewset with it."""
    refused = {403: OpenApiResponse(description="{detail}: not yours to do."),
               409: OpenApiResponse(description="{detail}: not from this status.")}  # fmt: skip
    invalid = {400: OpenApiResponse(description="Field → messages; nothing changed.")}
    return extend_schema_view(
        propose=extend_schema(responses={200: document_serializer, **refused}),
        withdraw=extend_schema(responses={200: document_serializer, **refused}),
        approve=extend_schema(responses={200: document_serializer, **refused}),
        reject=extend_schema(responses={200: document_serializer, **invalid, **refused}),
        publish=extend_schema(responses={200: document_serializer, **invalid, **refused}),
        rollback=extend_schema(responses={200: document_serializer, **refused}),
    )
