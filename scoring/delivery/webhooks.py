"""Outgoing webhooks: signed deliveries of lifecycle events to the teams' endpoints, retried until done.

Every event for every endpoint is a ``WebhookDelivery`` row (the table of due work: Celery's own
countdowns do nothing in eager mode). A task sends it right after the commit that created it, and the
periodic ``webhook_deliveries_task`` picks up whatever is due: new rows the immediate attempt missed
and retries, with exponential back-off (1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h, then given up).
Each HTTP try is logged as a ``WebhookAttempt``.

What a receiver gets, on every try of an event::

    POST <endpoint url>
    Content-Type: application/json
    X-Revops-Event: contact.mql                      (contact.sql, ping)
    X-Revops-Event-Id: 5f0c…                         (the same on every retry: drop duplicates by it)
    X-Revops-Timestamp: 1735689600                   (unix seconds of this try)
    X-Revops-Signature: t=1735689600,v1=<hex HMAC-SHA256 of b"1735689600." + body, key = secret>

    {"data": {...}, "id": "5f0c…", "occurred_at": "…", "type": "contact.mql"}

The body is the canonical JSON of the stored payload (sorted keys, no spaces), so each retry sends
the very same bytes. Answer 2xx to accept, 410 Gone to stop deliveries of that event at once; any other
answer, a timeout (10 s) or a redirect is retried. Receivers check signatures with :func:`verify`.

This module holds the webhook services (writes), selectors (reads, scoped to the user's teams), the
FilterSets shared by the API and the pages, and the two Celery tasks.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, Role
from revops.models import Membership, Team
from scoring.choices import DeliveryStatus
from scoring.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# Event types an endpoint can subscribe to (an empty list means all of them). ``ping`` is always sent.
EVENT_MQL = "contact.mql"
EVENT_SQL = "contact.sql"
EVENT_QUALIFIED = "account.qualified"
EVENT_PLAY = "play.started"
EVENT_PING = "ping"
EVENT_TYPES = {
    EVENT_MQL: "A contact became an MQL (fast-track to SAL included)",
    EVENT_SQL: "A contact became an SQL",
    EVENT_QUALIFIED: "An account became qualified (fits and is in market)",
    EVENT_PLAY: "A playbook's play started for an account that entered a buying stage",
}
EVENT_TYPE_CHOICES = list(EVENT_TYPES.items())

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
TIMEOUT_SECONDS = 10
# A claimed delivery is not due again for this long, so a crashed sender's rows come back by themselves.
CLAIM_LEASE = timedelta(minutes=2)
# Deliveries per immediate-delivery task: a big batch rescore fans out over several workers.
DELIVER_TASK_CHUNK = 100
SIGNATURE_TOLERANCE = 300
USER_AGENT = "RevOps-Webhooks/1"
MAX_ERROR_CHARS = 1000
DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
REDACTED = "•••"


# --- signing ----------------------------------------------------------------------------------
def body_bytes(payload: dict[str, Any]) -> bytes:
    """The canonical JSON of a payload: what is sent, and signed, on every try."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed with the endpoint's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Revops-Signature`` value: ``t=<timestamp>,v1=<hex signature>``."""
    return f"t={timestamp},v1={sign(secret=secret, timestamp=timestamp, body=body)}"


def verify(
    *, secret: str, header: str, body: bytes, tolerance: int = SIGNATURE_TOLERANCE, now: float | None = None
) -> bool:
    """Whether ``header`` (an ``X-Revops-Signature`` value) signs ``body`` with ``secret``, recently.

    For receivers: pass the raw request body (before any JSON parsing) and the header. It is false for
    a malformed header, a wrong signature, or a timestamp more than ``tolerance`` seconds away from
    ``now`` (default: the current time), which stops replays of captured requests. Several ``v1=``
    parts are accepted (any may match). Example::

        from scoring.delivery.webhooks import verify

        if not verify(secret=SECRET, header=request.headers["X-Revops-Signature"], body=request.body):
            return HttpResponse(status=400)
        event = json.loads(request.body)
        if already_seen(event["id"]):   # retries resend the same id: handle each event once
            return HttpResponse(status=200)
    """
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def request_headers(*, delivery: WebhookDelivery, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one try of ``delivery``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Revops-Event": delivery.event_type,
        "X-Revops-Event-Id": str(delivery.event_id),
        "X-Revops-Timestamp": str(timestamp),
        "X-Revops-Signature": signature_header(secret=secret, timestamp=timestamp, body=body),
    }


def event_envelope(*, event_id: uuid.UUID, event_type: str, occurred_at: datetime, data: dict) -> dict:
    """The JSON document of one event: ``{"id", "type", "occurred_at", "data"}``."""
    return {"id": str(event_id), "type": event_type, "occurred_at": iso(occurred_at), "data": data}


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``: ``2025-05-01T09:30:00Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- who sees and manages what ---------------------------------------------------------------------
def team_ids_for(*, user, lead_only: bool = False) -> models.QuerySet | None:
    """The ids of the user's teams (those they lead, with ``lead_only``); ``None`` means every team."""
    if user is None or not user.is_authenticated:
        return Team.objects.none().values("id")
    if user.is_superuser:
        return None
    memberships = Membership.objects.filter(user=user)
    if lead_only:
        memberships = memberships.filter(role=Role.LEAD)
    return memberships.values("team_id")


def lead_teams(*, user) -> models.QuerySet:
    """Teams whose webhooks ``user`` may manage: the teams they lead (all, for a superuser)."""
    team_ids = team_ids_for(user=user, lead_only=True)
    teams = Team.objects.all()
    if not user.has_perm("scoring.add_webhookendpoint"):
        return teams.none()
    return teams if team_ids is None else teams.filter(id__in=team_ids)


def webhook_endpoint_list(*, user, action: str = "view") -> models.QuerySet:
    """Endpoints of the user's teams; for ``change`` and ``delete``, of the teams they lead."""
    queryset = WebhookEndpoint.objects.for_user(user, action).select_related("team")
    team_ids = team_ids_for(user=user, lead_only=action != "view")
    return queryset if team_ids is None else queryset.filter(team_id__in=team_ids)


def webhook_delivery_list(*, user, manage: bool = False) -> models.QuerySet:
    """Deliveries to the endpoints of the user's teams; with ``manage``, of the teams they lead."""
    if manage and not user.has_perm("scoring.change_webhookendpoint"):
        return WebhookDelivery.objects.none()
    queryset = WebhookDelivery.objects.for_user(user).select_related("endpoint__team")
    team_ids = team_ids_for(user=user, lead_only=manage)
    return queryset if team_ids is None else queryset.filter(endpoint__team_id__in=team_ids)


def can_manage_endpoint(*, user, endpoint: WebhookEndpoint) -> bool:
    """Whether ``user`` may edit, test and retry ``endpoint`` (a lead of its team)."""
    if not user.has_perm("scoring.change_webhookendpoint"):
        return False
    return (
        user.is_superuser
        or Membership.objects.filter(user=user, team_id=endpoint.team_id, role=Role.LEAD).exists()
    )


def delivery_status_counts(*, endpoint_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """``{endpoint id: {status: deliveries}}`` in one grouped query."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        WebhookDelivery.objects.filter(endpoint_id__in=list(endpoint_ids))
        .order_by()
        .values("endpoint_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts.setdefault(row["endpoint_id"], {})[row["status"]] = row["n"]
    return counts


# --- endpoint services ----------------------------------------------------------------------------
_URL_VALIDATOR = URLValidator(schemes=["http", "https"])


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The audit snapshot of an endpoint, secret redacted: the audit log is read by more people."""
    snapshot = model_snapshot(endpoint)
    snapshot["secret"] = REDACTED
    return snapshot


def event_types_clean(value: Any) -> list[str]:
    """A sorted list of known event types, or ``ValidationError``."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"event_types": "Must be a list of event types."})
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(
            {"event_types": f"Unknown event type: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}."}
        )
    return sorted(set(value))


def _endpoint_clean(endpoint: WebhookEndpoint) -> None:
    endpoint.event_types = event_types_clean(endpoint.event_types)
    try:
        _URL_VALIDATOR(endpoint.url)
    except ValidationError:
        raise ValidationError({"url": "Enter a valid http:// or https:// URL."}) from None
    refusal = destination_refusal(endpoint.url, resolve=False)
    if refusal:
        raise ValidationError({"url": refusal})
    endpoint.full_clean(validate_unique=False, validate_constraints=False)


# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits: the NAT64 well-known
# prefix (RFC 6052: a gateway turns 64:ff9b::7f00:1 into 127.0.0.1) and the deprecated IPv4-compatible
# form (::127.0.0.1). The local-use NAT64 prefix (RFC 8215) puts the IPv4 address where the operator's
# prefix length says, so nothing in it can be judged: it is refused whole.
_IPV4_IN_LAST_32_BITS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped (::ffff:a.b.c.d), IPv4-compatible, NAT64,
    6to4 (2002:aabb:ccdd::) and Teredo (2001::/32: server and client). A translator or relay on the
    way turns such an address into its IPv4 one, so that is the address to judge."""
    found = [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if any(ip in net for net in _IPV4_IN_LAST_32_BITS):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host written in a legacy IPv4 form (``127.1``, ``0x7f.0.0.1``, ``2130706433``,
    octal parts), which connecting would accept as an address though it is not a dotted quad."""
    if not host or any(c not in "0123456789abcdefx." for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [ip, *_embedded_ipv4(ip)] if isinstance(ip, ipaddress.IPv6Address) else [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64_LOCAL_USE:
        return True
    return any(not each.is_global or each.is_multicast for each in candidates)


def destination_refusal(url: str, *, resolve: bool) -> str | None:
    """Why webhooks may not go to ``url`` (None when they may): a host on loopback, a private, link-local
    or reserved network — also when written as an IPv6 form that carries such an IPv4 address (NAT64,
    6to4, Teredo, mapped, compatible) or as a legacy IPv4 form (``127.1``) — unless
    ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``. ``resolve`` looks the name up (at sending time); without it only
    literal addresses and ``localhost`` are judged (when saving)."""
    return destination_checked(url, resolve=resolve)[0]


def destination_checked(url: str, *, resolve: bool) -> tuple[str | None, str | None]:
    """``(refusal, address)``: why not (as ``destination_refusal``), else the address that passed the
    check when the name was looked up — the one to connect to, so that the name cannot resolve
    elsewhere between the check and the connection (DNS rebinding). None: connect as usual."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return None, None
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    why = (
        f"{host} is not a public address: webhooks go to public hosts only "
        "(WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 allows internal receivers)."
    )
    if host == "localhost" or host.endswith(".localhost"):
        return why, None
    legacy = _legacy_ipv4(host)
    try:
        # a literal address: nothing to resolve
        return (why, None) if _not_public(str(legacy or host)) else (None, None)
    except ValueError:
        pass  # a name, not an address
    if not resolve:
        return None, None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"{host} does not resolve: {exc}", None
    if not infos or any(_not_public(info[4][0]) for info in infos):
        return f"{host} resolves to an address that is not public: webhooks go to public hosts only.", None
    return None, infos[0][4][0]


def secret_generate() -> str:
    """A new endpoint secret (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


@transaction.atomic
def webhook_endpoint_create(
    *,
    actor,
    team: Team,
    name: str,
    url: str,
    event_types: list[str] | None = None,
    active: bool = True,
    secret: str = "",
) -> WebhookEndpoint:
    """Create an endpoint for ``team``; the secret is generated unless given. Audited, secret redacted."""
    endpoint = WebhookEndpoint(
        team=team,
        name=name,
        url=url,
        event_types=list(event_types or []),
        active=active,
        secret=secret or secret_generate(),
    )
    _endpoint_clean(endpoint)
    endpoint.save()
    change_record_create(
        actor=actor, action=ChangeAction.CREATE, instance=endpoint, after=_endpoint_snapshot(endpoint)
    )
    return endpoint


ENDPOINT_EDITABLE = ("name", "url", "event_types", "active", "secret")


@transaction.atomic
def webhook_endpoint_update(*, actor, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change an endpoint's name, URL, event types, active flag or secret (an empty secret: keep it)."""
    unknown = sorted(set(data) - set(ENDPOINT_EDITABLE))
    if unknown:
        raise ValidationError({name: "Cannot be changed." for name in unknown})
    before = _endpoint_snapshot(endpoint)
    old_secret = endpoint.secret
    for key, value in data.items():
        if key == "secret" and not value:
            continue
        setattr(endpoint, key, value)
    try:
        _endpoint_clean(endpoint)
    except ValidationError:
        endpoint.refresh_from_db()
        raise
    endpoint.save()
    after = _endpoint_snapshot(endpoint)
    if endpoint.secret != old_secret:
        after["secret"] = f"{REDACTED} (rotated)"
    if after != before:
        change_record_create(
            actor=actor, action=ChangeAction.UPDATE, instance=endpoint, before=before, after=after
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its delivery log."""
    change_record_create(
        actor=actor, action=ChangeAction.DELETE, instance=endpoint, before=_endpoint_snapshot(endpoint)
    )
    endpoint.delete()


# --- deliveries: creating and scheduling -------------------------------------------------------------
def deliveries_schedule(*, delivery_ids: list[int]) -> None:
    """After the current transaction commits, try these deliveries at once (in chunks, one task each).

    ``robust``: a failing broker or an eager-mode error never breaks the caller's request; the rows
    are in the table and the periodic task sends them.
    """
    if not delivery_ids:
        return

    def enqueue() -> None:
        for start in range(0, len(delivery_ids), DELIVER_TASK_CHUNK):
            webhook_deliver_task.delay(delivery_ids=delivery_ids[start : start + DELIVER_TASK_CHUNK])

    transaction.on_commit(enqueue, robust=True)


def deliveries_bulk_create(*, deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """Insert deliveries (due now) in batches and schedule their first try after commit."""
    if not deliveries:
        return []
    now = timezone.now()
    for delivery in deliveries:
        delivery.next_attempt_at = delivery.next_attempt_at or now
    created = WebhookDelivery.objects.bulk_create(deliveries, batch_size=500)
    ids = [d.pk for d in created if d.pk is not None]
    if len(ids) == len(created):
        deliveries_schedule(delivery_ids=ids)
    else:  # a backend that does not return ids: the periodic sender finds them
        transaction.on_commit(lambda: webhook_deliveries_task.delay(), robust=True)
    return created


def team_events_deliver(*, events: list[tuple[uuid.UUID, str, dict, Iterable[int]]]) -> list[WebhookDelivery]:
    """Queue events to the active endpoints of their teams that subscribe to them (all, when an endpoint
    names no type): ``(event id, event type, payload, team ids)`` each; one query for the endpoints."""
    team_ids = {team_id for _, _, _, teams in events for team_id in teams}
    if not team_ids:
        return []
    endpoints_by_team: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    for endpoint_id, team_id, event_types in WebhookEndpoint.objects.filter(
        active=True, team_id__in=team_ids
    ).values_list("id", "team_id", "event_types"):
        endpoints_by_team[team_id].append((endpoint_id, event_types or []))
    deliveries = [
        WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type, payload=payload)
        for event_id, event_type, payload, teams in events
        for team_id in teams
        for endpoint_id, subscribed in endpoints_by_team.get(team_id, ())
        if not subscribed or event_type in subscribed
    ]
    return deliveries_bulk_create(deliveries=deliveries)


@transaction.atomic
def webhook_ping_send(*, actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``ping`` event to ``endpoint`` through the delivery table and send it after commit."""
    if not endpoint.active:
        raise ValidationError("The endpoint is inactive: activate it to send a test.")
    event_id = uuid.uuid4()
    now = timezone.now()
    sender = actor.get_username() if actor is not None and actor.is_authenticated else None
    payload = event_envelope(
        event_id=event_id,
        event_type=EVENT_PING,
        occurred_at=now,
        data={
            "endpoint": {"id": endpoint.pk, "name": endpoint.name, "url": endpoint.url},
            "team": {"id": endpoint.team_id, "name": endpoint.team.name},
            "sent_by": sender,
            "message": "A test from RevOps: reply with a 2xx status.",
        },
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=EVENT_PING,
        payload=payload,
        next_attempt_at=now,
    )
    change_record_create(
        actor=actor,
        action=ChangeAction.CREATE,
        instance=delivery,
        after={"endpoint_id": endpoint.pk, "event_type": EVENT_PING, "event_id": str(event_id)},
    )
    deliveries_schedule(delivery_ids=[delivery.pk])
    return delivery


def _delivery_state(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
    }


@transaction.atomic
def delivery_retry_now(*, delivery: WebhookDelivery, user) -> WebhookDelivery:
    """Redeliver at once (whatever the status): the same event id and body, one more try. Audited."""
    delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if not delivery.endpoint.active:
        raise ValidationError("The endpoint is inactive: activate it to redeliver.")
    before = _delivery_state(delivery)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated"])
    change_record_create(
        actor=user,
        action=ChangeAction.UPDATE,
        instance=delivery,
        before=before,
        after={**_delivery_state(delivery), "manual_retry": True},
    )
    deliveries_schedule(delivery_ids=[delivery.pk])
    return delivery


# --- deliveries: sending ----------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not something to follow: a POST would turn into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _pinned(connection_class, address: str):
    """``connection_class`` connecting to ``address`` whatever its host resolves to now; the host name
    still goes in the ``Host`` header and, over TLS, in SNI and the certificate check."""

    def connection(host, **kwargs):
        conn = connection_class(host, **kwargs)

        def create(target, *args, **kw):
            return socket.create_connection((address, target[1]), *args, **kw)

        conn._create_connection = create
        return conn

    return connection


class _PinnedHTTP(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, req):
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def https_open(self, req):
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req, context=self._context)


def http_post(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float | None = None,
    address: str | None = None,
):
    """POST ``body`` (``TIMEOUT_SECONDS`` at most) — to ``address`` when given (a checked address of the
    URL's host); returns ``(status code or None, error text)``."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = _OPENER
    if address:
        opener = urllib.request.build_opener(_NoRedirect, _PinnedHTTP(address), _PinnedHTTPS(address))
    try:
        with opener.open(request, timeout=timeout or TIMEOUT_SECONDS) as response:
            response.read(MAX_ERROR_CHARS)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(MAX_ERROR_CHARS).decode("utf-8", "replace")
        except Exception:  # the status code is what matters
            text = ""
        return exc.code, f"HTTP {exc.code} {exc.reason}: {text}".strip().rstrip(":")[:MAX_ERROR_CHARS]
    except urllib.error.URLError as exc:
        return None, f"{type(exc.reason).__name__}: {exc.reason}"[:MAX_ERROR_CHARS]
    except (TimeoutError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def _due(now: datetime) -> models.QuerySet:
    return WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=DUE_STATUSES,
        endpoint__active=True,
    )


def _claim(*, now: datetime, delivery_id: int | None = None) -> WebhookDelivery | None:
    """Take one due delivery for this worker: lock it (skipping rows others hold) and lease it.

    On PostgreSQL ``SKIP LOCKED`` means two workers never pick the same row; the lease (pushing
    ``next_attempt_at`` ahead) keeps it theirs while the HTTP request runs outside the transaction.
    SQLite ignores the lock and serialises writers (IMMEDIATE transactions) instead.
    """
    with transaction.atomic():
        queryset = _due(now)
        if delivery_id is not None:
            queryset = queryset.filter(pk=delivery_id)
        delivery = (
            queryset.select_for_update(skip_locked=True, of=("self",))
            .order_by(F("next_attempt_at").asc(nulls_first=True), "id")
            .first()
        )
        if delivery is None:
            return None
        delivery.next_attempt_at = now + CLAIM_LEASE
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.next_attempt_at)
    return delivery


def delivery_attempt(*, delivery: WebhookDelivery, now: datetime) -> str:
    """Send one claimed delivery, log the attempt and set its next state; returns the new status."""
    endpoint = WebhookEndpoint.objects.only("url", "secret").filter(pk=delivery.endpoint_id).first()
    if endpoint is None:  # deleted meanwhile, with its deliveries
        return DeliveryStatus.FAILED
    body = body_bytes(delivery.payload)
    timestamp = int(time.time())
    headers = request_headers(delivery=delivery, secret=endpoint.secret, timestamp=timestamp, body=body)
    started = time.monotonic()
    refusal, address = destination_checked(endpoint.url, resolve=True)
    if refusal:
        status_code, error = None, refusal[:MAX_ERROR_CHARS]
    else:
        status_code, error = http_post(url=endpoint.url, body=body, headers=headers, address=address)
    duration_ms = int((time.monotonic() - started) * 1000)

    attempts = delivery.attempts + 1
    changes: dict[str, Any] = {"attempts": attempts, "last_status_code": status_code, "last_error": error}
    if status_code is not None and 200 <= status_code < 300:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, last_error="")
    elif status_code == 410 or attempts > len(BACKOFF):
        changes.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        changes.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + BACKOFF[attempts - 1])
    with transaction.atomic():
        if WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes, updated=timezone.now()):
            WebhookAttempt.objects.create(
                delivery_id=delivery.pk, status_code=status_code, error=error, duration_ms=duration_ms
            )
    for key, value in changes.items():
        setattr(delivery, key, value)
    if changes["status"] != DeliveryStatus.DELIVERED:
        logger.info("webhook %s to %s: %s %s", delivery.event_id, endpoint.url, status_code, error)
    return changes["status"]


def _run(*, now: datetime | None, limit: int, delivery_ids: list[int] | None) -> dict[str, int]:
    result = {"sent": 0, DeliveryStatus.DELIVERED: 0, DeliveryStatus.RETRYING: 0, DeliveryStatus.FAILED: 0}
    targets: Iterable[int | None] = delivery_ids if delivery_ids is not None else [None] * limit
    for delivery_id in targets:
        current = now or timezone.now()
        delivery = _claim(now=current, delivery_id=delivery_id)
        if delivery is None:
            if delivery_id is None:
                break  # nothing more is due
            continue  # already sent, claimed by another worker, or not due
        status = delivery_attempt(delivery=delivery, now=current)
        result["sent"] += 1
        result[status] += 1
    return {str(k): v for k, v in result.items()}


def deliveries_due_run(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Send up to ``limit`` due deliveries (pending or retrying, next try not in the future).

    Returns counts: ``{"sent", "delivered", "retrying", "failed"}``. ``now`` fixes the clock (tests).
    """
    return _run(now=now, limit=limit, delivery_ids=None)


def deliveries_send(*, delivery_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Send these deliveries if they are still due (another worker may have sent them already)."""
    return _run(now=now, limit=len(delivery_ids), delivery_ids=list(delivery_ids))


# --- tasks ------------------------------------------------------------------------------------------
@shared_task(name="scoring.tasks.webhook_deliveries_task")
def webhook_deliveries_task() -> dict[str, int]:
    """Every 30 s (beat): send whatever deliveries are due, retries included."""
    return deliveries_due_run()


@shared_task(name="scoring.tasks.webhook_deliver_task")
def webhook_deliver_task(delivery_ids: list[int]) -> dict[str, int]:
    """Right after the commit that queued them: try these deliveries once (skips any not due any more)."""
    return deliveries_send(delivery_ids=delivery_ids)
