"""API errors: every error under /api/ is answered as JSON with a status that says what happened.

Inside DRF views, ``exception_handler`` turns what DRF does not know into statuses: Django's
ValidationError → 400 with fields, a constraint race → 400, a value the database cannot hold → 400,
a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` → 413, the database unreachable → 503 with Retry-After,
anything else → 500 with the request id (logged with its traceback, never sent). Outside DRF (an unknown
/api/ URL, an error in a middleware) Django's handlers below answer JSON for /api/ and keep the UI's
HTML pages for everything else.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, OperationalError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from revops.api.parsers import RequestTooLarge
from revops.middleware import request_id_var

logger = logging.getLogger("revops.api")

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 30


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "service_unavailable"


def _internal_error_body() -> dict:
    request_id = request_id_var.get()
    return {
        "detail": "Internal server error: the error is logged under this request id.",
        "request_id": request_id,
    }


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, IntegrityError):
        # A constraint the serializer could not see (a race on a unique key): still a clear 400.
        set_rollback()
        return Response(
            {"non_field_errors": [f"The change conflicts with existing data: {exc}".strip()]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, DataError | OverflowError):
        # A number or date the database cannot hold (an id past 64 bits, a time zone it refuses).
        set_rollback()
        return Response(
            {"non_field_errors": ["A value is out of the range the database can store."]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, OperationalError):
        logger.warning("Database unavailable (request %s): %s", request_id_var.get(), exc)
        exc = ServiceUnavailable()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        # Not an error DRF knows: a bug. Log it with the traceback; the caller gets the id, not the trace.
        set_rollback()
        request = context.get("request")
        logger.error(
            "Unhandled error in %s %s (request %s)",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            request_id_var.get(),
            exc_info=exc,
        )
        return Response(_internal_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(response.data, list):
        # ValidationError("...") without a field: the same shape as every other 400.
        response.data = {"non_field_errors": response.data}
    return response


# --- Django's own error views, JSON under /api/ ----------------------------------------------------
def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": "The request body is too large."}, status=413)
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if _is_api(request):
        message = str(exception) if isinstance(exception, DjangoPermissionDenied) and str(exception) else ""
        return JsonResponse({"detail": message or "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if _is_api(request):
        # Django's message names the URL patterns it tried (in debug): say only what was not found.
        return JsonResponse({"detail": f"No API endpoint at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if _is_api(request):
        # Django calls this inside its except block: a database down before any view (a session read) is
        # a 503 here too.
        if isinstance(sys.exc_info()[1], OperationalError):
            response = JsonResponse({"detail": ServiceUnavailable.default_detail}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        return JsonResponse(_internal_error_body(), status=500)
    return defaults.server_error(request, template_name)
