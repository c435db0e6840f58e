"""Read queries for the accounts pages and the dashboard (selectors: reads, typed, bounded, no N+1).

Sizes to keep in mind: 100k accounts, 1M contacts, 10M events. Nothing here scans the raw events
table: per-account reads use its ``(account, occurred_at)`` index with a LIMIT, and every count or sum
of activity comes from the daily rollups.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models
from django.db.models import Count, Max, Q, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from revops.safecache import cache_get_or_set

from .choices import CLOSED_STAGES, OPEN_STAGES, EventType, LifecycleStage, Seniority
from .models import (
    Account,
    AccountActivityDaily,
    Channel,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
    Persona,
)
from .normalize import search_domain_form, seniority_from_title
from .personas import PersonaMatcher, persona_rule

ENGAGED_DAYS = 90
TIMELINE_LIMIT = 20
BUYING_TEAM_MAX_CONTACTS = 200


def _today() -> datetime.date:
    return timezone.now().date()


# --- counts that stay cheap on big tables ----------------------------------------------------------
def table_row_count(queryset: models.QuerySet, *, exact_below: int = 50_000) -> tuple[int, bool]:
    """Rows of an *unfiltered* table, and whether the number is an estimate.

    On PostgreSQL a table past ``exact_below`` rows is counted by the planner's statistics
    (``pg_class.reltuples``, kept fresh by autovacuum), not by a ``COUNT(*)`` that reads every row.
    Smaller tables, never-analysed ones and SQLite get an exact count.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        if row and row[0] is not None and row[0] >= exact_below:
            return int(row[0]), True
    return queryset.count(), False


def account_get(*, user, pk: int) -> Account:
    """An account ``user`` may see (404 otherwise)."""
    return get_object_or_404(Account.objects.for_user(user), pk=pk)


ACCOUNT_SEARCH_LIMIT = 25  # the most a picker may ask for at once


def account_search(
    *, user, query: str, limit: int = 10, exclude_id: int | None = None
) -> tuple[list[Account], bool]:
    """Accounts ``user`` may see whose name or domain contains ``query`` (a unicode domain finds its
    stored ASCII form), names starting with it first: at most ``limit``, and whether there are more.
    For the pickers (parent company, an opportunity's account): never a whole table."""
    query = query.strip()
    condition = Q(name__icontains=query) | Q(domain__icontains=query)
    stored = search_domain_form(query)
    if stored:
        condition |= Q(domain__icontains=stored)
    rows = Account.objects.for_user(user).filter(condition)
    if exclude_id is not None:
        rows = rows.exclude(pk=exclude_id)
    rows = (
        rows.annotate(
            starts=models.Case(
                models.When(name__istartswith=query, then=models.Value(0)),
                default=models.Value(1),
                output_field=models.IntegerField(),
            )
        )
        .order_by("starts", "name", "pk")
        .only("id", "name", "domain")
    )
    found = list(rows[: limit + 1])
    return found[:limit], len(found) > limit


def account_chosen(*, user, value: str) -> Account | None:
    """The account an id filter holds (``"42"``), if ``user`` may see it: for the picker's label."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return Account.objects.for_user(user).only("id", "name", "domain").filter(pk=int(value)).first()


def account_common_countries(*, limit: int = 12) -> list[str]:
    """The country codes most accounts have, most first: what a country picker offers before the
    alphabet. Counted again every ten minutes (one grouped query over the accounts)."""

    def count() -> list[str]:
        counted = (
            Account.objects.exclude(country="")
            .values("country")
            .annotate(n=Count("id"))
            .order_by("-n", "country")[:COMMON_COUNTRIES_KEPT]
        )
        return [row["country"] for row in counted]

    return cache_get_or_set(COMMON_COUNTRIES_CACHE_KEY, count, 600)[:limit]


COMMON_COUNTRIES_CACHE_KEY = "accounts:common-countries"
COMMON_COUNTRIES_KEPT = 25


def channel_choices() -> list[tuple[str, str]]:
    """``(slug, name)`` of every channel in their display order (a small table)."""
    return list(Channel.objects.order_by("sort_order", "name").values_list("slug", "name"))


def industry_choices() -> list[tuple[str, str]]:
    """The industries the accounts have (distinct, on the industry index), for pickers."""
    names = (
        Account.objects.exclude(industry="")
        .order_by("industry")
        .values_list("industry", flat=True)
        .distinct()
    )
    return [(name, name) for name in names]


def account_contact_counts(*, account_ids: list[int]) -> dict[int, int]:
    """Contacts per account for a page of accounts, in one grouped query on the contact FK index."""
    if not account_ids:
        return {}
    rows = (
        Contact.objects.filter(account_id__in=account_ids)
        .order_by()
        .values("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    return dict(rows)


def account_technology_names(*, account_ids: list[int]) -> dict[int, list[str]]:
    """The names of each account's technologies (in name order) for a page of accounts, in one query of
    ``(account, name)`` pairs: a page of the API list shows only the names, and prefetching the
    technologies built a model and a queryset per account (~8 ms of CPU a page of 50, issue 16)."""
    if not account_ids:
        return {}
    names: dict[int, list[str]] = defaultdict(list)
    pairs = (
        Account.technologies.through.objects.filter(account_id__in=account_ids)
        .order_by("technology__name", "technology_id")
        .values_list("account_id", "technology__name")
    )
    for account_id, name in pairs:
        names[account_id].append(name)
    return dict(names)


def persona_matcher() -> PersonaMatcher:
    """Every persona's matching criteria (title keywords, seniorities, departments), read once: an import
    maps thousands of titles with it."""
    fields = ("id", "name", "priority", "match_titles", "match_seniorities", "match_departments")
    return PersonaMatcher(persona_rule(**row) for row in Persona.objects.values(*fields))


def contact_title_defaults(*, title: str, seniority: str | None, department: str | None) -> dict:
    """What a new contact's title says where it was given no seniority (or "unknown") and no persona, as
    an import reads it: ``{"seniority": …, "persona": Persona}``, each only when the title tells."""
    if not (title or "").strip():
        return {}
    found: dict = {}
    if not seniority or seniority == Seniority.UNKNOWN:
        read = seniority_from_title(title)
        if read != Seniority.UNKNOWN:
            found["seniority"] = seniority = read
    rule = persona_matcher().match(title=title, seniority=seniority, department=department)
    if rule is not None:
        found["persona"] = Persona.objects.filter(pk=rule.id).first()
    return {key: value for key, value in found.items() if value is not None}


def persona_contact_counts(*, persona_ids: list[int]) -> dict[int, int]:
    """Contacts mapped to each of these personas, in one grouped query."""
    if not persona_ids:
        return {}
    rows = (
        Contact.objects.filter(persona_id__in=persona_ids)
        .order_by()
        .values("persona_id")
        .annotate(n=Count("id"))
        .values_list("persona_id", "n")
    )
    return dict(rows)


# --- the dashboard ----------------------------------------------------------------------------------
@dataclass
class Headline:
    """A headline number; ``estimated`` when it comes from the planner's statistics."""

    value: int | Decimal | None
    estimated: bool = False


@dataclass
class DashboardSummary:
    """What the dashboard shows; a number is ``None`` when the user may not see its model."""

    accounts: Headline | None = None
    contacts: Headline | None = None
    open_opportunities: Headline | None = None
    open_pipeline: Headline | None = None
    events_30d: Headline | None = None
    events_by_day: list[tuple[datetime.date, int]] = field(default_factory=list)
    events_by_type: list[tuple[str, str, int]] = field(default_factory=list)


def dashboard_summary(*, user, today: datetime.date | None = None, days: int = 30) -> DashboardSummary:
    """Headline numbers for ``user``: at most five cheap queries, none over the raw events table."""
    today = today or _today()
    summary = DashboardSummary()
    if user.has_perm("accounts.view_account"):
        summary.accounts = Headline(*table_row_count(Account.objects.for_user(user)))
    if user.has_perm("accounts.view_contact"):
        summary.contacts = Headline(*table_row_count(Contact.objects.for_user(user)))
    if user.has_perm("accounts.view_opportunity"):
        totals = (
            Opportunity.objects.for_user(user)
            .filter(stage__in=OPEN_STAGES)
            .aggregate(n=Count("id"), pipeline=Sum("amount"))
        )
        summary.open_opportunities = Headline(totals["n"])
        summary.open_pipeline = Headline(totals["pipeline"] or Decimal(0))
    if user.has_perm("accounts.view_accountactivitydaily"):
        since = today - datetime.timedelta(days=days - 1)
        # One grouped query over ~days x event types rollup groups, folded here into both views.
        rows = (
            AccountActivityDaily.objects.filter(day__gte=since, day__lte=today)
            .order_by()
            .values("day", "event_type")
            .annotate(n=Sum("count"))
        )
        per_day: dict[datetime.date, int] = defaultdict(int)
        per_type: dict[str, int] = defaultdict(int)
        for row in rows:
            per_day[row["day"]] += row["n"]
            per_type[row["event_type"]] += row["n"]
        summary.events_by_day = [
            (since + datetime.timedelta(days=i), per_day.get(since + datetime.timedelta(days=i), 0))
            for i in range(days)
        ]
        labels = dict(EventType.choices)
        summary.events_by_type = sorted(
            ((code, labels.get(code, code), n) for code, n in per_type.items()), key=lambda t: -t[2]
        )
        summary.events_30d = Headline(sum(per_type.values()))
    return summary


def opportunity_recent_list(*, user, limit: int = 8) -> list[Opportunity]:
    """The most recently opened opportunities, with their account."""
    return list(
        Opportunity.objects.for_user(user)
        .select_related("account", "channel")
        .order_by(models.F("created_date").desc(nulls_last=True), "-id")[:limit]
    )


# --- the account page -----------------------------------------------------------------------------
@dataclass
class ContactEngagement:
    """A contact of the account with its activity over the engagement window."""

    contact: Contact
    events: int = 0
    last_active: datetime.date | None = None

    @property
    def engaged(self) -> bool:
        return self.events > 0


@dataclass
class PersonaSlot:
    """One persona of the buying team and the account's contacts mapped to it."""

    persona: Persona
    contacts: list[ContactEngagement] = field(default_factory=list)

    @property
    def engaged_contacts(self) -> list[ContactEngagement]:
        return [c for c in self.contacts if c.engaged]

    @property
    def is_engaged(self) -> bool:
        return any(c.engaged for c in self.contacts)

    @property
    def is_missing(self) -> bool:
        """A required persona with no contact at the account."""
        return self.persona.required_in_buying_team and not self.contacts


@dataclass
class BuyingTeam:
    """The account's buying team by persona: who is mapped, who is engaged, what is missing."""

    slots: list[PersonaSlot]
    unmapped: list[ContactEngagement]
    days: int
    truncated: bool = False

    @property
    def missing_required(self) -> list[Persona]:
        return [s.persona for s in self.slots if s.is_missing]

    @property
    def required_count(self) -> int:
        return sum(1 for s in self.slots if s.persona.required_in_buying_team)

    @property
    def required_covered(self) -> int:
        return sum(1 for s in self.slots if s.persona.required_in_buying_team and s.contacts)

    @property
    def engaged_personas(self) -> int:
        return sum(1 for s in self.slots if s.is_engaged)

    @property
    def contact_count(self) -> int:
        return sum(len(s.contacts) for s in self.slots) + len(self.unmapped)

    @property
    def engaged_contact_count(self) -> int:
        return sum(len(s.engaged_contacts) for s in self.slots) + sum(1 for c in self.unmapped if c.engaged)


def account_buying_team(
    *,
    account: Account,
    days: int = ENGAGED_DAYS,
    today: datetime.date | None = None,
    max_contacts: int = BUYING_TEAM_MAX_CONTACTS,
) -> BuyingTeam:
    """Every persona with the account's contacts mapped to it, each contact's activity over the last
    ``days`` days (from ContactActivityDaily), and the required personas nobody fills.

    Three queries whatever the team's size: personas, contacts (bounded), activity per contact.
    """
    today = today or _today()
    since = today - datetime.timedelta(days=days - 1)
    personas = list(Persona.objects.order_by("priority", "name"))
    contacts = list(
        Contact.objects.filter(account=account).order_by("last_name", "first_name", "id")[: max_contacts + 1]
    )
    truncated = len(contacts) > max_contacts
    contacts = contacts[:max_contacts]
    activity = {
        row["contact_id"]: row
        for row in ContactActivityDaily.objects.filter(account=account, day__gte=since, day__lte=today)
        .order_by()
        .values("contact_id")
        .annotate(events=Sum("count"), last_active=Max("day"))
    }
    slots = {p.pk: PersonaSlot(persona=p) for p in personas}
    unmapped: list[ContactEngagement] = []
    for contact in contacts:
        row = activity.get(contact.pk, {})
        entry = ContactEngagement(
            contact=contact, events=row.get("events") or 0, last_active=row.get("last_active")
        )
        if contact.persona_id in slots:
            contact.persona = slots[contact.persona_id].persona  # no extra query for contact.persona
            slots[contact.persona_id].contacts.append(entry)
        else:
            unmapped.append(entry)
    for slot in slots.values():
        # Engaged people first, most recently active first.
        slot.contacts.sort(key=lambda c: (not c.engaged, -(c.last_active or datetime.date.min).toordinal()))
    return BuyingTeam(slots=list(slots.values()), unmapped=unmapped, days=days, truncated=truncated)


@dataclass(frozen=True)
class TimelineItem:
    """One entry of an account's timeline: an engagement event, or an opportunity opened or closed."""

    when: datetime.datetime
    kind: str  # "event", "opportunity_opened" or "opportunity_closed"
    event: EngagementEvent | None = None
    opportunity: Opportunity | None = None

    # Ties on ``when`` break by kind, then id, so paging never skips or repeats an item.
    KIND_RANK = {"opportunity_opened": 0, "opportunity_closed": 1, "event": 2}

    @property
    def key(self) -> tuple[datetime.datetime, int, int]:
        obj = self.event if self.event is not None else self.opportunity
        return (self.when, self.KIND_RANK[self.kind], obj.pk)

    @property
    def cursor(self) -> str:
        when, rank, pk = self.key
        return f"{when.isoformat()}~{rank}~{pk}"


def parse_timeline_cursor(value: str | None) -> tuple[datetime.datetime, int, int] | None:
    """``TimelineItem.cursor`` back to its key; ``None`` for an absent or malformed cursor."""
    if not value:
        return None
    try:
        when_text, rank, pk = value.rsplit("~", 2)
        when = datetime.datetime.fromisoformat(when_text)
        if timezone.is_naive(when):
            when = timezone.make_aware(when, datetime.UTC)
        return when, int(rank), int(pk)
    except ValueError:
        return None


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


@dataclass
class Timeline:
    items: list[TimelineItem]
    next_cursor: str | None


def account_timeline(
    *, account: Account, limit: int = TIMELINE_LIMIT, before: tuple[datetime.datetime, int, int] | None = None
) -> Timeline:
    """The account's recent events and its opportunities (opened, won, lost) merged newest first.

    Events come from the ``(account, occurred_at)`` index, at most ``limit + 1`` of them; ``before``
    (a cursor from the previous page) continues further back. Two queries per page.
    """
    events = EngagementEvent.objects.filter(account=account).select_related("contact", "campaign")
    if before is not None:
        when, rank, pk = before
        older = Q(occurred_at__lt=when)
        if rank >= TimelineItem.KIND_RANK["event"]:
            older |= Q(occurred_at=when, id__lt=pk)
        events = events.filter(older)
    candidates = [
        TimelineItem(when=e.occurred_at, kind="event", event=e)
        for e in events.order_by("-occurred_at", "-id")[: limit + 1]
    ]
    opportunities = (
        Opportunity.objects.filter(account=account)
        .select_related("product", "channel")
        .order_by(models.F("created_date").desc(nulls_last=True), "-id")[:200]
    )
    for opp in opportunities:
        if opp.created_date:
            candidates.append(
                TimelineItem(when=_day_start(opp.created_date), kind="opportunity_opened", opportunity=opp)
            )
        if opp.close_date and opp.stage in CLOSED_STAGES:
            candidates.append(
                TimelineItem(when=_day_start(opp.close_date), kind="opportunity_closed", opportunity=opp)
            )
    if before is not None:
        candidates = [item for item in candidates if item.key < before]
    candidates.sort(key=lambda item: item.key, reverse=True)
    items = candidates[:limit]
    next_cursor = items[-1].cursor if len(candidates) > limit else None
    return Timeline(items=items, next_cursor=next_cursor)


def _week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def account_weekly_activity(
    *, account: Account, weeks: int = 26, today: datetime.date | None = None
) -> list[tuple[datetime.date, int]]:
    """Events per week (Monday-based, oldest first, this week last) from AccountActivityDaily.

    One query on the rollup's ``(account, day, ...)`` unique index; weeks without activity are 0.
    """
    today = today or _today()
    first_week = _week_start(today) - datetime.timedelta(weeks=weeks - 1)
    per_day = (
        AccountActivityDaily.objects.filter(account=account, day__gte=first_week, day__lte=today)
        .order_by()
        .values("day")
        .annotate(n=Sum("count"))
    )
    totals: dict[datetime.date, int] = defaultdict(int)
    for row in per_day:
        totals[_week_start(row["day"])] += row["n"]
    return [
        (first_week + datetime.timedelta(weeks=i), totals.get(first_week + datetime.timedelta(weeks=i), 0))
        for i in range(weeks)
    ]


def account_top_signals(
    *, account: Account, days: int = ENGAGED_DAYS, today: datetime.date | None = None, limit: int = 8
) -> list[dict]:
    """The account's strongest activity keys (pages, intent topics) over ``days`` days, from rollups."""
    today = today or _today()
    since = today - datetime.timedelta(days=days - 1)
    return list(
        AccountActivityDaily.objects.filter(account=account, day__gte=since, day__lte=today)
        .order_by()
        .values("event_type", "key")
        .annotate(n=Sum("count"), last=Max("day"))
        .order_by("-n", "event_type", "key")[:limit]
    )


def account_subsidiaries(*, account: Account, limit: int = 25) -> tuple[list[Account], bool]:
    """The account's direct subsidiaries (bounded) and whether there are more."""
    rows = list(Account.objects.filter(parent=account).order_by("name", "id")[: limit + 1])
    return rows[:limit], len(rows) > limit


def account_opportunities(*, account: Account, limit: int = 50) -> list[Opportunity]:
    """The account's opportunities, newest first (bounded)."""
    return list(
        Opportunity.objects.filter(account=account)
        .select_related("product", "channel", "source_campaign")
        .order_by(models.F("created_date").desc(nulls_last=True), "-id")[:limit]
    )


# --- the contact and persona pages -------------------------------------------------------------------
def contact_recent_events(*, contact: Contact, limit: int = 20) -> list[EngagementEvent]:
    """The contact's latest events, on the ``(contact, occurred_at)`` index."""
    return list(
        EngagementEvent.objects.filter(contact=contact)
        .select_related("campaign")
        .order_by("-occurred_at", "-id")[:limit]
    )


def contact_activity_summary(
    *, contact: Contact, days: int = ENGAGED_DAYS, today: datetime.date | None = None
) -> dict:
    """The contact's events over ``days`` days by type, with total and last active day, from rollups."""
    today = today or _today()
    since = today - datetime.timedelta(days=days - 1)
    rows = list(
        ContactActivityDaily.objects.filter(contact=contact, day__gte=since, day__lte=today)
        .order_by()
        .values("event_type")
        .annotate(n=Sum("count"), last=Max("day"))
        .order_by("-n")
    )
    labels = dict(EventType.choices)
    return {
        "days": days,
        "total": sum(r["n"] for r in rows),
        "last_active": max((r["last"] for r in rows), default=None),
        "by_type": [(r["event_type"], labels.get(r["event_type"], r["event_type"]), r["n"]) for r in rows],
    }


def persona_contact_stats(*, persona: Persona) -> dict:
    """Contacts mapped to the persona, in total and by lifecycle stage (one grouped query)."""
    rows = dict(
        Contact.objects.filter(persona=persona)
        .order_by()
        .values("lifecycle_stage")
        .annotate(n=Count("id"))
        .values_list("lifecycle_stage", "n")
    )
    by_stage = [(code, label, rows.get(code, 0)) for code, label in LifecycleStage.choices]
    return {"total": sum(rows.values()), "by_stage": by_stage}


def persona_recent_contacts(*, persona: Persona, limit: int = 15) -> list[Contact]:
    """A few contacts mapped to the persona, most recently added first, with their account."""
    return list(Contact.objects.filter(persona=persona).select_related("account").order_by("-id")[:limit])
