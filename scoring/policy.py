"""Versions of the qualification policy: draft → published → archived, and rollback by publishing again.

A ``QualificationPolicy`` says what "fits", "in market", "qualified" and each buying stage mean. It is
versioned like the rules: only drafts change; publishing a draft archives the published version;
publishing an archived (earlier published) version again is the rollback. Every write checks who may
do it, is audited in the same transaction, and publishing rescores the accounts once it commits.

Errors: field problems raise ``ValidationError`` keyed by field, missing rights ``PermissionDenied``,
impossible state changes ``PolicyNotEditable`` / ``WorkflowError`` (the API answers 400, 403, 409).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, Role, TeamKind
from revops.models import Membership
from revops.services import object_delete

from . import pipeline
from .exceptions import PolicyConflict, WorkflowError
from .models import Band, PolicyStatus, QualificationPolicy
from .versioning import revision_check
from .workflow import _integer, _number, version_text_clean

# What an editor changes, in the order forms show it.
POLICY_FIELDS = [
    "name",
    "description",
    "icp_weight",
    "icp_fit_full",
    "fit_high_min",
    "fit_medium_min",
    "in_market_high_min",
    "in_market_medium_min",
    "qualified_fit_band",
    "qualified_in_market_band",
    "awareness_min",
    "consideration_min",
    "decision_min",
    "purchase_min",
    "hysteresis",
    "min_days_in_stage",
]
# State of a version: changes through drafting and publishing, never by editing.
VERSION_FIELDS = [
    "id",
    "number",
    "status",
    "revision",
    "created_by",
    "published_by",
    "published_at",
    "created",
    "updated",
]
# (field, lowest, highest) for the numbers; None: unbounded on that side.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "icp_weight": (0.0, 1.0),
    "fit_high_min": (0.0, 100.0),
    "fit_medium_min": (0.0, 100.0),
    "in_market_high_min": (0.0, 1.0),
    "in_market_medium_min": (0.0, 1.0),
    "awareness_min": (0.0, 1.0),
    "consideration_min": (0.0, 1.0),
    "decision_min": (0.0, 1.0),
    "purchase_min": (0.0, 1.0),
    "hysteresis": (0.0, 1.0),
    "min_days_in_stage": (0, 365),
}
# Pairs (lower, upper) that must stay in order: the bands, then the stages from awareness to purchase.
_ORDERED = [
    ("fit_medium_min", "fit_high_min"),
    ("in_market_medium_min", "in_market_high_min"),
    ("awareness_min", "consideration_min"),
    ("consideration_min", "decision_min"),
    ("decision_min", "purchase_min"),
]
_QUALIFYING_BANDS = {Band.HIGH.value, Band.MEDIUM.value}
# Who publishes: leads of marketing and sales (who own the definitions together) and revenue operations.
PUBLISHER_LEAD_TEAMS = [TeamKind.MARKETING, TeamKind.SALES, TeamKind.REVENUE_OPERATIONS]


class PolicyNotEditable(WorkflowError):
    """Only drafts change or are deleted: published and archived versions are history."""


# --- who may do what --------------------------------------------------------------------------------
def _require_perm(user, perm: str, what: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what}: it needs the {perm} permission.")


def can_publish_policies(user) -> bool:
    """Whether ``user`` may publish (and roll back) policies: the permission, held as a lead of
    marketing or sales or as a revenue-operations member or lead (leads of other teams may not)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    if not user.has_perm("scoring.publish_qualificationpolicy"):
        return False
    for kind, role in Membership.objects.filter(user=user).values_list("team__kind", "role"):
        if kind == TeamKind.REVENUE_OPERATIONS and role in (Role.MEMBER, Role.LEAD):
            return True
        if kind in PUBLISHER_LEAD_TEAMS and role == Role.LEAD:
            return True
    return False


# --- reads ------------------------------------------------------------------------------------------
def policy_published() -> QualificationPolicy | None:
    """The version that qualifies and stages accounts now (at most one, by constraint)."""
    return QualificationPolicy.objects.filter(status=PolicyStatus.PUBLISHED).first()


def policy_settings(policy: QualificationPolicy) -> dict[str, Any]:
    """The editable values of a version."""
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


# --- validation (also used by the admin form) -------------------------------------------------------
def policy_data_clean(*, policy: QualificationPolicy, data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise changes to a version; ``ValidationError`` keyed by field.

    Each value is checked on its own (type, range), then the whole version as it would be after the
    change: bands and stage thresholds in order. An ordering error names the field being changed.
    """
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send the changes as an object of field: value."]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for key, value in data.items():
        if key in VERSION_FIELDS:
            fail(key, "Read-only: it changes by creating and publishing versions, not by editing.")
        elif key not in POLICY_FIELDS:
            fail(key, "Unknown field.")
        elif key in ("name", "description"):
            text, error = version_text_clean(key, value)
            if error:
                fail(key, error)
            else:
                cleaned[key] = text
        elif key in ("qualified_fit_band", "qualified_in_market_band"):
            if value not in _QUALIFYING_BANDS:
                fail(key, "Choose high or medium (medium means medium or high).")
            else:
                cleaned[key] = value
        else:
            try:
                number = _integer(value) if key == "min_days_in_stage" else _number(value)
            except ValueError as exc:
                fail(key, str(exc))
                continue
            low, high = _RANGES.get(key, (None, None))
            if key == "icp_fit_full" and number <= 0:
                fail(key, "Must be above 0 (the rules fit points that count as a perfect ICP match).")
            elif low is not None and high is not None and not low <= number <= high:
                fail(key, f"Must be between {low:g} and {high:g}.")
            else:
                cleaned[key] = number

    current = policy_settings(policy)
    merged = {**current, **cleaned}
    changed = {key for key, value in cleaned.items() if current[key] != value}
    for lower, upper in _ORDERED:
        if lower in errors or upper in errors or merged[lower] <= merged[upper]:
            continue
        # Blame the value that is being changed (the lower one when both are, or neither).
        if upper in changed and lower not in changed:
            fail(upper, f"Must be at least {lower} ({merged[lower]:g}).")
        else:
            fail(lower, f"Must be at most {upper} ({merged[upper]:g}).")
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- writes -----------------------------------------------------------------------------------------
def _lock(policy: QualificationPolicy) -> QualificationPolicy:
    return QualificationPolicy.objects.select_for_update().get(pk=policy.pk)


def _sync(target: QualificationPolicy, source: QualificationPolicy) -> QualificationPolicy:
    """Copy the saved state into the caller's instance, so it is not left stale."""
    if target is not source:
        for field in QualificationPolicy._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))
    return target


def _state(policy: QualificationPolicy) -> str:
    return PolicyStatus(policy.status).label.lower()


def _save_audited(policy: QualificationPolicy, user, before: dict) -> None:
    policy.save()
    change_record_create(
        actor=user, action=ChangeAction.UPDATE, instance=policy, before=before, after=model_snapshot(policy)
    )


@transaction.atomic
def policy_draft_create(
    *, user, based_on: QualificationPolicy | None = None, name: str | None = None
) -> QualificationPolicy:
    """A new draft with the values of ``based_on`` (default: the published version), numbered next."""
    _require_perm(user, "scoring.add_qualificationpolicy", "create policy drafts")
    source = based_on or policy_published()
    values = policy_settings(source) if source is not None else {}
    if name is not None:
        values["name"] = name
    values = {**values, **policy_data_clean(policy=QualificationPolicy(), data=values)}
    values.setdefault("name", "Qualification policy")
    for _attempt in range(5):
        number = (QualificationPolicy.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                draft = QualificationPolicy.objects.create(
                    number=number, status=PolicyStatus.DRAFT, created_by=user, **values
                )
            break
        except IntegrityError:  # someone took the number at the same moment: take the next one
            continue
    else:  # pragma: no cover - five collisions in a row
        raise WorkflowError("Could not number the new policy draft: try again.")
    after = {**model_snapshot(draft), "based_on": source.number if source is not None else None}
    change_record_create(actor=user, action=ChangeAction.CREATE, instance=draft, after=after)
    return draft


@transaction.atomic
def policy_update(
    *, policy: QualificationPolicy, user, data: dict[str, Any], expected_revision: int | None
) -> QualificationPolicy:
    """Edit a draft (any of ``POLICY_FIELDS``); nothing changes unless every value is valid.

    ``expected_revision`` is the revision the editor read, as for rules versions
    (``scoring.versioning``): missing → ``PreconditionRequired``, stale → ``PolicyConflict``. A real
    change bumps ``revision`` by one.
    """
    _require_perm(user, "scoring.change_qualificationpolicy", "edit policy drafts")
    locked = _lock(policy)
    if not locked.is_editable:
        raise PolicyNotEditable(
            f"Policy v{locked.number} is {_state(locked)}: only drafts can be edited. "
            "Create a new draft from it and publish that."
        )
    label = f"Policy v{locked.number}"
    revision_check(locked=locked, expected_revision=expected_revision, label=label, conflict=PolicyConflict)
    cleaned = policy_data_clean(policy=locked, data=data)
    changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
    if not changed:
        return _sync(policy, locked)
    before = model_snapshot(locked)
    for key, value in changed.items():
        setattr(locked, key, value)
    locked.revision += 1
    _save_audited(locked, user, before)
    return _sync(policy, locked)


def _accounts_rescore(*, user, reason: str) -> None:

    pipeline.full_rescore_schedule(user=user, reason=reason)


@transaction.atomic
def policy_publish(*, policy: QualificationPolicy, user) -> QualificationPolicy:
    """Publish a draft, or an archived version again (the rollback); the published one is archived.

    Accounts are rescored under the new version once the transaction commits.
    """
    if not can_publish_policies(user):
        raise PermissionDenied(
            "Only leads of marketing or sales and revenue-operations members may publish policies."
        )
    locked = _lock(policy)
    if locked.status == PolicyStatus.PUBLISHED:
        raise WorkflowError(f"Policy v{locked.number} is already the published version.")
    rollback = locked.status == PolicyStatus.ARCHIVED
    previous = (
        QualificationPolicy.objects.select_for_update()
        .filter(status=PolicyStatus.PUBLISHED)
        .exclude(pk=locked.pk)
        .first()
    )
    if previous is not None:  # archived first: at most one published version, by constraint
        before = model_snapshot(previous)
        previous.status = PolicyStatus.ARCHIVED
        _save_audited(previous, user, before)
    before = model_snapshot(locked)
    locked.status = PolicyStatus.PUBLISHED
    locked.published_at = timezone.now()
    locked.published_by = user
    _save_audited(locked, user, before)
    reason = f"policy rolled back to v{locked.number}" if rollback else f"policy v{locked.number} published"
    transaction.on_commit(lambda: _accounts_rescore(user=user, reason=reason))
    return _sync(policy, locked)


@transaction.atomic
def policy_delete(*, policy: QualificationPolicy, user) -> None:
    """Delete a draft (its author, or whoever may delete or publish policies); other versions stay."""
    _require_perm(user, "scoring.change_qualificationpolicy", "delete policy drafts")
    locked = _lock(policy)
    if not locked.is_editable:
        raise PolicyNotEditable(
            f"Policy v{locked.number} is {_state(locked)}: only drafts can be deleted; it stays as history."
        )
    if locked.created_by_id != user.pk and not (
        user.has_perm("scoring.delete_qualificationpolicy") or can_publish_policies(user)
    ):
        raise PermissionDenied("Only the draft's author, a lead or revenue operations may delete it.")
    try:
        object_delete(instance=locked, actor=user)
    except ProtectedError as exc:  # pragma: no cover - drafts never score
        raise WorkflowError(
            f"Policy v{locked.number} is referenced by scores and cannot be deleted."
        ) from exc
