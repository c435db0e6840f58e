"""Writes of playbooks, in the one versioned-document workflow (``revops.documents``): a draft per buying
stage (and segment), its plays edited under the ETag, proposed, approved by a marketing lead and a sales
lead (never the proposer), published (the stage's published playbook is superseded), rolled back; and
the work of a run: a task done or skipped (the run is done when none is open).

Errors: ``ValidationError`` by field, ``PermissionDenied``, ``PlaybookNotEditable`` / ``WorkflowError``,
``PreconditionRequired`` / ``PlaybookConflict`` (the API answers 400, 403, 409, 428, 412).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Channel
from campaigns.models import Segment
from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, TeamKind
from revops.documents import (
    DocumentWorkflow,
    fields_diff,
    marketing_sales_publisher,
    rows_diff,
    signed_in,
    version_text_clean,
)
from revops.exceptions import StaleRevision, WorkflowError
from revops.models import Membership
from scoring.choices import BuyingStage

from .choices import MAX_TOUCHES, PlayKind, RunStatus, StopCondition, TaskStatus
from .models import Play, PlayAction, Playbook, PlayTask, playbook_scope_key

SIGNER_TEAMS = (TeamKind.MARKETING, TeamKind.SALES)
PLAY_FIELDS = [
    "name", "kind", "team_kind", "channel", "due_days", "touches", "stop_on", "include_customers",
    "include_open_deals", "notify_webhook", "instructions",
]  # fmt: skip
MAX_PLAYS = 30


class PlaybookNotEditable(WorkflowError):
    pass


class PlaybookConflict(StaleRevision):
    pass


def _may_edit(user) -> bool:
    return user.has_perm("playbooks.change_playbook")


def _published(*, user, reason: str) -> None:
    """Nothing to redo: the next stage entries follow the published playbook; started runs stay."""


def _propose_check(playbook: Playbook) -> str | None:
    return None if playbook.plays.exists() else "Give the playbook at least one play before proposing it."


PLAYBOOKS = DocumentWorkflow(
    model=Playbook,
    label="Playbook {document.scope_label} v{number}",
    signers=SIGNER_TEAMS,
    approve_permission="playbooks.approve_playbook",
    may_edit=_may_edit,
    may_publish=marketing_sales_publisher("playbooks.publish_playbook"),
    delete_permission="playbooks.delete_playbook",
    after_publish=_published,
    edit_refusal="You may not {what}: it needs the playbooks.change_playbook permission.",
    publish_refusal="Only leads of marketing or sales and revenue-operations members may {what}.",
    delete_refusal="Only the draft's author, a lead or revenue operations may delete it.",
    not_editable=PlaybookNotEditable,
    conflict=PlaybookConflict,
    propose_check=_propose_check,
    series=("scope_key",),
)


# --- validation -------------------------------------------------------------------------------------
def _whole(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError
    number = float(str(value).strip())
    if number != int(number) or not low <= number <= high:
        raise ValueError
    return int(number)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).strip().lower() in ("", "0", "false", "no", "off", "none"):
        return False
    raise ValueError


def plays_clean(data: Any) -> list[dict[str, Any]]:
    """A playbook's plays, in order: ``[{"name", "kind", "team_kind", "channel" (slug or id, optional),
    "due_days" (0–365), "touches" (1–21, cadences), "stop_on", "include_customers", "include_open_deals",
    "notify_webhook", "instructions"}]``. Every problem is reported, by row."""
    if not isinstance(data, list):
        raise ValidationError({"plays": ["A list of plays."]})
    if len(data) > MAX_PLAYS:
        raise ValidationError({"plays": [f"At most {MAX_PLAYS} plays."]})
    channels = {str(c.pk): c for c in Channel.objects.all()} | {c.slug: c for c in Channel.objects.all()}
    errors, rows = [], []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            errors.append(f"Play {index}: an object.")
            continue
        problems = []
        unknown = sorted(set(item) - set(PLAY_FIELDS) - {"id", "position"})
        if unknown:
            problems.append(f"unknown field {', '.join(unknown)}")
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 200:
            problems.append("a name of 1 to 200 characters")
        kind = item.get("kind", PlayKind.TASK)
        if kind not in PlayKind.values:
            problems.append(f"kind one of {', '.join(PlayKind.values)}")
        team_kind = item.get("team_kind")
        if team_kind not in TeamKind.values:
            problems.append(f"team_kind one of {', '.join(TeamKind.values)}")
        channel = None
        if item.get("channel") not in (None, ""):
            channel = channels.get(str(item["channel"]).strip())
            if channel is None:
                problems.append(f"unknown channel {item['channel']!r}")
        stop_on = item.get("stop_on", StopCondition.REGRESSION)
        if stop_on not in StopCondition.values:
            problems.append(f"stop_on one of {', '.join(StopCondition.values)}")
        numbers = {}
        for key, low, high, default in (("due_days", 0, 365, 7), ("touches", 1, MAX_TOUCHES, 1)):
            try:
                numbers[key] = _whole(item.get(key, default), low, high)
            except (TypeError, ValueError):
                problems.append(f"{key} a whole number from {low} to {high}")
        flags = {}
        for key in ("include_customers", "include_open_deals", "notify_webhook"):
            try:
                flags[key] = _flag(item.get(key, False))
            except ValueError:
                problems.append(f"{key} true or false")
        instructions = item.get("instructions") or ""
        if not isinstance(instructions, str) or len(instructions) > 5000:
            problems.append("instructions as text of at most 5,000 characters")
        if kind != PlayKind.CADENCE and numbers.get("touches", 1) != 1:
            problems.append("touches only for a BDR cadence (leave it at 1)")
        if problems:
            errors.append(f"Play {index} ({name or 'unnamed'}): {'; '.join(problems)}.")
            continue
        rows.append(
            {"name": name, "kind": kind, "team_kind": team_kind, "channel": channel, "stop_on": stop_on,
             "instructions": instructions.strip(), **numbers, **flags}
        )  # fmt: skip
    if errors:
        raise ValidationError({"plays": errors})
    return rows


def _plays_write(playbook: Playbook, rows: list[dict[str, Any]]) -> None:
    playbook.plays.all().delete()
    Play.objects.bulk_create(
        Play(playbook=playbook, position=i, **row) for i, row in enumerate(rows, start=1)
    )


def plays_as_data(playbook: Playbook) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "kind": p.kind,
            "team_kind": p.team_kind,
            "channel": p.channel.slug if p.channel_id else None,
            "due_days": p.due_days,
            "touches": p.touches,
            "stop_on": p.stop_on,
            "include_customers": p.include_customers,
            "include_open_deals": p.include_open_deals,
            "notify_webhook": p.notify_webhook,
            "instructions": p.instructions,
        }  # fmt: skip
        for p in playbook.plays.select_related("channel").order_by("position", "id")
    ]


# --- drafts -----------------------------------------------------------------------------------------
@transaction.atomic
def playbook_draft_create(
    *,
    user,
    stage: str,
    segment: Segment | None = None,
    based_on: Playbook | None = None,
    name: str | None = None,
    plays: list[dict[str, Any]] | None = None,
) -> Playbook:
    """A new draft for a stage (and segment), numbered next; its plays from ``plays``, else ``based_on``'s,
    else the stage's published playbook's."""
    if not (signed_in(user) and user.has_perm("playbooks.add_playbook")):
        raise PermissionDenied(
            "You may not create playbooks: it needs the playbooks.add_playbook permission."
        )
    if stage not in BuyingStage.values:
        raise ValidationError({"stage": [f"One of {', '.join(BuyingStage.values)}."]})
    rows = plays_clean(plays) if plays is not None else None
    scope = {"scope_key": playbook_scope_key(stage=stage, segment_id=segment.pk if segment else None)}
    copied: list[dict[str, Any]] = []

    def values(source: Playbook | None) -> dict[str, Any]:
        label = BuyingStage(stage).label + (f" · {segment}" if segment else "")
        fields = {"name": f"{label} playbook", "description": ""}
        if source is not None:
            fields = {"name": source.name, "description": source.description}
            copied.extend(plays_as_data(source))
        if name is not None:
            text, error = version_text_clean("name", name)
            if error:
                raise ValidationError({"name": [error]})
            fields["name"] = text
        return {**fields, "stage": stage, "segment": segment, **scope}

    def copy(draft: Playbook, source: Playbook | None) -> dict[str, Any]:
        chosen = rows if rows is not None else plays_clean(copied)
        _plays_write(draft, chosen)
        return {"plays": len(chosen)}

    return PLAYBOOKS.draft_create(user=user, based_on=based_on, values=values, copy=copy, series=scope)


@transaction.atomic
def playbook_update(
    *, playbook: Playbook, user, data: dict[str, Any], expected_revision: int | None
) -> Playbook:
    """Edit a draft: ``name``, ``description`` and ``plays`` (the whole list)."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send the changes as an object."]})

    def change(locked: Playbook) -> dict[str, Any] | None:
        errors, detail = {}, {}
        unknown = sorted(set(data) - {"name", "description", "plays"})
        for key in unknown:
            errors[key] = ["Unknown or read-only field."]
        texts = {}
        for key in ("name", "description"):
            if key in data:
                text, error = version_text_clean(key, data[key])
                if error:
                    errors[key] = [error]
                else:
                    texts[key] = text
        rows = None
        if "plays" in data:
            try:
                rows = plays_clean(data["plays"])
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        for key, text in texts.items():
            if getattr(locked, key) != text:
                detail[key] = {"old": getattr(locked, key), "new": text}
                setattr(locked, key, text)
        if rows is not None:
            before = plays_as_data(locked)
            _plays_write(locked, rows)
            after = plays_as_data(locked)
            if after != before:
                detail["plays"] = {"old": before, "new": after}
        return detail or None

    return PLAYBOOKS.update(document=playbook, user=user, expected_revision=expected_revision, change=change)


# --- the work ---------------------------------------------------------------------------------------
@transaction.atomic
def task_finish(*, task: PlayTask, user, status: str = TaskStatus.DONE) -> PlayTask:
    """Mark an open task done (or skipped): its assignee, or a member of its team; the run is done when no
    task of it is open any more. Logged as the run's action, and audited."""
    if status not in (TaskStatus.DONE, TaskStatus.SKIPPED):
        raise ValidationError({"status": ["done or skipped."]})
    locked = PlayTask.objects.select_for_update().select_related("run").get(pk=task.pk)
    if locked.status != TaskStatus.OPEN:
        raise WorkflowError(f"This task is {locked.get_status_display().lower()} already.")
    mine = locked.assignee_id == user.pk
    in_team = locked.team_id and Membership.objects.filter(user=user, team_id=locked.team_id).exists()
    if not (mine or in_team or user.has_perm("playbooks.change_playrun")):
        raise PermissionDenied("Only the task's assignee or a member of its team may finish it.")
    before = model_snapshot(locked)
    locked.status, locked.done_at, locked.done_by = status, timezone.now(), user
    locked.save(update_fields=["status", "done_at", "done_by"])
    change_record_create(actor=user, action=ChangeAction.UPDATE, instance=locked, before=before,
                         after=model_snapshot(locked))  # fmt: skip
    run = locked.run
    detail = {"task": locked.pk, "title": locked.title}
    PlayAction.objects.create(run=run, at=locked.done_at, action=f"task_{status}", detail=detail, actor=user)
    if run.status == RunStatus.OPEN and not run.tasks.filter(status=TaskStatus.OPEN).exists():
        run.status, run.ended_at = RunStatus.DONE, locked.done_at
        run.save(update_fields=["status", "ended_at"])
        PlayAction.objects.create(run=run, at=locked.done_at, action="done", detail={}, actor=user)
    task.status, task.done_at, task.done_by = locked.status, locked.done_at, locked.done_by
    return task


def playbook_diff(*, old: Playbook, new: Playbook) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: name and description; the plays (by name) added, removed and
    changed."""
    texts = ["name", "description"]
    return {
        "old": old.pk,
        "new": new.pk,
        "settings": fields_diff(
            {f: getattr(old, f) for f in texts}, {f: getattr(new, f) for f in texts}, texts
        ),
        "plays": rows_diff(plays_as_data(old), plays_as_data(new), key="name"),
    }
