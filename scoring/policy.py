"""Versions of the qualification policy, in the one versioned-document workflow: draft → proposed →
approved (a marketing lead and a sales lead) → published → superseded, and rollback by publishing a
superseded version again.

A ``QualificationPolicy`` says what "fits", "in market", "qualified" and each buying stage mean: the
account-level counterpart of the MQL definition, the contract marketing and sales decide together. So it
moves as rules versions do (``revops.documents``; ``POLICIES`` says who does what): only drafts change,
under an ETag; a proposal needs the approval of a marketing lead and a sales lead (never the proposer's);
a publisher then publishes it, and the accounts are rescored once that commits. Every write checks who may
do it, is audited in the same transaction and leaves a history row.

Errors: field problems raise ``ValidationError`` keyed by field, missing rights ``PermissionDenied``,
impossible state changes ``PolicyNotEditable`` / ``WorkflowError`` (the API answers 400, 403, 409), an
edit without or against a stale revision ``PreconditionRequired`` / ``PolicyConflict`` (428, 412).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from revops.choices import TeamKind
from revops.documents import DocumentWorkflow, marketing_sales_publisher, signed_in, version_text_clean
from revops.versioned import VERSION_FIELDS
from scoring import pipeline
from scoring.choices import Band
from scoring.exceptions import PolicyConflict, PolicyNotEditable
from scoring.models import PolicyApproval, PolicyComment, QualificationPolicy
from scoring.workflow import finite_number, whole_number

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
# Whose leads sign a proposal off: marketing and sales, who own the definitions together.
SIGNER_TEAMS = (TeamKind.MARKETING, TeamKind.SALES)


# --- who may do what --------------------------------------------------------------------------------
def _may_edit(user) -> bool:
    return user.has_perm("scoring.change_qualificationpolicy")


def _accounts_rescore(*, user, reason: str) -> None:
    pipeline.full_rescore_schedule(user=user, reason=reason)


POLICIES = DocumentWorkflow(
    model=QualificationPolicy,
    label="Policy v{number}",
    signers=SIGNER_TEAMS,
    approve_permission="scoring.approve_qualificationpolicy",
    may_edit=_may_edit,
    may_publish=marketing_sales_publisher("scoring.publish_qualificationpolicy"),
    delete_permission="scoring.delete_qualificationpolicy",
    after_publish=_accounts_rescore,
    edit_refusal="You may not {what}: it needs the scoring.change_qualificationpolicy permission.",
    publish_refusal="Only leads of marketing or sales and revenue-operations members may {what}.",
    delete_refusal="Only the draft's author, a lead or revenue operations may delete it.",
    published_reason="policy v{number} published",
    rolled_back_reason="policy rolled back to v{number}",
    not_editable=PolicyNotEditable,
    conflict=PolicyConflict,
)


def can_publish_policies(user) -> bool:
    """Whether ``user`` may publish (and roll back) policies: the permission, held as a lead of
    marketing or sales or as a revenue-operations member or lead (leads of other teams may not)."""
    return POLICIES.can_publish(user)


def policy_approver_team_kinds(user) -> set[str]:
    """The teams (marketing, sales) ``user`` signs policies off for: those they lead."""
    return POLICIES.approver_team_kinds(user)


# --- reads ------------------------------------------------------------------------------------------
def policy_published() -> QualificationPolicy | None:
    """The version that qualifies and stages accounts now (at most one, by constraint)."""
    return POLICIES.published()


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
                number = whole_number(value) if key == "min_days_in_stage" else finite_number(value)
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


# --- drafts -----------------------------------------------------------------------------------------
@transaction.atomic
def policy_draft_create(
    *, user, based_on: QualificationPolicy | None = None, name: str | None = None
) -> QualificationPolicy:
    """A new draft with the values of ``based_on`` (default: the published version), numbered next."""
    if not (signed_in(user) and user.has_perm("scoring.add_qualificationpolicy")):
        raise PermissionDenied(
            "You may not create policy drafts: it needs the scoring.add_qualificationpolicy permission."
        )

    def values(source: QualificationPolicy | None) -> dict[str, Any]:
        fields = policy_settings(source) if source is not None else {}
        if name is not None:
            fields["name"] = name
        fields = {**fields, **policy_data_clean(policy=QualificationPolicy(), data=fields)}
        fields.setdefault("name", "Qualification policy")
        return fields

    return POLICIES.draft_create(user=user, based_on=based_on, values=values)


@transaction.atomic
def policy_update(
    *, policy: QualificationPolicy, user, data: dict[str, Any], expected_revision: int | None
) -> QualificationPolicy:
    """Edit a draft (any of ``POLICY_FIELDS``); nothing changes unless every value is valid.

    ``expected_revision`` is the revision the editor read, as for rules versions: missing →
    ``PreconditionRequired``, stale → ``PolicyConflict``. A real change bumps ``revision`` by one and
    is recorded in the history with the values before and after.
    """

    def change(locked: QualificationPolicy) -> dict[str, Any] | None:
        cleaned = policy_data_clean(policy=locked, data=data)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if not changed:
            return None
        settings = [{"field": k, "old": getattr(locked, k), "new": v} for k, v in changed.items()]
        for key, value in changed.items():
            setattr(locked, key, value)
        return {"settings": settings}

    return POLICIES.update(document=policy, user=user, expected_revision=expected_revision, change=change)


@transaction.atomic
def policy_delete(*, policy: QualificationPolicy, user) -> None:
    """Delete a draft (its author, or whoever may delete or publish policies); other versions stay."""
    POLICIES.draft_delete(document=policy, user=user)


@transaction.atomic
def policy_comment_add(*, policy: QualificationPolicy, user, body: str) -> PolicyComment:
    """Comment on any version of the policy."""
    return POLICIES.comment_add(document=policy, user=user, body=body)


# --- sign-off ---------------------------------------------------------------------------------------
@transaction.atomic
def policy_propose(*, policy: QualificationPolicy, user) -> QualificationPolicy:
    """Ask a marketing lead and a sales lead to approve a draft; it is frozen while proposed."""
    return POLICIES.propose(document=policy, user=user)


@transaction.atomic
def policy_withdraw(*, policy: QualificationPolicy, user) -> QualificationPolicy:
    """Take a proposed or approved version back to draft; its approvals are cleared."""
    return POLICIES.withdraw(document=policy, user=user)


@transaction.atomic
def policy_approve(*, policy: QualificationPolicy, user) -> PolicyApproval:
    """A marketing or sales lead approves a proposed version for their team; both → approved.

    The proposer may not approve (four eyes); one approval per person, one needed per team.
    """
    return POLICIES.approve(document=policy, user=user)


@transaction.atomic
def policy_reject(*, policy: QualificationPolicy, user, reason: str) -> QualificationPolicy:
    """A marketing or sales lead sends a proposed (or approved) version back to draft, saying why."""
    return POLICIES.reject(document=policy, user=user, reason=reason)


# --- publication ------------------------------------------------------------------------------------
@transaction.atomic
def policy_publish(*, policy: QualificationPolicy, user) -> QualificationPolicy:
    """Publish a version both teams approved; the published one is superseded.

    Accounts are rescored under the new version once the transaction commits. To go back to an earlier
    version: ``policy_rollback``.
    """
    return POLICIES.publish(document=policy, user=user)


@transaction.atomic
def policy_rollback(*, target: QualificationPolicy, user) -> QualificationPolicy:
    """Publish an earlier, previously published (superseded) version again; it is not changed."""
    return POLICIES.rollback(document=target, user=user)
