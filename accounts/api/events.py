"""POST /api/events/batch/ — bulk, idempotent ingestion of engagement and intent events.

The view only decodes the body and hands the list to ``accounts.ingest.events_ingest``; the
serializers below describe the contract in the OpenAPI schema and are never run on the fast path.
"""

from dataclasses import asdict

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import EventSource, EventType
from accounts.ingest import IngestValidationError, ItemError, events_ingest
from revops.api.parsers import StrictJSONParser, json_loads_strict
from revops.background import deferred_notes
from revops.choices import TokenScope


class EventInSerializer(serializers.Serializer):
    """One event (documentation only)."""

    message_id = serializers.CharField(max_length=200, help_text="Your unique id: replays are ignored.")
    type = serializers.ChoiceField(choices=EventType.choices)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone; at most a day ahead.")
    account_id = serializers.IntegerField(required=False)
    account_domain = serializers.CharField(
        required=False, help_text="Unknown domains create the account. Instead of account_id."
    )
    contact_id = serializers.IntegerField(required=False)
    contact_email = serializers.EmailField(
        required=False,
        help_text="Unknown e-mails create the contact, at the event's account or else at the account of "
        "the e-mail's domain (none for free-mail). Instead of contact_id.",
    )
    source = serializers.ChoiceField(
        choices=EventSource.choices,
        required=False,
        help_text="Default: third_party for intent, else first_party.",
    )
    campaign_id = serializers.IntegerField(
        required=False,
        help_text="Without it, the event is tied to the campaign with a matching key (case-insensitive): "
        "properties email_id, ad_id or utm_campaign, else the URL's utm_campaign; unknown keys tie none.",
    )
    url = serializers.CharField(required=False, max_length=2048)
    topic = serializers.CharField(required=False, max_length=200, help_text="Required for intent events.")
    properties = serializers.DictField(required=False)


class EventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(child=EventInSerializer(), max_length=settings.EVENTS_BATCH_MAX)


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField(help_text="New events written.")
    duplicates = serializers.IntegerField(help_text="Events whose message_id was already known.")
    accounts_created = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    deferred = serializers.CharField(
        required=False,
        help_text="Present when the events were written but their scoring could not be queued (the queue "
        "is down): it runs when the queue is back. Also said in the X-Deferred-Work header.",
    )


class IngestErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position in events; null: the whole batch.")
    field = serializers.CharField()
    message = serializers.CharField()


class IngestErrorsSerializer(serializers.Serializer):
    errors = IngestErrorSerializer(many=True)


def _events_from_body(body: bytes) -> list:
    """The ``events`` list of a request body, or ``IngestValidationError`` about its shape.

    Decoded by the API's strict decoder: NaN/Infinity, a NUL character or a too-deep document are
    refused here with the event's index and field, as the database would refuse them later."""
    try:
        data = json_loads_strict(body)
    except exceptions.ValidationError as exc:
        path = getattr(exc, "path", [])
        if len(path) >= 3 and path[0] == "events" and isinstance(path[1], int):
            where = f" (at {'.'.join(str(p) for p in path[3:])})" if len(path) > 3 else ""
            raise IngestValidationError([ItemError(path[1], str(path[2]), exc.message + where)]) from None
        raise IngestValidationError(
            [ItemError(None, field, str(messages[0])) for field, messages in exc.detail.items()]
        ) from None
    except exceptions.ParseError as exc:
        message = str(exc.detail).replace("JSON parse error - ", "Malformed JSON: ")
        raise IngestValidationError([ItemError(None, "non_field_errors", message)]) from None
    if type(data) is not dict:
        message = 'Send a JSON object: {"events": [...]}.'
        raise IngestValidationError([ItemError(None, "non_field_errors", message)])
    errors = [ItemError(None, key, "Unknown field.") for key in sorted(data) if key != "events"]
    if "events" not in data:
        errors.append(ItemError(None, "events", "This field is required."))
    elif type(data["events"]) is not list:
        errors.append(ItemError(None, "events", "Must be a list of event objects."))
    if errors:
        raise IngestValidationError(errors)
    return data["events"]


class EventBatchView(APIView):
    """Ingest up to ``EVENTS_BATCH_MAX`` events at once: all or nothing, idempotent by message_id."""

    required_permissions = ["accounts.add_engagementevent"]
    token_scope = TokenScope.INGEST
    parser_classes = [StrictJSONParser]  # for the schema; the body is decoded directly (see post)

    @extend_schema(
        operation_id="events_batch_create",
        summary="Ingest a batch of events",
        description=(
            "Validates the whole batch first: any invalid event refuses the batch with every error "
            "(index and field) and writes nothing. Events whose message_id is already known are counted "
            "as duplicates and change nothing, so a batch can be retried safely. Needs an API token with "
            "the `ingest` scope (or a session) and permission to add engagement events."
        ),
        request=EventBatchSerializer,
        responses={200: IngestResultSerializer, 400: IngestErrorsSerializer},
        examples=[
            OpenApiExample(
                "Page view and intent",
                request_only=True,
                value={
                    "events": [
                        {
                            "message_id": "web-7f3a9c",
                            "type": "page_view",
                            "occurred_at": "2025-05-01T09:30:00Z",
                            "contact_email": "ada@acme.com",
                            "url": "https://example.com/pricing",
                        },
                        {
                            "message_id": "bombora-1842",
                            "type": "intent",
                            "occurred_at": "2025-05-01T00:00:00Z",
                            "account_domain": "acme.com",
                            "topic": "revenue operations",
                        },
                    ]
                },
            )
        ],
    )
    def post(self, request):
        # json.loads on the raw bytes: several times faster than DRF's stream parser on big batches.
        try:
            items = _events_from_body(request.body)
            result = events_ingest(actor=request.user, items=items)
        except IngestValidationError as exc:
            return Response({"errors": [asdict(e) for e in exc.errors]}, status=status.HTTP_400_BAD_REQUEST)
        body = asdict(result)
        if deferred := deferred_notes():  # written; the scoring waits for the queue (the sweep runs it)
            body["deferred"] = "; ".join(deferred)
        return Response(body, status=status.HTTP_200_OK)
