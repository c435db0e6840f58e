"""Reads for playbooks: the versions, a playbook's plays and how its runs went, the tasks a person or team
has due, an account's plays and its next best action, and a play's audience."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from revops.models import Membership

from .choices import RunStatus, TaskStatus
from .models import Play, PlayAction, Playbook, PlayRun, PlayTask


def playbook_list(*, user) -> QuerySet[Playbook]:
    return Playbook.objects.for_user(user).select_related("segment").annotate(play_count=Count("plays"))


def playbook_get(*, user, pk: int) -> Playbook:
    return (
        Playbook.objects.for_user(user)
        .select_related("segment", "based_on", "created_by", "proposed_by", "published_by")
        .prefetch_related("approvals__user")
        .get(pk=pk)
    )


def playbook_plays(playbook: Playbook) -> list[Play]:
    return list(playbook.plays.select_related("channel").order_by("position", "id"))


def playbook_versions(playbook: Playbook) -> QuerySet[Playbook]:
    return Playbook.objects.filter(scope_key=playbook.scope_key).order_by("-number")


def run_counts(plays: Iterable[Play]) -> dict[int, dict[str, int]]:
    """Play → runs by status."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {s: 0 for s in RunStatus.values})
    rows = PlayRun.objects.filter(play__in=list(plays)).values("play_id", "status").annotate(n=Count("id"))
    for row in rows:
        counts[row["play_id"]][row["status"]] = row["n"]
    return counts


def tasks_for(*, user, scope: str = "mine", status: str = TaskStatus.OPEN) -> QuerySet[PlayTask]:
    """Tasks assigned to ``user`` (``mine``), or those and every task of their teams, whoever it is
    assigned to (``team``: what the team has to do)."""
    tasks = PlayTask.objects.select_related("run__account", "run__play", "assignee", "team")
    if status:
        tasks = tasks.filter(status=status)
    if scope == "team":
        team_ids = Membership.objects.filter(user=user).values("team_id")
        return tasks.filter(Q(team_id__in=team_ids) | Q(assignee=user))
    return tasks.filter(assignee=user)


def task_get(*, pk: int) -> PlayTask:
    return PlayTask.objects.select_related("run__account", "run__play").get(pk=pk)


def next_best_actions(account_ids: Iterable[int]) -> dict[int, PlayTask]:
    """Account → its next best action: the open task of an open run due first."""
    best: dict[int, PlayTask] = {}
    tasks = (
        PlayTask.objects.filter(
            run__account_id__in=list(account_ids), status=TaskStatus.OPEN, run__status=RunStatus.OPEN
        )
        .select_related("run__play", "assignee", "team")
        .order_by("due_on", "run_id", "sequence")
    )
    for task in tasks:
        best.setdefault(task.run.account_id, task)
    return best


def account_runs(*, account_id: int, limit: int = 20) -> list[PlayRun]:
    return list(
        PlayRun.objects.filter(account_id=account_id)
        .select_related("play__playbook", "owner", "team")
        .order_by("-started_at", "-id")[:limit]
    )


def run_actions(run: PlayRun) -> QuerySet[PlayAction]:
    return run.actions.select_related("actor").order_by("at", "id")


def play_get(*, pk: int) -> Play:
    return Play.objects.select_related("playbook").get(pk=pk)


def play_audience(play: Play) -> QuerySet:
    """The accounts a play's audience holds now: those with an open run of it."""
    return (
        PlayRun.objects.filter(play=play, status=RunStatus.OPEN)
        .select_related("account")
        .order_by("account__name")
        .values_list("account__domain", "account__name", "stage", "started_at")
    )


def tasks_due_count(*, user) -> int:
    return tasks_for(user=user).filter(due_on__lte=timezone.localdate()).count()
