"""Logs an operator can read and a machine can parse: a JSON formatter (production, ``LOG_FORMAT=json``)
and one line per request (``revops.request``) and per Celery task (``revops.task``, ``revops.workerops``).

The same records read as plain text in development: the message says it all in words, the JSON line
adds the fields it was built from (``extra=``). Nothing secret is logged: a token by its id, never its
key; a path without its query string.
"""

import json
import logging
import time
from datetime import UTC, datetime

from .middleware import request_id_var

request_log = logging.getLogger("revops.request")

# A LogRecord's own attributes: anything else on a record came from ``extra=`` and is a field of the line.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}
# Operator endpoints polled every few seconds by probes and Prometheus: not a line each.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's extra fields,
    the request id of the request being served (if any) and the exception's traceback (if any)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _who(request) -> dict:
    """The user and the API token (by id) the request was served for, as authentication left them."""
    user = getattr(request, "user", None)
    who: dict = {}
    if user is not None and getattr(user, "is_authenticated", False):
        who["user_id"], who["username"] = user.pk, user.get_username()
    token = getattr(request, "auth", None)  # DRF sets it on the request it wraps
    token_id = getattr(token, "pk", None)
    if token_id is not None:
        who["token_id"] = token_id
    return who


class RequestLogMiddleware:
    """One line per request: method, path, status, duration in ms, request id, user and token id.

    Placed after ``RequestIdMiddleware`` (whose id the line carries) and before authentication: the user is
    read once the response is made, when the session or DRF has set it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path in QUIET_PATHS:
            return response
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "request_id": request_id_var.get() or response.get("X-Request-ID", ""),
            **_who(request),
        }
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        request_log.log(
            level, "%s %s %s %.1f ms", request.method, request.path, response.status_code, duration_ms,
            extra=fields,
        )  # fmt: skip
        return response
