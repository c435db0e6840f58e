"""Who owns what: territories and round-robin routing of accounts and contacts without an owner.

An account without an owner is matched against the active territories in order (``priority``, then
id): the first whose countries, industries and employee range all take it wins (an empty criterion
takes anything; an account whose size is unknown matches no range). The territory's user owns it, or,
with none (or an inactive one), the territory's team's active members and leads in turn — a
round-robin whose position is a ``RoutingCursor`` row per team, locked while assigning, so concurrent
routings never hand the same slot out twice. An account with an owning team but no owner takes that
team's next member. A contact takes its account's owner and team when the account has one, else it is
routed like an account on the account's firmographics (its own country when the account has none).

Routing is set-based: one query reads the rows, one locks the teams' cursors, one reads their members,
and one UPDATE writes each (owner, team) pair; one ``ChangeRecord`` per batch lists who got what.
Only rows still without an owner are written, so routing twice changes nothing. The territories are read
when a row needs them, once per call (``newcomers_route``: once for its accounts and contacts together).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import models, transaction
from django.db.models import F

from revops.audit import change_record_create
from revops.choices import ChangeAction, Role
from revops.models import Membership

from .models import Account, Contact, RoutingCursor, Territory

# Who takes turns in a team's round-robin.
ROUTABLE_ROLES = [Role.MEMBER, Role.LEAD]
# Ids per UPDATE … WHERE id IN (…).
ID_CHUNK = 5000


@dataclass
class RoutingResult:
    """What a routing call did: how many rows got an owner (or only a team), and who got them."""

    routed: int = 0
    unrouted: int = 0
    assignments: dict[tuple[int | None, int | None], list[int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-safe: counts and, per owner and team, the ids they were given (the audit's ``after``)."""
        return {
            "routed": self.routed,
            "unrouted": self.unrouted,
            "assignments": [
                {"owner": owner, "team": team, "ids": sorted(ids)}
                for (owner, team), ids in sorted(
                    self.assignments.items(), key=lambda kv: (kv[0][1] or 0, kv[0][0] or 0)
                )
            ],
        }


@dataclass(frozen=True)
class Firmographics:
    """What territories match on."""

    country: str
    industry: str
    employees: int | None


def territory_matches(territory: Territory, firm: Firmographics) -> bool:
    """Whether ``territory`` takes an account with these firmographics."""
    if territory.countries and (firm.country or "").upper() not in territory.countries:
        return False
    if territory.industries:
        wanted = {i.casefold() for i in territory.industries}
        if (firm.industry or "").strip().casefold() not in wanted:
            return False
    if territory.employees_min is not None or territory.employees_max is not None:
        if firm.employees is None:
            return False
        if territory.employees_min is not None and firm.employees < territory.employees_min:
            return False
        if territory.employees_max is not None and firm.employees > territory.employees_max:
            return False
    return True


def territory_for(territories: Iterable[Territory], firm: Firmographics) -> Territory | None:
    """The first territory (in the given order) that takes ``firm``, or ``None``."""
    return next((t for t in territories if territory_matches(t, firm)), None)


def territories_active() -> list[Territory]:
    """Active territories in matching order, with their users (one query)."""
    return list(Territory.objects.filter(active=True).select_related("user").order_by("priority", "id"))


def team_rotation(*, team_ids: Iterable[int]) -> dict[int, list[int]]:
    """Each team's round-robin: its active members' and leads' user ids, in id order."""
    rotation: dict[int, list[int]] = defaultdict(list)
    team_ids = sorted(set(team_ids))
    if team_ids:
        for team_id, user_id in (
            Membership.objects.filter(team_id__in=team_ids, role__in=ROUTABLE_ROLES, user__is_active=True)
            .order_by("team_id", "user_id")
            .values_list("team_id", "user_id")
        ):
            rotation[team_id].append(user_id)
    return rotation


def _round_robin(needed: dict[int, int]) -> dict[int, list[int | None]]:
    """Take ``needed[team]`` turns from each team's round-robin: the owners, in order (``None`` for a
    team without active members). Locks the teams' cursors (in team order, so two routings never
    deadlock) and advances them in the caller's transaction."""
    if not needed:
        return {}
    teams = sorted(needed)
    RoutingCursor.objects.bulk_create([RoutingCursor(team_id=t) for t in teams], ignore_conflicts=True)
    cursors = dict(
        RoutingCursor.objects.select_for_update()
        .filter(team_id__in=teams)
        .order_by("team_id")
        .values_list("team_id", "assigned")
    )
    rotation = team_rotation(team_ids=teams)
    turns: dict[int, list[int | None]] = {}
    for team in teams:
        members, count, start = rotation.get(team, []), needed[team], cursors.get(team, 0)
        if not members:
            turns[team] = [None] * count
            continue
        turns[team] = [members[(start + i) % len(members)] for i in range(count)]
        RoutingCursor.objects.filter(team_id=team).update(assigned=F("assigned") + count)
    return turns


def _assign(
    rows: list[tuple[int, Firmographics, int | None]], territories: Callable[[], list[Territory]]
) -> dict[int, tuple[int | None, int | None]]:
    """Owner and team for each ``(id, firmographics, owning team already set)``; unmatched ids absent.
    ``territories()`` is called only if a row has no owning team."""
    chosen: dict[int, tuple[int | None, int]] = {}  # id → (fixed owner or None: take a turn, team)
    for pk, firm, team_id in rows:
        if team_id is not None:
            chosen[pk] = (None, team_id)
            continue
        territory = territory_for(territories(), firm)
        if territory is None:
            continue
        user = territory.user
        chosen[pk] = (user.pk if user is not None and user.is_active else None, territory.team_id)
    needed: dict[int, int] = defaultdict(int)
    for owner, team in chosen.values():
        if owner is None:
            needed[team] += 1
    turns = {team: iter(owners) for team, owners in _round_robin(dict(needed)).items()}
    return {
        pk: (owner if owner is not None else next(turns[team]), team)
        for pk, (owner, team) in sorted(chosen.items())
    }


def _write(
    model: type[models.Model], result: RoutingResult, assignments: dict[int, tuple[int | None, int | None]]
) -> None:
    """One UPDATE per (owner, team) pair (and per ``ID_CHUNK`` ids), only of rows still unowned."""
    grouped: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for pk, pair in assignments.items():
        grouped[pair].append(pk)
    for (owner, team), ids in grouped.items():
        written = 0
        for start in range(0, len(ids), ID_CHUNK):
            written += model.objects.filter(pk__in=ids[start : start + ID_CHUNK], owner__isnull=True).update(
                owner_id=owner, owner_team_id=team
            )
        if written:
            result.assignments.setdefault((owner, team), []).extend(ids)
            result.routed += written


def _audit(model: type[models.Model], *, actor, reason: str, result: RoutingResult) -> None:
    if result.routed:
        noun = model._meta.verbose_name if result.routed == 1 else model._meta.verbose_name_plural
        change_record_create(
            actor=actor,
            action=ChangeAction.UPDATE,
            model=model,
            object_repr=f"Routed {result.routed:,} {noun} ({reason})",
            after={"routing": reason, **result.summary()},
        )


def _unowned(queryset: models.QuerySet, ids: list[int]) -> models.QuerySet:
    # Lock the rows (in id order) so that a concurrent routing of the same rows waits, then finds them owned.
    return queryset.filter(pk__in=ids, owner__isnull=True).order_by("pk").select_for_update(of=("self",))


def _territories_once() -> Callable[[], list[Territory]]:
    """``territories_active``, read on the first call only: for one routing pass, never kept longer."""
    return cache(territories_active)


@transaction.atomic
def accounts_route(
    *,
    account_ids: Iterable[int],
    actor=None,
    reason: str,
    territories: Callable[[], list[Territory]] | None = None,
) -> RoutingResult:
    """Give the accounts among ``account_ids`` that have no owner an owner and an owning team, by
    territory or round-robin; one audit record for the batch. ``reason``: why they are routed now
    ("ingested", "imported", "qualified" …). ``territories``: where to read them (default: once, in this
    call, if a row needs them)."""
    ids = sorted(set(account_ids))
    result = RoutingResult()
    if not ids:
        return result
    rows = [
        (pk, Firmographics(country or "", industry or "", employees), team)
        for start in range(0, len(ids), ID_CHUNK)
        for pk, country, industry, employees, team in _unowned(
            Account.objects, ids[start : start + ID_CHUNK]
        ).values_list("pk", "country", "industry", "employee_count", "owner_team_id")
    ]
    assignments = _assign(rows, territories or _territories_once())
    result.unrouted = len(rows) - len(assignments)
    _write(Account, result, assignments)
    _audit(Account, actor=actor, reason=reason, result=result)
    return result


@transaction.atomic
def contacts_route(
    *,
    contact_ids: Iterable[int],
    actor=None,
    reason: str,
    territories: Callable[[], list[Territory]] | None = None,
) -> RoutingResult:
    """Give the contacts among ``contact_ids`` that have no owner one: their account's owner and team
    when it has an owner, else by territory (on the account's firmographics) or round-robin; one audit
    record for the batch. ``territories`` as for ``accounts_route``."""
    ids = sorted(set(contact_ids))
    result = RoutingResult()
    if not ids:
        return result
    inherited: dict[int, tuple[int | None, int | None]] = {}
    rows: list[tuple[int, Firmographics, int | None]] = []
    for start in range(0, len(ids), ID_CHUNK):
        for pk, country, team, account_owner, account_team, a_country, industry, employees in (
            _unowned(Contact.objects, ids[start : start + ID_CHUNK]).values_list(
                "pk", "country", "owner_team_id", "account__owner_id", "account__owner_team_id",
                "account__country", "account__industry", "account__employee_count",
            )
        ):  # fmt: skip
            if account_owner is not None and team in (None, account_team):
                inherited[pk] = (account_owner, account_team)
            else:
                rows.append((pk, Firmographics(a_country or country or "", industry or "", employees), team))
    assignments = {**inherited, **_assign(rows, territories or _territories_once())}
    result.unrouted = len(inherited) + len(rows) - len(assignments)
    _write(Contact, result, assignments)
    _audit(Contact, actor=actor, reason=reason, result=result)
    return result


@transaction.atomic(savepoint=False)  # inside a caller's transaction (ingestion's) no savepoint of its own
def newcomers_route(
    *, account_ids: Iterable[int], contact_ids: Iterable[int], actor=None, reason: str
) -> tuple[RoutingResult, RoutingResult]:
    """Route new accounts, then new contacts (who may take their new account's owner), reading the
    territories at most once for both: what a batch of ingested events that created them needs."""
    territories = _territories_once()
    return (
        accounts_route(account_ids=account_ids, actor=actor, reason=reason, territories=territories),
        contacts_route(contact_ids=contact_ids, actor=actor, reason=reason, territories=territories),
    )


def leads_route(*, contact_ids: Iterable[int], actor=None, reason: str) -> RoutingResult:
    """Route the unowned accounts of these contacts first, then the contacts (who then take their
    account's owner): what a lead accepted by sales, or a new person at a new company, needs."""
    ids = sorted(set(contact_ids))
    if not ids:
        return RoutingResult()
    with transaction.atomic():
        account_ids = (
            Contact.objects.filter(pk__in=ids, owner__isnull=True, account__owner__isnull=True)
            .exclude(account=None)
            .values_list("account_id", flat=True)
        )
        territories = _territories_once()
        accounts_route(account_ids=list(account_ids), actor=actor, reason=reason, territories=territories)
        return contacts_route(contact_ids=ids, actor=actor, reason=reason, territories=territories)
