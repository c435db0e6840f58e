"""Sales decisions on a contact's lifecycle stage: accept, reject, qualify, recycle, reopen; and the
stages a CSV import brings for the contacts it creates.

Each decision checks the contact's current stage under a row lock, writes a ``LifecycleTransition``
(actor, published version, the decision, reason code and free text, SQL checklist), moves
``Contact.lifecycle_stage`` and audits both in one transaction; the teams hear about it (notifications,
webhooks) once it commits.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Contact
from accounts.routing import leads_route
from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, Role, TeamKind
from revops.models import Membership
from scoring.choices import REASONS_BY_DECISION, LifecycleDecision, LifecycleReason
from scoring.delivery import notifications
from scoring.exceptions import WorkflowError
from scoring.models import LifecycleTransition, Ruleset
from scoring.selectors import published_ruleset

# Who decides: sales, BDR/SDR and revenue operations (members and leads).
DECIDER_TEAMS = [TeamKind.SALES, TeamKind.BDR, TeamKind.REVENUE_OPERATIONS]
RECYCLABLE_STAGES = [LifecycleStage.MQL, LifecycleStage.SAL, LifecycleStage.SQL, LifecycleStage.OPPORTUNITY]


def can_decide(user) -> bool:
    """Whether ``user`` may accept, reject, qualify, recycle and reopen contacts."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return (
        user.has_perm("scoring.add_lifecycletransition")
        and Membership.objects.filter(
            user=user, team__kind__in=DECIDER_TEAMS, role__in=[Role.MEMBER, Role.LEAD]
        ).exists()
    )


def _require_decider(user) -> None:
    if not can_decide(user):
        raise PermissionDenied(
            "Only members and leads of a sales, BDR/SDR or revenue-operations team decide on leads."
        )


def _label(stage: str) -> str:
    return LifecycleStage(stage).label


def _lock(contact: Contact) -> Contact:
    return Contact.objects.select_for_update().get(pk=contact.pk)


def _require_stage(contact: Contact, allowed: list[str], action: str) -> None:
    if contact.lifecycle_stage not in allowed:
        labels = [_label(s) for s in allowed]
        choices = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
        raise WorkflowError(
            f"{contact} is {_label(contact.lifecycle_stage)}: only {choices} contacts can be {action}."
        )


def _reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError({"reason": ["Say why: sales and marketing both read it."]})
    return reason


def reason_codes(decision: str) -> list[str]:
    """The reason codes a reject or recycle takes, in the order forms list them."""
    return [str(code) for code in REASONS_BY_DECISION[decision]]


def reason_codes_text(decision: str) -> str:
    """``"not_a_fit (Not a fit …), …"``: the valid codes in words, for errors."""
    return ", ".join(f"{code} ({LifecycleReason(code).label})" for code in REASONS_BY_DECISION[decision])


def reason_code_clean(reason_code: str, reason: str, *, decision: str) -> tuple[str, str]:
    """A reject's or recycle's reason code (required, one of the decision's) and its free text
    (required for "other", optional beside any other code): ``(code, text)`` or ``ValidationError``."""
    code = (reason_code or "").strip() if isinstance(reason_code, str) else ""
    valid = reason_codes(decision)
    if not code:
        raise ValidationError(
            {"reason_code": [f"Choose a reason code: one of {reason_codes_text(decision)}."]}
        )
    if code not in valid:
        choices = reason_codes_text(decision)
        message = f"“{code}” is not a {decision} reason: use one of {choices}."
        raise ValidationError({"reason_code": [message]})
    text = (reason or "").strip()
    if code == LifecycleReason.OTHER and not text:
        raise ValidationError({"reason": ["Say why in a few words: the reason code is “other”."]})
    return code, text


def _notify(transition: LifecycleTransition) -> None:
    notifications.stage_change_notify(transitions=[transition])


def _transition(
    contact: Contact,
    *,
    original: Contact,
    user,
    to_stage: str,
    ruleset: Ruleset | None,
    decision: str,
    reason: str,
    reason_code: str = "",
    checklist: dict[str, bool] | None = None,
) -> LifecycleTransition:
    """Write the transition, move the contact, audit both, and notify after commit."""
    transition = LifecycleTransition.objects.create(
        contact=contact,
        from_stage=contact.lifecycle_stage,
        to_stage=to_stage,
        at=timezone.now(),
        actor=user,
        ruleset=ruleset,
        decision=decision,
        reason_code=reason_code,
        reason=reason,
        checklist=checklist or {},
    )
    change_record_create(
        actor=user, action=ChangeAction.CREATE, instance=transition, after=model_snapshot(transition)
    )
    before = model_snapshot(contact)
    contact.lifecycle_stage = to_stage
    contact.save(update_fields=["lifecycle_stage", "updated"])
    change_record_create(
        actor=user, action=ChangeAction.UPDATE, instance=contact, before=before, after=model_snapshot(contact)
    )
    original.lifecycle_stage, original.updated = contact.lifecycle_stage, contact.updated
    transaction.on_commit(lambda: _notify(transition))
    return transition


@transaction.atomic
def contact_accept(*, contact: Contact, user, reason: str = "") -> LifecycleTransition:
    """Sales accepts an MQL: MQL → SAL (only when the published version keeps the SAL stage)."""
    _require_decider(user)
    locked = _lock(contact)
    _require_stage(locked, [LifecycleStage.MQL], "accepted")
    ruleset = published_ruleset()
    if ruleset is None or not ruleset.sal_enabled:
        version = f"v{ruleset.number}" if ruleset else "The current version"
        raise WorkflowError(f"{version} has no SAL stage: qualify the MQL as an SQL directly, or reject it.")
    transition = _transition(
        locked,
        original=contact,
        user=user,
        to_stage=LifecycleStage.SAL,
        ruleset=ruleset,
        decision=LifecycleDecision.ACCEPT,
        reason=_reason(reason, required=False),
    )
    # An accepted lead has an owner from now on: its account's, else by territory or round-robin.
    leads_route(contact_ids=[locked.pk], actor=user, reason="accepted")
    contact.owner_id, contact.owner_team_id = Contact.objects.values_list("owner_id", "owner_team_id").get(
        pk=locked.pk
    )
    return transition


@transaction.atomic
def contact_reject(
    *, contact: Contact, user, reason_code: str, reason: str = "", disqualify: bool = False
) -> LifecycleTransition:
    """Sales rejects an MQL or SAL: back to marketing (RECYCLED) or out for good (DISQUALIFIED), with a
    reason code (``REJECT_REASONS``) and free text beside it (required for "other")."""
    _require_decider(user)
    reason_code, reason = reason_code_clean(reason_code, reason, decision=LifecycleDecision.REJECT)
    locked = _lock(contact)
    _require_stage(locked, [LifecycleStage.MQL, LifecycleStage.SAL], "rejected")
    return _transition(
        locked,
        original=contact,
        user=user,
        to_stage=LifecycleStage.DISQUALIFIED if disqualify else LifecycleStage.RECYCLED,
        ruleset=published_ruleset(),
        decision=LifecycleDecision.REJECT,
        reason_code=reason_code,
        reason=reason,
    )


@transaction.atomic
def contact_qualify(
    *, contact: Contact, user, checklist: dict[str, bool], reason: str = ""
) -> LifecycleTransition:
    """Sales qualifies: SAL → SQL (MQL → SQL when SAL is off), every SQL checklist item confirmed."""
    _require_decider(user)
    locked = _lock(contact)
    ruleset = published_ruleset()
    sal_enabled = ruleset.sal_enabled if ruleset is not None else True
    allowed = [LifecycleStage.SAL] if sal_enabled else [LifecycleStage.SAL, LifecycleStage.MQL]
    if locked.lifecycle_stage == LifecycleStage.MQL and sal_enabled:
        raise WorkflowError(
            f"{locked} is MQL: accept it as SAL first (the published version keeps the SAL stage)."
        )
    _require_stage(locked, allowed, "qualified")
    items = list(ruleset.sql_checklist) if ruleset is not None else []
    if not isinstance(checklist, dict):
        raise ValidationError({"checklist": ["Answer the checklist as item: true/false."]})
    unknown = [key for key in checklist if key not in items]
    if unknown:
        raise ValidationError({"checklist": [f"Not on the SQL checklist: {'; '.join(map(str, unknown))}."]})
    unconfirmed = [item for item in items if checklist.get(item) is not True]
    if unconfirmed:
        raise ValidationError(
            {"checklist": [f"Confirm every item of the SQL checklist: {'; '.join(unconfirmed)}."]}
        )
    return _transition(
        locked,
        original=contact,
        user=user,
        to_stage=LifecycleStage.SQL,
        ruleset=ruleset,
        decision=LifecycleDecision.QUALIFY,
        reason=_reason(reason, required=False),
        checklist={item: True for item in items},
    )


@transaction.atomic
def contact_recycle(*, contact: Contact, user, reason_code: str, reason: str = "") -> LifecycleTransition:
    """Not now: an MQL, SAL, SQL or opportunity contact goes back to marketing's nurture (RECYCLED), with
    a reason code (``RECYCLE_REASONS``) and free text beside it (required for "other")."""
    _require_decider(user)
    reason_code, reason = reason_code_clean(reason_code, reason, decision=LifecycleDecision.RECYCLE)
    locked = _lock(contact)
    _require_stage(locked, RECYCLABLE_STAGES, "recycled")
    return _transition(
        locked,
        original=contact,
        user=user,
        to_stage=LifecycleStage.RECYCLED,
        ruleset=published_ruleset(),
        decision=LifecycleDecision.RECYCLE,
        reason_code=reason_code,
        reason=reason,
    )


@transaction.atomic
def contact_reopen(*, contact: Contact, user, reason: str) -> LifecycleTransition:
    """A disqualified contact gets another chance: DISQUALIFIED → LEAD."""
    _require_decider(user)
    reason = _reason(reason, required=True)
    locked = _lock(contact)
    _require_stage(locked, [LifecycleStage.DISQUALIFIED], "reopened")
    return _transition(
        locked,
        original=contact,
        user=user,
        to_stage=LifecycleStage.LEAD,
        ruleset=published_ruleset(),
        decision=LifecycleDecision.REOPEN,
        reason=reason,
    )


# The stages an import by anyone may record (marketing's); the others record sales' decisions.
MARKETING_STAGES = [LifecycleStage.LEAD, LifecycleStage.MQL]


def importable_stages(user) -> set[str]:
    """The stages an import by ``user`` may record for the contacts it creates: Lead and MQL for anyone
    who imports; every stage for those who decide on leads (``can_decide``), and for the command line
    (no user: whoever runs it administers the server)."""
    if user is None or can_decide(user):
        return set(LifecycleStage.values)
    return {str(stage) for stage in MARKETING_STAGES}


IMPORT_BATCH = 1000


@transaction.atomic
def contacts_stage_import(*, stages: dict[int, str], user, source: str) -> int:
    """Record the stage another system gave each new contact (``{contact id: stage}``): a move from Lead,
    decision "import", by ``user``, with ``source`` as its reason; one audit record for the batch.

    Only contacts still at Lead move (a compare-and-set, like the automatic moves), so a stored contact's
    stage is never overwritten: that takes a decision. Nobody is notified: it is history brought in, not
    news. A stage outside ``importable_stages(user)`` is refused (``PermissionDenied``), like a decision
    by someone who may not take it. Returns how many contacts moved.
    """
    wanted = {pk: stage for pk, stage in stages.items() if stage != LifecycleStage.LEAD}
    if not wanted:
        return 0
    unknown = set(wanted.values()) - set(LifecycleStage.values)
    if unknown:
        raise ValidationError({"lifecycle_stage": [f"Not a lifecycle stage: {', '.join(sorted(unknown))}."]})
    refused = set(wanted.values()) - importable_stages(user)
    if refused:
        labels = ", ".join(_label(stage) for stage in sorted(refused))
        raise PermissionDenied(
            f"Only members and leads of a sales, BDR/SDR or revenue-operations team record imported {labels} "
            "stages."
        )
    actor = user if getattr(user, "is_authenticated", False) else None
    ruleset, now = published_ruleset(), timezone.now()
    moved: list[LifecycleTransition] = []
    by_stage: dict[str, list[int]] = {}
    for pk, stage in wanted.items():
        by_stage.setdefault(stage, []).append(pk)
    for stage, ids in sorted(by_stage.items()):
        for start in range(0, len(ids), IMPORT_BATCH):
            chunk = Contact.objects.select_for_update().filter(
                pk__in=ids[start : start + IMPORT_BATCH], lifecycle_stage=LifecycleStage.LEAD
            )
            at_lead = list(chunk.values_list("id", flat=True))
            Contact.objects.filter(pk__in=at_lead).update(lifecycle_stage=stage, updated=now)
            moved += [
                LifecycleTransition(
                    contact_id=pk, from_stage=LifecycleStage.LEAD, to_stage=stage, at=now, actor=actor,
                    ruleset=ruleset, decision=LifecycleDecision.IMPORT, reason=source,
                )
                for pk in at_lead
            ]  # fmt: skip
    LifecycleTransition.objects.bulk_create(moved, batch_size=IMPORT_BATCH)
    if moved:
        counts = {stage: 0 for stage in by_stage}
        for transition in moved:
            counts[transition.to_stage] += 1
        change_record_create(
            actor=actor,
            action=ChangeAction.IMPORT,
            model=LifecycleTransition,
            object_repr=f"Imported lifecycle stages: {len(moved)} contact(s)",
            after={"source": source, "moved": len(moved), "to_stage": counts},
        )
    return len(moved)
