"""Core services: audited generic writes, teams and memberships, API tokens, job runs.

Every write goes through a service, which records a ``ChangeRecord`` in the same transaction.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from .audit import change_record_create, model_snapshot
from .authentication import token_hash
from .background import job_send
from .choices import ChangeAction, JobStatus, Role, TokenScope
from .instruments import JOB_FAILURES, JOB_SECONDS
from .jsonsafe import json_safe
from .models import ApiToken, JobRun, Membership, Team
from .permissions import GROUP_REVOPS, groups_for, role_groups_sync, role_permissions, token_scopes_grantable

User = get_user_model()


# --- generic audited CRUD, used by API viewsets, UI forms and admin -------------------------
def _assign(instance: models.Model, data: dict[str, Any]) -> dict[str, Any]:
    """Set concrete fields on ``instance``; return the many-to-many values to set after saving."""
    m2m_names = {f.name for f in instance._meta.many_to_many}
    m2m = {k: v for k, v in data.items() if k in m2m_names}
    for key, value in data.items():
        if key not in m2m_names:
            setattr(instance, key, value)
    return m2m


@transaction.atomic
def object_create(*, model: type[models.Model], actor, data: dict[str, Any]) -> models.Model:
    """Create a row from validated data and audit it."""
    instance = model()
    m2m = _assign(instance, data)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance.save()
    for name, values in m2m.items():
        getattr(instance, name).set(values)
    change_record_create(
        actor=actor, action=ChangeAction.CREATE, instance=instance, after=model_snapshot(instance)
    )
    return instance


@transaction.atomic
def object_update(*, instance: models.Model, actor, data: dict[str, Any]) -> models.Model:
    """Update a row from validated data; audit the before and after states (nothing if unchanged)."""
    before = model_snapshot(instance)
    m2m = _assign(instance, data)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance.save()
    for name, values in m2m.items():
        getattr(instance, name).set(values)
    after = model_snapshot(instance)
    if after != before:
        change_record_create(
            actor=actor, action=ChangeAction.UPDATE, instance=instance, before=before, after=after
        )
    return instance


@transaction.atomic
def object_delete(*, instance: models.Model, actor) -> None:
    """Delete a row and audit its last state."""
    before = model_snapshot(instance)
    change_record_create(actor=actor, action=ChangeAction.DELETE, instance=instance, before=before)
    instance.delete()


# --- teams, memberships, users ---------------------------------------------------------------
@transaction.atomic
def team_create(*, actor, name: str, kind: str, description: str = "") -> Team:
    """Create a team of the given kind."""
    return object_create(
        model=Team,
        actor=actor,
        data={"name": name, "slug": slugify(name), "kind": kind, "description": description},
    )


def user_groups_sync(*, user) -> None:
    """Put the user in exactly the role groups their memberships grant; revops admins get admin.

    Called on every change that can affect them (``revops.signals``: a membership saved or deleted, a
    team saved or deleted, a user activated or deactivated), so permissions are never stale. An
    inactive user gets no groups at all. Writes only the differences: cheap when nothing changed.
    """
    role_groups = {g.name: g for g in Group.objects.filter(name__startswith="Role: ")}
    if len(role_groups) < len(role_permissions()):  # a fresh or flushed database
        role_groups_sync()
        role_groups = {g.name: g for g in Group.objects.filter(name__startswith="Role: ")}
    wanted: set[str] = set()
    if user.is_active:
        wanted = groups_for(Membership.objects.filter(user=user).select_related("team"))
    current = set(user.groups.filter(name__startswith="Role: ").values_list("name", flat=True))
    if current - wanted:
        user.groups.remove(*[role_groups[name] for name in current - wanted])
    if wanted - current:
        user.groups.add(*[role_groups[name] for name in wanted - current if name in role_groups])
    is_staff = (GROUP_REVOPS in wanted) or (user.is_superuser and user.is_active)
    if user.is_staff != is_staff:
        User.objects.filter(pk=user.pk).update(is_staff=is_staff)
        user.is_staff = is_staff
    # Django caches permissions on the user object.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


@transaction.atomic
def membership_set(*, actor, user, team: Team, role: str = Role.MEMBER) -> Membership:
    """Give ``user`` ``role`` in ``team`` (creating or changing the membership)."""
    membership = Membership.objects.filter(user=user, team=team).first()
    if membership is None:
        membership = object_create(
            model=Membership, actor=actor, data={"user": user, "team": team, "role": role}
        )
    elif membership.role != role:
        membership = object_update(instance=membership, actor=actor, data={"role": role})
    user_groups_sync(user=user)
    return membership


@transaction.atomic
def membership_delete(*, actor, membership: Membership) -> None:
    """Remove a user from a team, and the permissions that came with it."""
    user = membership.user
    object_delete(instance=membership, actor=actor)
    user_groups_sync(user=user)


# --- API tokens -----------------------------------------------------------------------------
@transaction.atomic
def api_token_create(
    *,
    actor,
    user,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    via_token: ApiToken | None = None,
    check_grantable: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with the plain key, which is shown once and never stored.

    ``via_token`` is the API token the request came with, if any: a token may create only tokens whose
    scopes are a subset of its own (a write-only integration must not mint itself read and ingest
    access). Every token acts as its user and is checked against the user's current permissions on
    each request, so none exceeds them. ``check_grantable`` (the tokens page and the API) also refuses a
    scope the actor holds no permission for (``revops.permissions.token_scopes_grantable``).
    """
    unknown = sorted(set(scopes) - set(TokenScope.values))
    if unknown or not scopes:
        raise ValidationError(
            {"scopes": f"Choose one or more of {', '.join(TokenScope.values)}; unknown: {', '.join(unknown)}"}
        )
    if via_token is not None:
        beyond = sorted(set(scopes) - set(via_token.scopes or []))
        if beyond:
            own = ", ".join(sorted(via_token.scopes or [])) or "none"
            raise PermissionDenied(
                f"A token may create tokens only with scopes it has itself ({own}); this one lacks "
                f"{', '.join(beyond)}. Sign in, or use a token that has them."
            )
    if check_grantable:
        beyond = sorted(set(scopes) - set(token_scopes_grantable(actor)))
        if beyond:
            raise PermissionDenied(
                f"You hold no permission a token with the {', '.join(beyond)} scope could use; "
                "choose among the scopes offered to you."
            )
    key = "rvo_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        user=user,
        prefix=key[:12],
        key_hash=token_hash(key),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    change_record_create(actor=actor, action=ChangeAction.CREATE, instance=token, after=model_snapshot(token))
    return token, key


@transaction.atomic
def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke a token now; it stops authenticating at once."""
    if token.revoked_at is None:
        before = model_snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated"])
        change_record_create(
            actor=actor,
            action=ChangeAction.REVOKE,
            instance=token,
            before=before,
            after=model_snapshot(token),
        )
    return token


# --- job runs -------------------------------------------------------------------------------
ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)
# A pending or running job whose row has not moved for this long is taken as abandoned (its worker and
# its message are gone) when the same work is asked for again: it is failed and a new job starts.
JOB_ABANDONED_AFTER = timedelta(minutes=getattr(settings, "JOBS_ABANDONED_MINUTES", 120))


def job_run_create(*, kind: str, actor=None, params: dict | None = None, total: int = 0) -> JobRun:
    """Record a new pending job."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return JobRun.objects.create(kind=kind, created_by=user, params=params or {}, total=total)


def job_run_create_once(
    *, kind: str, scope: str, actor=None, params: dict | None = None, total: int = 0
) -> tuple[JobRun, bool]:
    """A new pending job, or the pending or running job of the same ``kind`` and ``scope`` (what makes two
    jobs the same work) with False: at most one at a time, however many ask (the partial unique index
    ``jobrun_one_active_per_scope`` settles racing requests). Returns ``(job, created)``."""
    if len(scope) > 200:
        scope = hashlib.sha256(scope.encode()).hexdigest()
    for _attempt in range(3):
        active = JobRun.objects.filter(kind=kind, scope=scope, status__in=ACTIVE).first()
        if active is not None and active.updated < timezone.now() - JOB_ABANDONED_AFTER:
            minutes = int(JOB_ABANDONED_AFTER.total_seconds() // 60)
            job_run_finish(job=active, ok=False, message=f"Abandoned: no progress for {minutes} minutes; "
                           "a new job of the same work replaced it.")  # fmt: skip
            active = None
        if active is not None:
            return active, False
        user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        try:
            with transaction.atomic():
                job = JobRun.objects.create(
                    kind=kind, scope=scope, created_by=user, params=params or {}, total=total
                )
            return job, True
        except IntegrityError:
            continue  # another request created it a moment ago: return that one
    raise RuntimeError(f"could not start or find the {kind} job {scope!r}")  # the active one keeps finishing


def job_run_send(*, job: JobRun, send, args: tuple = (), name: str) -> None:
    """Send the job's task after the caller's transaction commits; a job that cannot be queued (the broker
    is down) is failed at once with the reason in words and ``result["not_queued"]``, never left pending."""

    def failed(words: str) -> None:
        current = JobRun.objects.get(pk=job.pk)
        job_run_finish(job=current, ok=False, message=words, result={"not_queued": True})

    transaction.on_commit(lambda: job_send(send, *args, name=name, failed=failed))


def job_not_queued(job: JobRun) -> bool:
    """Whether the job failed because it could not be queued (answer 503: try again later)."""
    return job.status == JobStatus.FAILED and bool((job.result or {}).get("not_queued"))


def job_run_start(*, job: JobRun, total: int | None = None) -> None:
    """Mark a job running (outside any data transaction, so the UI sees it at once)."""
    job.status, job.started_at = JobStatus.RUNNING, timezone.now()
    fields = ["status", "started_at", "updated"]
    if total is not None:
        job.total = total
        fields.append("total")
    job.save(update_fields=fields)


def job_run_progress(*, job: JobRun, progress: int, message: str = "") -> None:
    """Store progress; a plain UPDATE so it works inside or outside a transaction."""
    job.progress = progress
    JobRun.objects.filter(pk=job.pk).update(
        progress=progress, message=message or job.message, updated=timezone.now()
    )


def job_run_finish(*, job: JobRun, ok: bool, message: str = "", result: dict | None = None) -> None:
    """Mark a job finished, successfully or not, with its result."""
    job.status = JobStatus.SUCCEEDED if ok else JobStatus.FAILED
    job.finished_at = timezone.now()
    job.message = message
    if ok and job.total:
        job.progress = job.total
    job.result = json_safe(result or {})
    job.save(update_fields=["status", "finished_at", "message", "result", "progress", "updated"])
    # Every job ends here, so its duration and failure are counted once, whatever ran it (/metrics).
    outcome = "succeeded" if ok else "failed"
    if job.started_at is not None:
        JOB_SECONDS.labels(kind=job.kind, outcome=outcome).observe(
            max(0.0, (job.finished_at - job.started_at).total_seconds())
        )
    if not ok:
        JOB_FAILURES.labels(kind=job.kind).inc()
