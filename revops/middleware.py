"""Per-request audit context: a request id (the caller's X-Request-ID or a new one) and the API token; and
the work a committed write had to leave for later (the queue was down), said in ``X-Deferred-Work``."""

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
audit_token_var: ContextVar[int | None] = ContextVar("audit_token", default=None)
deferred_var: ContextVar[list[str] | None] = ContextVar("deferred", default=None)


class RequestIdMiddleware:
    """Tag the request with an id, echo it in the response, and scope the audit context to it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        id_token, auth_token = request_id_var.set(request_id), audit_token_var.set(None)
        deferred_token = deferred_var.set([])
        try:
            response = self.get_response(request)
            deferred = deferred_var.get()
        finally:
            request_id_var.reset(id_token)
            audit_token_var.reset(auth_token)
            deferred_var.reset(deferred_token)
        response["X-Request-ID"] = request_id
        if deferred:
            response["X-Deferred-Work"] = "; ".join(dict.fromkeys(deferred))
        return response
