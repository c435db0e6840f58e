"""The baseline: event ingestion the way a plain DRF app does it, to measure the fast path against.

A ``ModelSerializer(many=True)`` validates the batch (with its per-row unique check on message_id),
identities are resolved with ``get_or_create`` per event, every event is saved through the ORM, and
each one bumps its daily rollups with a ``get_or_create`` and an ``F()`` update. Same semantics as
``accounts.ingest`` for the data the benchmark sends; only the technique differs.
"""

import random
import time

from django.db import OperationalError, transaction
from django.db.models import F
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import EventSource, EventType
from accounts.ingest import FREE_MAIL_DOMAINS, account_name_from_domain
from accounts.models import (
    Account,
    AccountActivityDaily,
    Campaign,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
)
from accounts.normalize import activity_key, email_domain, normalize_domain
from revops.choices import TokenScope

MAX_ATTEMPTS = 10


class BaselineEventSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(source="event_type", choices=EventType.choices)
    account_id = serializers.PrimaryKeyRelatedField(
        source="account", queryset=Account.objects.all(), required=False, allow_null=True
    )
    contact_id = serializers.PrimaryKeyRelatedField(
        source="contact", queryset=Contact.objects.all(), required=False, allow_null=True
    )
    campaign_id = serializers.PrimaryKeyRelatedField(
        source="campaign", queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    account_domain = serializers.CharField(required=False, write_only=True)
    contact_email = serializers.EmailField(required=False, write_only=True)

    class Meta:
        model = EngagementEvent
        fields = [
            "message_id", "type", "occurred_at", "account_id", "account_domain", "contact_id",
            "contact_email", "source", "campaign_id", "url", "topic", "properties",
        ]  # fmt: skip
        extra_kwargs = {"source": {"required": False}}

    def validate(self, attrs):
        if not any(attrs.get(k) for k in ("account", "account_domain", "contact", "contact_email")):
            raise serializers.ValidationError("An event needs an account or a contact.")
        return attrs

    def create(self, validated_data):
        domain = validated_data.pop("account_domain", None)
        email = validated_data.pop("contact_email", None)
        if domain:
            validated_data["account"] = _account_for(normalize_domain(domain))
        if email:
            email = email.lower()
            account = validated_data.get("account")
            if account is None and email_domain(email) not in FREE_MAIL_DOMAINS:
                account = _account_for(email_domain(email))
            validated_data["contact"], _ = Contact.objects.get_or_create(
                email=email, defaults={"account": account}
            )
        if validated_data.get("account") is None and validated_data.get("contact") is not None:
            validated_data["account"] = validated_data["contact"].account
        if "source" not in validated_data:
            intent = validated_data["event_type"] == EventType.INTENT
            validated_data["source"] = EventSource.THIRD_PARTY if intent else EventSource.FIRST_PARTY
        event = super().create(validated_data)
        _rollups_bump(event)
        return event


def _account_for(domain: str) -> Account:
    name = account_name_from_domain(domain)
    account, _ = Account.objects.get_or_create(domain=domain, defaults={"name": name})
    return account


def _rollups_bump(event: EngagementEvent) -> None:
    """One event's share of the daily rollups, one row at a time."""
    key = activity_key(event_type=event.event_type, url=event.url, topic=event.topic)
    day = event.occurred_at.date()
    if event.account_id:
        row, _ = AccountActivityDaily.objects.get_or_create(
            account_id=event.account_id, day=day, event_type=event.event_type, key=key
        )
        AccountActivityDaily.objects.filter(pk=row.pk).update(
            count=F("count") + 1, known_count=F("known_count") + (1 if event.contact_id else 0)
        )
    if event.contact_id:
        row, _ = ContactActivityDaily.objects.get_or_create(
            contact_id=event.contact_id,
            day=day,
            event_type=event.event_type,
            key=key,
            defaults={"account_id": event.account_id},
        )
        ContactActivityDaily.objects.filter(pk=row.pk).update(count=F("count") + 1)


class BaselineEventBatchView(APIView):
    """POST {"events": [...]}: validate with the serializer, then save each event (all or nothing).

    Rollup rows are bumped in arrival order, so concurrent batches deadlock now and then: like a
    plain app would, it retries the batch a few times (and says how often in ``retries``).
    """

    required_permissions = ["accounts.add_engagementevent"]
    token_scope = TokenScope.INGEST

    def post(self, request):
        for attempt in range(MAX_ATTEMPTS):
            serializer = BaselineEventSerializer(data=request.data.get("events"), many=True)
            serializer.is_valid(raise_exception=True)
            try:
                with transaction.atomic():
                    serializer.save()
            except OperationalError as exc:
                if "deadlock" not in str(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.1 * (attempt + 1)))  # back off, then replay the batch
                continue
            return Response(
                {"received": len(serializer.validated_data), "retries": attempt}, status=status.HTTP_200_OK
            )
