"""Reads for the sales desk: my accounts, my queue (MQLs to accept, newly qualified accounts).

"Mine" is what I own; "my team's" is also what a team of mine owns (``owner_team``). Scores, stage and
in market come from the stored scores (``AccountModelScore``, ``AccountRuleScore``), never recomputed.
"""

from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Account, Contact
from revops.models import Membership
from scoring.models import AccountModelScoreHistory

from .choices import Scope
from .models import QueueSeen

# "Newly qualified" looks back at most this far (and no further than the last time the queue was seen).
NEW_WINDOW = datetime.timedelta(days=14)
QUEUE_SECTION_LIMIT = 100


def scope_read(value: str | None) -> str:
    """``mine`` (default) or ``team``; anything else reads as ``mine``."""
    return value if value in Scope.values else Scope.MINE


def team_ids(*, user) -> list[int]:
    """The ids of the user's teams."""
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))


def _owned(user, scope: str, prefix: str = "") -> Q:
    query = Q(**{f"{prefix}owner": user})
    if scope == Scope.TEAM:
        query |= Q(**{f"{prefix}owner_team__in": team_ids(user=user)})
    return query


def my_accounts(*, user, scope: str = Scope.MINE) -> QuerySet[Account]:
    """Accounts I own (``scope="team"``: or a team of mine owns), with their stored scores joined."""
    return (
        Account.objects.for_user(user)
        .filter(_owned(user, scope))
        .select_related("owner", "owner_team", "model_score", "rule_score")
    )


def queue_mqls(*, user, scope: str = Scope.MINE) -> QuerySet[Contact]:
    """MQLs to accept: contacts at MQL that I own (or my team owns), and unowned ones at an account of
    mine (or my team's) — routing gives those to the account's owner. Oldest first is the caller's."""
    unowned_here = Q(owner__isnull=True) & _owned(user, scope, "account__")
    if scope == Scope.TEAM:
        unowned_here |= Q(owner__isnull=True, owner_team__in=team_ids(user=user))
    return (
        Contact.objects.for_user(user)
        .filter(lifecycle_stage=LifecycleStage.MQL)
        .filter(_owned(user, scope) | unowned_here)
        .select_related("account", "owner", "owner_team", "model_score")
        .order_by("-updated", "-id")
    )


def queue_since(*, user, now: datetime.datetime | None = None) -> tuple[datetime.datetime, bool]:
    """Since when an account counts as newly qualified: the last time the user marked the queue seen,
    or 14 days ago if that is longer ago or never; and whether the mark set it."""
    now = now or timezone.now()
    floor = now - NEW_WINDOW
    seen = QueueSeen.objects.filter(user=user).values_list("seen_at", flat=True).first()
    if seen is not None and seen > floor:
        return seen, True
    return floor, False


def queue_newly_qualified(*, user, since: datetime.datetime, scope: str = Scope.MINE) -> QuerySet[Account]:
    """My (or my team's) accounts that are qualified now and became so after ``since``: their score
    history has a not-qualified row after it, or starts after it (first scored qualified then)."""
    history = AccountModelScoreHistory.objects.filter(account_id=OuterRef("pk"))
    after = history.filter(scored_at__gte=since)
    became = Exists(after.filter(qualified=False)) | (
        Exists(after) & ~Exists(history.filter(scored_at__lt=since))
    )
    return (
        my_accounts(user=user, scope=scope)
        .filter(model_score__qualified=True)
        .filter(became)
        .order_by("-model_score__in_market", "pk")
    )
