"""OpenAPI extensions: describe the token authentication in the schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "revops.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`. Scopes: read (GET), write (changes), ingest (events/batch).",
        }


# --- error answers in the schema ---------------------------------------------------------------------
ERROR_SCHEMA = {
    "type": "object",
    "description": "An error. `detail` says why; a 400 names each field (or query parameter) with its "
    "messages, `non_field_errors` when no field is to blame; a 500 carries the `request_id` it is logged "
    "under.",
    "properties": {
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
_COMMON_ERRORS = {
    "400": "Invalid input: a field, a query parameter (unknown ones too) or the JSON body.",
    "401": "No valid credentials.",
    "403": "Not allowed for this user or token.",
    "404": "No such object (or not visible to you), or no such endpoint.",
    "429": "Too many requests; Retry-After says when to try again.",
    "503": "The database or queue is unavailable; Retry-After says when to try again.",
}
_BODY_ERRORS = {
    "413": "The request body is larger than the server accepts.",
    "415": "The request body's media type is not accepted (send application/json).",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents the errors the API answers, in
    the one JSON shape the API uses (``revops.api.exceptions``)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            errors = {**_COMMON_ERRORS, **(_BODY_ERRORS if "requestBody" in operation else {})}
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = content
    return result
