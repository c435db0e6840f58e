"""API errors: DRF's answers, plus Django ValidationErrors raised by services turned into 400s."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, IntegrityError):
        # A constraint the serializer could not see (a race on a unique key): still a clear 400.
        return Response(
            {"non_field_errors": [f"The change conflicts with existing data: {exc}".strip()]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
