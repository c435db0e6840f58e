"""API plumbing for the workflows (``revops.documents``, and any service raising ``revops.exceptions``):
the If-Match header of an edit, and the services' errors as answers — 428 without a revision, 412 with a
stale one (with what the document is now), 409 for an impossible change of state, 403 in the service's
own words."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
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
