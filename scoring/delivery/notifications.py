"""In-app notifications to teams, and the lifecycle events that also go out as webhooks.

``stage_change_notify`` is what the lifecycle code calls with the transitions it just wrote: contacts
that became MQL (or were fast-tracked to SAL from lead or recycled) and contacts that became SQL make
a ``Notification`` for each owning team and a ``WebhookDelivery`` for each subscribed endpoint of those
teams. Read marks are per person (``NotificationRead``): what I have read is still unread for my team.
A notification may be addressed to one person (an account owner hears that their account qualified).

This module holds the notification services (writes), selectors (reads scoped to the user's teams)
and the FilterSet shared by the API and the page.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account, Contact
from revops.audit import change_record_create
from revops.choices import ChangeAction, TeamKind
from revops.models import Membership, Team
from scoring.delivery import webhooks
from scoring.engine.words import plural
from scoring.learned.words import account_explanation
from scoring.models import (
    AccountModelScore,
    ContactScore,
    LifecycleTransition,
    Notification,
    NotificationRead,
    Ruleset,
    WebhookDelivery,
    WebhookEndpoint,
)

# More than this many notifications for one team from one call: one summary per event type instead.
SUMMARY_THRESHOLD = 20
# Ids per IN (…) lookup when loading thousands of contacts.
ID_CHUNK = 5000
UNREAD_CAP = 100
# A notification's link lists its accounts in the URL up to this length (the column holds 300).
URL_MAX = 300
LONG_LINK = "about:accounts"  # a placeholder until the notification has an id (see account_qualified_notify)

# What the qualified-account webhook carries of each reason (``scoring.learned.words.explanation_item``).
EXPLANATION_KEYS = ("feature", "contribution", "probability_points", "points", "strength", "words")
_MQL_FROM_FAST_TRACK = {LifecycleStage.LEAD, LifecycleStage.RECYCLED}
_LABELS = {webhooks.EVENT_MQL: "MQL", webhooks.EVENT_SQL: "SQL"}
# Who hears about a contact with no owner in a team (marketing hears about every MQL anyway).
_FALLBACK_KINDS = {
    webhooks.EVENT_MQL: (TeamKind.SALES, TeamKind.BDR),
    webhooks.EVENT_SQL: (TeamKind.SALES,),
}


def lifecycle_event_type(transition: LifecycleTransition) -> str | None:
    """``contact.mql``, ``contact.sql`` or ``None`` (a transition nobody is told about)."""
    if transition.from_stage == transition.to_stage:
        return None
    if transition.to_stage == LifecycleStage.MQL:
        return webhooks.EVENT_MQL
    if transition.to_stage == LifecycleStage.SAL and transition.from_stage in _MQL_FROM_FAST_TRACK:
        return webhooks.EVENT_MQL  # a fast-track crosses the MQL threshold on its way
    if transition.to_stage == LifecycleStage.SQL:
        return webhooks.EVENT_SQL
    return None


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _round(value: float) -> float:
    return round(float(value), 2)


def stage_change_notify(*, transitions: list[LifecycleTransition]) -> None:
    """Notify the owning teams of contacts that became MQL or SQL, and queue their webhooks.

    Owning teams: the teams of the contact's owner; with no owner in a team, every sales and BDR/SDR
    team for an MQL and every sales team for an SQL. Marketing teams hear about every MQL. A team with
    more than ``SUMMARY_THRESHOLD`` notifications from one call gets one summary per event type
    ("1,234 contacts became MQL") instead; webhooks stay one per contact and endpoint.

    Built for batch rescores: a fixed number of queries (per ``ID_CHUNK`` contacts) and bulk inserts;
    the deliveries are sent by a task after commit. Nothing is audited here: the transitions are the
    record, and notifications and deliveries are derived from them.
    """
    events = [(t, event_type) for t in transitions if (event_type := lifecycle_event_type(t))]
    if events:
        _notify(events)


@transaction.atomic
def _notify(events: list[tuple[LifecycleTransition, str]]) -> None:
    contact_ids = sorted({t.contact_id for t, _ in events})
    contacts: dict[int, dict[str, Any]] = {}
    scores: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(contact_ids):
        for row in Contact.objects.filter(pk__in=chunk).values(
            "id", "email", "first_name", "last_name", "title", "account_id", "account__domain", "owner_id"
        ):
            contacts[row["id"]] = row
        for contact_id, fit, engagement, fit_grade, engagement_grade in ContactScore.objects.filter(
            contact_id__in=chunk
        ).values_list("contact_id", "fit", "engagement", "fit_grade", "engagement_grade"):
            scores[contact_id] = {
                "fit": _round(fit),
                "engagement": _round(engagement),
                "grade": f"{fit_grade}{engagement_grade}",
            }

    ruleset_ids = {t.ruleset_id for t, _ in events if t.ruleset_id}
    versions = (
        dict(Ruleset.objects.filter(pk__in=ruleset_ids).values_list("id", "number")) if ruleset_ids else {}
    )
    actor_ids = {t.actor_id for t, _ in events if t.actor_id}
    usernames = (
        dict(get_user_model().objects.filter(pk__in=actor_ids).values_list("id", "username"))
        if actor_ids
        else {}
    )
    owner_ids = {c["owner_id"] for c in contacts.values() if c["owner_id"]}
    owner_teams: dict[int, set[int]] = defaultdict(set)
    if owner_ids:
        for user_id, team_id in Membership.objects.filter(user_id__in=owner_ids).values_list(
            "user_id", "team_id"
        ):
            owner_teams[user_id].add(team_id)
    teams_by_kind: dict[str, list[int]] = defaultdict(list)
    for team_id, kind in Team.objects.values_list("id", "kind"):
        teams_by_kind[kind].append(team_id)

    def owning_teams(event_type: str, owner_id: int | None) -> set[int]:
        team_ids = set(owner_teams.get(owner_id, ())) if owner_id else set()
        if not team_ids:
            team_ids = {t for kind in _FALLBACK_KINDS[event_type] for t in teams_by_kind[kind]}
        if event_type == webhooks.EVENT_MQL:
            team_ids.update(teams_by_kind[TeamKind.MARKETING])
        return team_ids

    per_team: dict[int, list[tuple[str, LifecycleTransition, dict]]] = defaultdict(list)
    outgoing: list[tuple[uuid.UUID, str, dict, set[int]]] = []
    for transition, event_type in events:
        contact = contacts.get(transition.contact_id)
        if contact is None:  # deleted meanwhile
            continue
        team_ids = owning_teams(event_type, contact["owner_id"])
        for team_id in team_ids:
            per_team[team_id].append((event_type, transition, contact))
        event_id = uuid.uuid4()
        data: dict[str, Any] = {
            "contact": {
                "id": contact["id"],
                "email": contact["email"],
                "first_name": contact["first_name"],
                "last_name": contact["last_name"],
                "title": contact["title"],
                "account_id": contact["account_id"],
                "account_domain": contact["account__domain"],
                "lifecycle_stage": transition.to_stage,
            },
            "transition": {
                "from": transition.from_stage,
                "to": transition.to_stage,
                "at": webhooks.iso(transition.at),
                "rule": transition.rule,
                "reason": transition.reason_words,
                "ruleset_version": versions.get(transition.ruleset_id),
                "actor": usernames.get(transition.actor_id),
            },
        }
        if contact["id"] in scores:
            data["scores"] = scores[contact["id"]]
        payload = webhooks.event_envelope(
            event_id=event_id, event_type=event_type, occurred_at=transition.at, data=data
        )
        outgoing.append((event_id, event_type, payload, team_ids))

    Notification.objects.bulk_create(_notifications(per_team), batch_size=1000)

    all_team_ids = set(per_team)
    endpoints_by_team: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    if all_team_ids:
        for endpoint_id, team_id, event_types in WebhookEndpoint.objects.filter(
            active=True, team_id__in=all_team_ids
        ).values_list("id", "team_id", "event_types"):
            endpoints_by_team[team_id].append((endpoint_id, event_types or []))
    deliveries = [
        WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type, payload=payload)
        for event_id, event_type, payload, team_ids in outgoing
        for team_id in team_ids
        for endpoint_id, subscribed in endpoints_by_team.get(team_id, ())
        if not subscribed or event_type in subscribed
    ]
    webhooks.deliveries_bulk_create(deliveries=deliveries)


def _contact_name(contact: dict[str, Any]) -> str:
    return f"{contact['first_name']} {contact['last_name']}".strip() or contact["email"]


def _notifications(per_team: dict[int, list[tuple[str, LifecycleTransition, dict]]]) -> list[Notification]:
    contacts_url = reverse("accounts:contact_list")
    notes: list[Notification] = []
    for team_id, items in per_team.items():
        if len(items) > SUMMARY_THRESHOLD:
            by_type: dict[str, list[LifecycleTransition]] = defaultdict(list)
            for event_type, transition, _ in items:
                by_type[event_type].append(transition)
            for event_type, group in sorted(by_type.items()):
                stages = sorted({t.to_stage for t in group})
                query = "&".join(f"lifecycle_stage={stage}" for stage in stages)
                noun = "contact" if len(group) == 1 else "contacts"
                notes.append(
                    Notification(
                        team_id=team_id,
                        kind=f"{event_type}.summary",
                        title=f"{len(group):,} {noun} became {_LABELS[event_type]}",
                        url=f"{contacts_url}?{query}",
                    )
                )
            continue
        for event_type, transition, contact in items:
            fast_track = " (fast-tracked to SAL)" if transition.to_stage == LifecycleStage.SAL else ""
            domain = f" at {contact['account__domain']}" if contact["account__domain"] else ""
            notes.append(
                Notification(
                    team_id=team_id,
                    kind=event_type,
                    title=f"{_contact_name(contact)}{domain} became {_LABELS[event_type]}{fast_track}"[:300],
                    url=reverse("accounts:contact_detail", kwargs={"pk": contact["id"]}),
                    contact_id=contact["id"],
                )
            )
    return notes


def account_qualified_notify(*, account_ids: list[int], at) -> None:
    """Accounts that just became qualified: a notification to each account's owner (addressed to them
    alone; a summary when they have more than ``SUMMARY_THRESHOLD``), to every sales and BDR/SDR team
    for the accounts nobody owns, and an ``account.qualified`` webhook to the owner's teams' endpoints
    (else sales and BDR/SDR), with the scores, versions and top reasons. A notification about several
    accounts lists them (``account_ids``) and links to the accounts list filtered to exactly those."""
    if not account_ids:
        return
    teams_by_kind: dict[str, list[int]] = defaultdict(list)
    for team_id, kind in Team.objects.values_list("id", "kind"):
        teams_by_kind[kind].append(team_id)
    fallback = set(teams_by_kind[TeamKind.SALES]) | set(teams_by_kind[TeamKind.BDR])
    # Recipients: ("user", owner id, owning team) or ("team", team id, None).
    per_recipient: dict[tuple[str, int, int | None], list[tuple[Account, AccountModelScore]]] = defaultdict(
        list
    )
    outgoing = []
    for chunk in _chunks(sorted(account_ids)):
        scores = AccountModelScore.objects.filter(account_id__in=chunk).select_related(
            "account", "policy", "model"
        )
        scores = scores.defer("model__metrics", "model__artefact")
        owners = {s.account.owner_id for s in scores if s.account.owner_id}
        owner_teams: dict[int, set[int]] = defaultdict(set)
        for user_id, team_id in Membership.objects.filter(user_id__in=owners).values_list(
            "user_id", "team_id"
        ):
            owner_teams[user_id].add(team_id)
        for score in scores:
            account = score.account
            if account.owner_id:
                per_recipient[("user", account.owner_id, account.owner_team_id)].append((account, score))
                team_ids = owner_teams.get(account.owner_id) or (
                    {account.owner_team_id} if account.owner_team_id else fallback
                )
            else:
                team_ids = fallback
                for team_id in team_ids:
                    per_recipient[("team", team_id, None)].append((account, score))
            event_id = uuid.uuid4()
            explanation = account_explanation(score)
            data = {
                "account": {"id": account.pk, "name": account.name, "domain": account.domain},
                "scores": {
                    "profile_fit": _round(score.profile_fit), "fit_band": score.fit_band,
                    "in_market": round(score.in_market, 4), "in_market_band": score.in_market_band,
                    "stage": score.stage,
                },
                "model_version": score.model.version if score.model else None,
                "policy_version": score.policy.number,
                # in words with the points each adds ("…: +12 pts (strong raise)"); the figures beside
                # them, the log-odds (``contribution``) kept for receivers that read them before points
                "reasons": [e["words"] for e in explanation],
                "explanation": [{key: e[key] for key in EXPLANATION_KEYS} for e in explanation],
            }  # fmt: skip
            payload = webhooks.event_envelope(
                event_id=event_id, event_type=webhooks.EVENT_QUALIFIED, occurred_at=at, data=data
            )
            outgoing.append((event_id, payload, set(team_ids)))
    notes = []
    for (audience, recipient, owning_team), items in per_recipient.items():
        address = (
            {"user_id": recipient, "team_id": owning_team} if audience == "user" else {"team_id": recipient}
        )
        if len(items) > SUMMARY_THRESHOLD:
            ids = sorted(account.pk for account, _ in items)
            noun = "account" if len(items) == 1 else "accounts"
            yours = " of yours" if audience == "user" else ""
            notes.append(Notification(**address, kind=f"{webhooks.EVENT_QUALIFIED}.summary",
                                      title=f"{len(items):,} {noun}{yours} became qualified",
                                      url=accounts_link(ids), account_ids=ids))  # fmt: skip
            continue
        for account, score in items:
            notes.append(
                Notification(
                    **address, kind=webhooks.EVENT_QUALIFIED,
                    title=f"{account.name} became a qualified account (in market {score.in_market:.0%}, "
                          f"{score.stage})"[:300],
                    url=reverse("accounts:account_detail", kwargs={"pk": account.pk}),
                    account_ids=[account.pk],
                )
            )  # fmt: skip
    Notification.objects.bulk_create(notes, batch_size=1000)
    # Links too long for a URL list the accounts by the notification instead (its own ids).
    long = [n for n in notes if n.url == LONG_LINK]
    for note in long:
        note.url = f"{reverse('accounts:account_list')}?notification={note.pk}"
    if long:
        Notification.objects.bulk_update(long, ["url"], batch_size=1000)
    all_team_ids = {t for _, _, team_ids in outgoing for t in team_ids}
    endpoints_by_team: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    for endpoint_id, team_id, event_types in WebhookEndpoint.objects.filter(
        active=True, team_id__in=all_team_ids
    ).values_list("id", "team_id", "event_types"):
        endpoints_by_team[team_id].append((endpoint_id, event_types or []))
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint_id, event_id=event_id, event_type=webhooks.EVENT_QUALIFIED, payload=payload
        )  # fmt: skip
        for event_id, payload, team_ids in outgoing
        for team_id in team_ids
        for endpoint_id, subscribed in endpoints_by_team.get(team_id, ())
        if not subscribed or webhooks.EVENT_QUALIFIED in subscribed
    ]
    webhooks.deliveries_bulk_create(deliveries=deliveries)


def accounts_link(account_ids: list[int]) -> str:
    """The accounts list filtered to exactly these accounts (``?id=1,2,3``), or ``LONG_LINK`` when the
    list does not fit the notification's URL (the caller then links by the notification's own ids)."""
    url = f"{reverse('accounts:account_list')}?id={','.join(map(str, account_ids))}"
    return url if len(url) <= URL_MAX else LONG_LINK


# --- selectors -------------------------------------------------------------------------------------
def notification_list(*, user) -> models.QuerySet:
    """Notifications for the user, newest first: their teams' (every team's for a superuser) and those
    addressed to them, each with ``read_at``: when *this user* read it (``None``: unread for them)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    reads = NotificationRead.objects.filter(notification=OuterRef("pk"), user=user).values("read_at")[:1]
    queryset = (
        Notification.objects.for_user(user).select_related("team", "user").annotate(read_at=Subquery(reads))
    )
    team_ids = webhooks.team_ids_for(user=user)
    to_team = Q(user__isnull=True) if team_ids is None else Q(user__isnull=True, team_id__in=team_ids)
    return queryset.filter(to_team | Q(user=user))


def notification_unread_count(*, user, cap: int = UNREAD_CAP) -> int:
    """Notifications the user has not read, counted up to ``cap`` (one bounded COUNT)."""
    queryset = notification_list(user=user).filter(read_at__isnull=True).order_by()
    return queryset.values("id")[:cap].count()


# --- services --------------------------------------------------------------------------------------
@transaction.atomic
def notification_mark_read(*, actor, notification: Notification) -> Notification:
    """Mark one notification read by ``actor`` (not by their team); a no-op if they already have."""
    now = timezone.now()
    read, created = NotificationRead.objects.get_or_create(
        notification=notification, user=actor, defaults={"read_at": now}
    )
    notification.read_at = read.read_at
    if created:
        change_record_create(
            actor=actor,
            action=ChangeAction.UPDATE,
            instance=notification,
            before={"read_by": actor.pk, "read_at": None},
            after={"read_by": actor.pk, "read_at": webhooks.iso(now)},
        )
    return notification


@transaction.atomic
def notification_mark_all_read(*, actor) -> int:
    """Mark every notification ``actor`` has not read as read by them; one audit row with the count."""
    ids = list(notification_list(user=actor).filter(read_at__isnull=True).values_list("id", flat=True))
    now = timezone.now()
    NotificationRead.objects.bulk_create(
        [NotificationRead(notification_id=pk, user=actor, read_at=now) for pk in ids],
        batch_size=2000,
        ignore_conflicts=True,
    )
    if ids:
        change_record_create(
            actor=actor,
            action=ChangeAction.UPDATE,
            model=Notification,
            object_repr=f"{plural(len(ids), 'notification')} marked read",
            after={"marked_read": len(ids), "read_by": actor.pk},
        )
    return len(ids)
