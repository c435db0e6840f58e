"""The versioned-document workflow, one for every definition that decides (rulesets, qualification
policies; next pipeline plans and playbooks):

    draft ──propose──► proposed ──approve × each signer team──► approved ──publish──► published
      ▲                   │  ▲                                   │   │   (at a time: scheduled ─due─►)
      └──withdraw/reject──┘  └───────────── withdraw ────────────┘   │
                                                    published ──(another is published)──► superseded
                                                    superseded ──rollback──► published

Editors change drafts under an ETag (``revision``; an edit names the revision it read: missing →
``PreconditionRequired``, stale → the document's ``StaleRevision``), propose them and comment; a lead of
each signer team approves (never the proposer: four eyes); a publisher publishes now or at a time, and
rolls back to a version published before. Published versions never change. Every change of state is one
transaction with a ``ChangeRecord`` and a history row; publishing runs the document's ``after_publish``
(a rescore) once it commits.

A document plugs in with a ``DocumentWorkflow``: its model (``revops.versioned``), who edits, which teams
sign, who publishes, the words for refusals, and what runs after publishing. The domain module keeps its
validation and its service names (``ruleset_propose`` …), each a call of the workflow here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from .audit import change_record_create, model_snapshot
from .choices import ChangeAction, Role, TeamKind, VersionStatus
from .exceptions import PreconditionRequired, StaleRevision, WorkflowError
from .models import Membership
from .services import object_delete
from .versioned import VersionedDocument

_ETAG_RE = re.compile(r'^(?:W/)?"([a-z]+)-(\d+)-r(\d+)"$')
# From which statuses each transition leaves (publishing by the due task: SCHEDULED only).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "edit": (VersionStatus.DRAFT,),
    "delete": (VersionStatus.DRAFT,),
    "propose": (VersionStatus.DRAFT,),
    "withdraw": (VersionStatus.PROPOSED, VersionStatus.APPROVED, VersionStatus.SCHEDULED),
    "approve": (VersionStatus.PROPOSED,),
    "reject": (VersionStatus.PROPOSED, VersionStatus.APPROVED),
    "publish": (VersionStatus.APPROVED, VersionStatus.SCHEDULED),
    "publish_due": (VersionStatus.SCHEDULED,),
    "rollback": (VersionStatus.SUPERSEDED,),
}


# --- ETags: one per revision, and the If-Match check ------------------------------------------------
def if_match_revision(header: str | None, document) -> int | None:
    """The revision an ``If-Match`` header names for this document; None without one; 0 if none matches.

    A document's ETag is ``"<kind>-<pk>-r<revision>"``: a tag of another kind or row names nothing.
    """
    header = (header or "").strip()
    if not header or header == "*":  # "*" would skip the lost-update check, so it counts as missing
        return None
    kind = _ETAG_RE.match(document.etag)[1]
    revisions = []
    for tag in header.split(","):
        match = _ETAG_RE.match(tag.strip())
        if match and match[1] == kind and int(match[2]) == document.pk:
            revisions.append(int(match[3]))
    if document.revision in revisions:
        return document.revision
    return max(revisions, default=0)


def revision_check(
    *, locked, expected_revision: int | None, label: str, conflict: type[StaleRevision] = StaleRevision
) -> None:
    """Refuse an edit of ``locked`` (the row under lock) that names no revision or a stale one."""
    if expected_revision is None:
        raise PreconditionRequired(
            f"Say which revision of {label} you edited (it is at revision {locked.revision}), "
            "so that nobody's changes are overwritten."
        )
    if expected_revision != locked.revision:
        raise conflict(
            f"{label} was changed by someone else since you read it: you edited revision "
            f"{expected_revision}, it is now at revision {locked.revision}. "
            "Reload it and apply your changes again.",
            current=locked,
        )


def version_text_clean(key: str, value: Any) -> tuple[str, str | None]:
    """A version's ``name`` (required, at most 200 characters) or ``description``: (cleaned, error)."""
    if not isinstance(value, str):
        return "", "A name is required." if key == "name" else "Text is required."
    text = value.strip()
    if key == "name" and not text:
        return "", "A name is required."
    if key == "name" and len(text) > 200:
        return "", "At most 200 characters."
    return text, None


# --- who may do what --------------------------------------------------------------------------------
def signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def memberships(user) -> list[tuple[str, str]]:
    """``(team kind, role)`` of each of ``user``'s memberships; none when signed out."""
    if not signed_in(user):
        return []
    return list(Membership.objects.filter(user=user).values_list("team__kind", "role"))


def _kind_label(kind: str) -> str:
    return TeamKind(kind).label.lower()


def _signers_phrase(kinds: tuple[str, ...]) -> str:
    """``("marketing", "sales")`` → "both a marketing and a sales lead"."""
    names = [f"a {_kind_label(k)}" for k in kinds]
    if len(names) == 1:
        return f"{names[0]} lead"
    joined = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{'both ' if len(names) == 2 else ''}{joined} lead"


def marketing_sales_publisher(permission: str) -> Callable[[Any], bool]:
    """Who publishes a document marketing and sales sign off (policies, revenue plans, playbooks): a holder
    of ``permission`` who leads marketing or sales, or is a revenue-operations member or lead; superusers."""

    def may_publish(user) -> bool:
        if user.is_superuser:
            return True
        if not user.has_perm(permission):
            return False
        for kind, role in memberships(user):
            if kind == TeamKind.REVENUE_OPERATIONS and role in (Role.MEMBER, Role.LEAD):
                return True
            if kind in (TeamKind.MARKETING, TeamKind.SALES) and role == Role.LEAD:
                return True
        return False

    return may_publish


# --- the workflow of one kind of document -----------------------------------------------------------
@dataclass(frozen=True)
class DocumentWorkflow:
    """The workflow of one versioned document model; its methods are the services' bodies.

    Every method locks the version's row for its transaction, checks who acts and from which status
    (``TRANSITIONS``), writes the change with its ``ChangeRecord`` and history row, and leaves the
    caller's instance in the saved state.
    """

    model: type[VersionedDocument]
    # "v{number}" → "v3": how messages and history name a version.
    label: str
    # Team kinds whose leads must each approve a proposal (one approval per kind, never the proposer's).
    signers: tuple[str, ...]
    approve_permission: str
    may_edit: Callable[[Any], bool]
    may_publish: Callable[[Any], bool]
    # Who else (besides the author and the publishers) deletes drafts.
    delete_permission: str
    # Called once the publishing transaction commits, with ``user=`` and ``reason=`` (a rescore).
    after_publish: Callable[..., Any]
    # Refusals, with "{what}" for the action ("edit drafts", "publish versions" …).
    edit_refusal: str
    publish_refusal: str
    delete_refusal: str = "Only the draft's author or a team lead may delete it."
    # Why ``after_publish`` runs, with "{label}" or "{number}".
    published_reason: str = "{label} published"
    rolled_back_reason: str = "rolled back to {label}"
    not_editable: type[WorkflowError] = WorkflowError
    conflict: type[StaleRevision] = StaleRevision
    # Why a draft cannot be proposed yet (e.g. a ruleset without rules), or None.
    propose_check: Callable[[Any], str | None] | None = None
    # Fields that split the versions into series, each numbered and published on its own (a revenue plan
    # per period: one published plan for each); empty (rulesets, policies): one series, one published.
    series: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("approvals", "comments", "history"):
            if not hasattr(self.model, name):
                raise TypeError(f"{self.model.__name__} needs a related {name!r} (see revops.versioned).")
        if not self.signers or not set(self.signers) <= set(TeamKind.values):
            raise TypeError(f"{self.model.__name__}: signers must be team kinds, at least one.")

    # --- words ------------------------------------------------------------------------------------
    def label_of(self, document) -> str:
        return self.label.format(number=document.number, document=document)

    def series_of(self, document) -> dict[str, Any]:
        """The series ``document`` belongs to, as filter arguments (empty without series)."""
        return {name: getattr(document, name) for name in self.series}

    @staticmethod
    def state_of(document) -> str:
        return VersionStatus(document.status).label.lower()

    # --- who ---------------------------------------------------------------------------------------
    def can_edit(self, user) -> bool:
        """Whether ``user`` creates and edits drafts, proposes, withdraws and comments."""
        return signed_in(user) and bool(self.may_edit(user))

    def can_publish(self, user) -> bool:
        return signed_in(user) and bool(self.may_publish(user))

    def approver_team_kinds(self, user) -> set[str]:
        """The signer teams ``user`` approves for: those they lead, given the approve permission."""
        if not signed_in(user) or not user.has_perm(self.approve_permission):
            return set()
        return {kind for kind, role in memberships(user) if role == Role.LEAD and kind in self.signers}

    def actions_for(self, user, document) -> set[str]:
        """The workflow steps ``user`` may take on ``document`` now, for pages to offer only those
        (the methods below still check every step): "edit", "propose", "delete", "comment", "withdraw",
        "approve", "reject", "publish", "schedule", "rollback".

        Approve: a proposed version, by a lead of a signer team (with the approve permission) that has
        not signed yet, who did not propose it (four eyes) and has not approved it. Reject: a proposed
        or approved version, by such a lead who did not propose it and has not approved it. Publish and
        schedule: an approved or scheduled version, by a publisher. Roll back: a superseded version that
        was published before, by a publisher. A few small queries (memberships, the approvals; the
        approvals come from a prefetch when there is one).
        """
        if not signed_in(user):
            return set()
        status = document.status
        actions: set[str] = set()
        if self.can_edit(user):
            actions.add("comment")
            if status == VersionStatus.DRAFT:
                actions |= {"edit", "propose"}
                if (
                    document.created_by_id == user.pk
                    or self.can_publish(user)
                    or user.has_perm(self.delete_permission)
                ):
                    actions.add("delete")
            if status in TRANSITIONS["withdraw"]:
                actions.add("withdraw")
        if status in TRANSITIONS["reject"]:
            kinds = self.approver_team_kinds(user)
            if kinds and document.proposed_by_id != user.pk:
                approvals = list(document.approvals.all())
                if not any(a.user_id == user.pk for a in approvals):
                    actions.add("reject")
                    signed = {a.team_kind for a in approvals}
                    if status in TRANSITIONS["approve"] and kinds - signed:
                        actions.add("approve")
        if self.can_publish(user):
            if status in TRANSITIONS["publish"]:
                actions |= {"publish", "schedule"}
            if status in TRANSITIONS["rollback"] and document.published_at is not None:
                actions.add("rollback")
        return actions

    def require_editor(self, user, what: str) -> None:
        if not self.can_edit(user):
            raise PermissionDenied(self.edit_refusal.format(what=what))

    def require_publisher(self, user, what: str) -> None:
        if not self.can_publish(user):
            raise PermissionDenied(self.publish_refusal.format(what=what))

    def _require_approver(self, user, what: str) -> set[str]:
        kinds = self.approver_team_kinds(user)
        if not kinds:
            teams = " or ".join(f"a {_kind_label(k)}" for k in self.signers)
            raise PermissionDenied(f"Only a lead of {teams} team may {what} a version.")
        return kinds

    # --- rows --------------------------------------------------------------------------------------
    def published(self, **series):
        """The published version (of the series named by ``series``'s fields), or None."""
        return self.model.objects.published().filter(**series).first()

    def lock(self, document):
        """The version's row, locked for this transaction and fresh from the database."""
        return self.model.objects.select_for_update().get(pk=document.pk)

    def sync(self, target, source):
        """Copy the saved state into the caller's instance, so it is not left stale."""
        if target is not source:
            for field in self.model._meta.concrete_fields:
                setattr(target, field.attname, getattr(source, field.attname))
        return target

    @staticmethod
    def save_audited(document, user, before: dict) -> None:
        document.save()
        change_record_create(
            actor=user,
            action=ChangeAction.UPDATE,
            instance=document,
            before=before,
            after=model_snapshot(document),
        )

    @staticmethod
    def history_add(document, user, action: str, detail: dict | None = None):
        actor = user if signed_in(user) else None
        return document.history.create(actor=actor, action=action, detail=detail or {})

    def _leaving(self, locked, transition: str, refusal: str) -> None:
        if locked.status not in TRANSITIONS[transition]:
            raise WorkflowError(f"{self.label_of(locked)} is {self.state_of(locked)}: {refusal}")

    def _not_editable(self, locked, refusal: str) -> None:
        if not locked.is_editable:
            raise self.not_editable(f"{self.label_of(locked)} is {self.state_of(locked)}: {refusal}")

    # --- drafts ------------------------------------------------------------------------------------
    @transaction.atomic
    def draft_create(
        self,
        *,
        user,
        based_on=None,
        values: Callable[[Any], dict[str, Any]],
        copy: Callable[[Any, Any], dict[str, Any]] | None = None,
        series: dict[str, Any] | None = None,
    ):
        """A new draft numbered next in its series: ``values(source)`` gives its fields (``source``:
        ``based_on``, default the published version of ``series``, may be None; the fields name the
        draft's series, which may differ from the source's: next quarter's plan based on this one's);
        ``copy(draft, source)`` copies what hangs on it and returns what the history should say."""
        self.require_editor(user, "create drafts")
        source = based_on or self.published(**(series or {}))
        fields = values(source)
        missing = [name for name in self.series if name not in fields]
        if missing:
            raise TypeError(f"values() must give the series fields {missing}.")
        siblings = self.model.objects.filter(**{name: fields[name] for name in self.series})
        for _attempt in range(5):
            number = (siblings.aggregate(n=Max("number"))["n"] or 0) + 1
            try:
                with transaction.atomic():
                    draft = self.model.objects.create(
                        number=number,
                        based_on=source,
                        status=VersionStatus.DRAFT,
                        revision=1,
                        created_by=user,
                        **fields,
                    )
                break
            except IntegrityError:  # someone took the number at the same moment: take the next one
                continue
        else:  # pragma: no cover - five collisions in a row
            raise WorkflowError("Could not number the new draft: try again.")
        detail = copy(draft, source) if copy is not None else {}
        change_record_create(
            actor=user, action=ChangeAction.CREATE, instance=draft, after=model_snapshot(draft)
        )
        self.history_add(
            draft, user, "created", {"based_on": source.number if source is not None else None, **detail}
        )
        return draft

    @transaction.atomic
    def update(self, *, document, user, expected_revision: int | None, change: Callable[[Any], dict | None]):
        """Edit a draft under its ETag. ``change(locked)`` validates (``ValidationError``: nothing
        changes), applies the edit to the locked row and returns what the history should say, or None
        when nothing changed (then: same revision, no history). A real change bumps ``revision``."""
        self.require_editor(user, "edit drafts")
        locked = self.lock(document)
        self._not_editable(locked, "only drafts can be edited. Create a new draft from it.")
        revision_check(
            locked=locked,
            expected_revision=expected_revision,
            label=self.label_of(locked),
            conflict=self.conflict,
        )
        before = model_snapshot(locked)
        detail = change(locked)
        if detail is None:
            return self.sync(document, locked)
        locked.revision += 1
        locked.full_clean(validate_unique=False, validate_constraints=False)
        self.save_audited(locked, user, before)
        self.history_add(locked, user, "edited", {"revision": locked.revision, **detail})
        return self.sync(document, locked)

    @transaction.atomic
    def draft_delete(self, *, document, user) -> None:
        """Delete a draft (its author, a publisher or whoever holds the delete permission)."""
        self.require_editor(user, "delete drafts")
        locked = self.lock(document)
        self._not_editable(locked, "only drafts can be deleted.")
        if locked.created_by_id != user.pk and not (
            self.can_publish(user) or user.has_perm(self.delete_permission)
        ):
            raise PermissionDenied(self.delete_refusal)
        try:
            object_delete(instance=locked, actor=user)
        except ProtectedError as exc:
            raise WorkflowError(
                f"{self.label_of(locked)} is referenced by scores and cannot be deleted."
            ) from exc

    @transaction.atomic
    def comment_add(self, *, document, user, body: str):
        """Comment on any version (drafts, proposals, even published ones)."""
        self.require_editor(user, "comment on versions")
        body = (body or "").strip()
        if not body:
            raise ValidationError({"body": ["Write something."]})
        if len(body) > 10_000:
            raise ValidationError({"body": ["At most 10,000 characters."]})
        comment = document.comments.create(author=user, body=body)
        change_record_create(
            actor=user, action=ChangeAction.CREATE, instance=comment, after=model_snapshot(comment)
        )
        self.history_add(document, user, "commented", {"comment": comment.pk})
        return comment

    # --- proposal and sign-off ---------------------------------------------------------------------
    @transaction.atomic
    def propose(self, *, document, user):
        """Ask the signer teams' leads to approve a draft; it is frozen while proposed."""
        self.require_editor(user, "propose versions")
        locked = self.lock(document)
        self._leaving(locked, "propose", "only a draft can be proposed.")
        if self.propose_check is not None and (problem := self.propose_check(locked)):
            raise WorkflowError(problem)
        before = model_snapshot(locked)
        locked.approvals.all().delete()
        locked.status = VersionStatus.PROPOSED
        locked.proposed_by, locked.proposed_at = user, timezone.now()
        self.save_audited(locked, user, before)
        self.history_add(locked, user, "proposed", {"revision": locked.revision})
        return self.sync(document, locked)

    @transaction.atomic
    def withdraw(self, *, document, user):
        """Take a proposed, approved or scheduled version back to draft; its approvals are cleared."""
        self.require_editor(user, "withdraw proposals")
        locked = self.lock(document)
        self._leaving(
            locked, "withdraw", "only a proposed, approved or scheduled version can be withdrawn to draft."
        )
        before, previous = model_snapshot(locked), locked.status
        cleared = locked.approvals.count()
        locked.approvals.all().delete()
        locked.status = VersionStatus.DRAFT
        locked.proposed_by = locked.proposed_at = locked.publish_at = None
        self.save_audited(locked, user, before)
        self.history_add(locked, user, "withdrawn", {"from": previous, "approvals_cleared": cleared})
        return self.sync(document, locked)

    @transaction.atomic
    def approve(self, *, document, user):
        """A signer team's lead approves a proposed version for their team; every team → APPROVED.

        The proposer may not approve (four eyes); one approval per person, one needed per team.
        Returns the approval.
        """
        kinds = self._require_approver(user, "approve")
        locked = self.lock(document)
        label = self.label_of(locked)
        self._leaving(locked, "approve", "only a proposed version can be approved.")
        if locked.proposed_by_id == user.pk:
            raise PermissionDenied(f"Four eyes: you proposed {label}, so another lead must approve it.")
        approvals = list(locked.approvals.all())
        if any(a.user_id == user.pk for a in approvals):
            raise WorkflowError(f"You already approved {label}.")
        done = {a.team_kind for a in approvals}
        open_kinds = sorted(kinds - done)
        if not open_kinds:
            missing = [_kind_label(k) for k in self.signers if k not in done]
            raise WorkflowError(
                f"{' and '.join(TeamKind(k).label for k in sorted(kinds))} already approved {label}; "
                f"it still needs a {' and a '.join(missing)} lead's approval."
            )
        approval = locked.approvals.create(user=user, team_kind=open_kinds[0])
        change_record_create(
            actor=user, action=ChangeAction.CREATE, instance=approval, after=model_snapshot(approval)
        )
        self.history_add(locked, user, "approval", {"team_kind": approval.team_kind})
        if set(self.signers) <= done | {approval.team_kind}:
            before = model_snapshot(locked)
            locked.status = VersionStatus.APPROVED
            self.save_audited(locked, user, before)
            self.history_add(locked, user, "approved", {"approvals": sorted(done | {approval.team_kind})})
        self.sync(document, locked)
        return approval

    @transaction.atomic
    def reject(self, *, document, user, reason: str):
        """A signer sends a proposed (or approved) version back to draft, saying why (also a comment)."""
        self._require_approver(user, "reject")
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": ["Say why, so the editors know what to change."]})
        locked = self.lock(document)
        self._leaving(locked, "reject", "only a proposed or approved version can be rejected.")
        before, previous = model_snapshot(locked), locked.status
        locked.approvals.all().delete()
        locked.status = VersionStatus.DRAFT
        locked.proposed_by = locked.proposed_at = None
        self.save_audited(locked, user, before)
        comment = locked.comments.create(author=user, body=f"Rejected: {reason}")
        change_record_create(
            actor=user, action=ChangeAction.CREATE, instance=comment, after=model_snapshot(comment)
        )
        self.history_add(
            locked, user, "rejected", {"from": previous, "reason": reason, "comment": comment.pk}
        )
        return self.sync(document, locked)

    # --- publication -------------------------------------------------------------------------------
    @transaction.atomic
    def publish(self, *, document, user, at: datetime.datetime | None = None):
        """Publish an approved version now, or schedule it for ``at`` (a future time).

        ``user=None`` is the due task publishing a scheduled version. The published version is
        superseded; ``after_publish`` runs once the transaction commits.
        """
        if user is not None:
            self.require_publisher(user, "publish versions")
        locked = self.lock(document)
        self._leaving(
            locked,
            "publish" if user is not None else "publish_due",
            f"only a version approved by {_signers_phrase(self.signers)} can be published.",
        )
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at)
        if user is not None and at is not None and at > timezone.now():
            before = model_snapshot(locked)
            locked.status = VersionStatus.SCHEDULED
            locked.publish_at = at
            locked.published_by = user
            self.save_audited(locked, user, before)
            self.history_add(locked, user, "scheduled", {"publish_at": at.isoformat()})
            return self.sync(document, locked)
        self._publish_now(locked, user, action="published")
        return self.sync(document, locked)

    @transaction.atomic
    def rollback(self, *, document, user):
        """Publish an earlier, previously published (superseded) version again; it is not changed."""
        self.require_publisher(user, "roll back versions")
        locked = self.lock(document)
        label = self.label_of(locked)
        if locked.status == VersionStatus.PUBLISHED:
            raise WorkflowError(f"{label} is already the published version.")
        if locked.status not in TRANSITIONS["rollback"] or locked.published_at is None:
            raise WorkflowError(
                f"{label} is {self.state_of(locked)}: only a version that was published before can be "
                "restored."
            )
        self._publish_now(locked, user, action="rolled_back")
        return self.sync(document, locked)

    def _publish_now(self, locked, user, *, action: str) -> None:
        """Supersede the published version and publish ``locked``; ``after_publish`` after commit."""
        previous = (
            self.model.objects.select_for_update()
            .filter(status=VersionStatus.PUBLISHED, **self.series_of(locked))
            .exclude(pk=locked.pk)
            .first()
        )
        if previous is not None:  # first: at most one published version, by constraint
            before = model_snapshot(previous)
            previous.status = VersionStatus.SUPERSEDED
            self.save_audited(previous, user, before)
            self.history_add(
                previous, user, "superseded", {"by": locked.number, "rollback": action == "rolled_back"}
            )
        before = model_snapshot(locked)
        locked.status = VersionStatus.PUBLISHED
        locked.published_at = timezone.now()
        if user is not None:
            locked.published_by = user
        locked.publish_at = None
        self.save_audited(locked, user, before)
        self.history_add(locked, user, action, {"replaces": previous.number if previous else None})
        template = self.rolled_back_reason if action == "rolled_back" else self.published_reason
        reason = template.format(label=self.label_of(locked), number=locked.number)
        actor = user if user is not None else locked.published_by
        transaction.on_commit(lambda: self.after_publish(user=actor, reason=reason))

    def publish_due(self, *, now: datetime.datetime | None = None) -> int:
        """Publish the scheduled versions whose time has come, oldest first; return how many.

        Safe to run concurrently and repeatedly: each version is re-checked under a row lock.
        """
        now = now or timezone.now()
        due = list(
            self.model.objects.filter(status=VersionStatus.SCHEDULED, publish_at__lte=now)
            .order_by("publish_at", "number")
            .values_list("pk", flat=True)
        )
        published = 0
        for pk in due:
            with transaction.atomic():
                document = (
                    self.model.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, status=VersionStatus.SCHEDULED, publish_at__lte=now)
                    .first()
                )
                if document is None:
                    continue  # withdrawn, or another worker has it
                self.publish(document=document, user=None)
                published += 1
        return published


# --- what changed between two versions ---------------------------------------------------------------
def fields_diff(old: dict[str, Any], new: dict[str, Any], fields: list[str]) -> list[dict[str, Any]]:
    """``[{field, old, new}]`` for each of ``fields`` whose value differs, in ``fields``' order."""
    return [{"field": f, "old": old.get(f), "new": new.get(f)} for f in fields if old.get(f) != new.get(f)]


def rows_diff(old: list[dict[str, Any]], new: list[dict[str, Any]], *, key: str) -> dict[str, list]:
    """Rows of a document (a plan's channels, a playbook's plays) matched by ``key``: ``added``,
    ``removed`` and ``changed`` (``{key, changes: [{field, old, new}]}``)."""
    before = {row[key]: row for row in old}
    after = {row[key]: row for row in new}
    changed = []
    for name in after.keys() & before.keys():
        changes = fields_diff(before[name], after[name], [f for f in after[name] if f != key])
        if changes:
            changed.append({key: name, "changes": changes})
    return {
        "added": [row for row in new if row[key] not in before],
        "removed": [row for row in old if row[key] not in after],
        "changed": sorted(changed, key=lambda item: str(item[key])),
    }
