"""Writes of revenue plans, in the one versioned-document workflow (``revops.documents``): a draft per
period and scope (team, segment), edited under its ETag, proposed, approved by a marketing lead and a sales
lead (never the proposer), published (the period's published plan is superseded) and rolled back.

A draft's numbers come from the opportunity history of a window (by default the twelve months before the
period), computed when it is created and again when its window changes or an editor asks; each of the
three numbers may be overridden, with a note saying why. Its channel shares start as the history
suggests and are adjusted by hand; they must add up to 100%.

Errors: field problems raise ``ValidationError`` keyed by field, missing rights ``PermissionDenied``,
impossible changes of state ``PlanNotEditable`` / ``WorkflowError``, an edit without or against a stale
revision ``PreconditionRequired`` / ``PlanConflict`` (the API answers 400, 403, 409, 428, 412).
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import Channel
from campaigns.models import Segment
from revops.choices import TeamKind
from revops.documents import (
    DocumentWorkflow,
    fields_diff,
    marketing_sales_publisher,
    rows_diff,
    signed_in,
    version_text_clean,
)
from revops.exceptions import StaleRevision, WorkflowError
from revops.models import Team
from revops.versioned import VERSION_FIELDS

from . import selectors
from .choices import PeriodKind
from .models import PlanAllocation, PlanApproval, PlanComment, RevenuePlan, plan_scope_key

SIGNER_TEAMS = (TeamKind.MARKETING, TeamKind.SALES)
# What an editor changes (besides the allocations), in the order forms show it.
PLAN_FIELDS = [
    "name",
    "description",
    "revenue_target",
    "history_start",
    "history_end",
    "win_rate",
    "win_rate_note",
    "deal_size",
    "deal_size_note",
    "cycle_days",
    "cycle_days_note",
]
OVERRIDES = {"win_rate": "win rate", "deal_size": "deal size", "cycle_days": "sales cycle"}
MAX_MONEY = Decimal("99999999999999.99")


class PlanNotEditable(WorkflowError):
    pass


class PlanConflict(StaleRevision):
    pass


# --- who may do what --------------------------------------------------------------------------------
def _may_edit(user) -> bool:
    return user.has_perm("plans.change_revenueplan")


def _published(*, user, reason: str) -> None:
    """Nothing to recompute: quotas, attainment and the forecast are read from the published plan live."""


def _propose_check(plan: RevenuePlan) -> str | None:
    figures = selectors.plan_figures(plan)
    if not figures.channels:
        return "Give the plan at least one channel before proposing it."
    if figures.problems:
        return "The plan is not complete: " + " ".join(figures.problems)
    return None


PLANS = DocumentWorkflow(
    model=RevenuePlan,
    label="Plan {document.scope_label} v{number}",
    signers=SIGNER_TEAMS,
    approve_permission="plans.approve_revenueplan",
    may_edit=_may_edit,
    may_publish=marketing_sales_publisher("plans.publish_revenueplan"),
    delete_permission="plans.delete_revenueplan",
    after_publish=_published,
    edit_refusal="You may not {what}: it needs the plans.change_revenueplan permission.",
    publish_refusal="Only leads of marketing or sales and revenue-operations members may {what}.",
    delete_refusal="Only the draft's author, a lead or revenue operations may delete it.",
    not_editable=PlanNotEditable,
    conflict=PlanConflict,
    propose_check=_propose_check,
    series=("scope_key",),
)


# --- validation -------------------------------------------------------------------------------------
def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("A date as YYYY-MM-DD.")


def _money(value: Any, *, positive: bool) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("A number.")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValueError("A number.") from None
    if not number.is_finite():
        raise ValueError("A finite number.")
    if number < 0 or (positive and number == 0):
        raise ValueError("Must be above 0." if positive else "Must not be negative.")
    if number > MAX_MONEY:
        raise ValueError("Too large.")
    return number.quantize(Decimal("0.01"))


def _rate(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("A number.")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError("A number between 0 and 1 (0.25 for 25%).") from None
    if not math.isfinite(number) or not 0 < number <= 1:
        raise ValueError("A number above 0 and at most 1 (0.25 for 25%).")
    return number


def _days(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("A whole number of days.")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError("A whole number of days.") from None
    if not math.isfinite(number) or number != int(number) or not 0 <= number <= 3650:
        raise ValueError("A whole number of days from 0 to 3650.")
    return int(number)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def plan_data_clean(*, plan: RevenuePlan, data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise changes to a draft's fields (not its channels); ``ValidationError`` by field.

    An override without a note is refused (say why the history's number does not hold); an empty value
    clears the override.
    """
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send the changes as an object of field: value."]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    for key, value in data.items():
        if key in VERSION_FIELDS or key in ("period_kind", "period_start", "team", "segment", "scope_key"):
            fail(key, "Read-only: a plan's period and scope are set when it is created.")
        elif key in ("allocations", "refresh_history"):
            continue
        elif key not in PLAN_FIELDS:
            fail(key, "Unknown field.")
        elif key in ("name", "description"):
            text, error = version_text_clean(key, value)
            (fail(key, error) if error else cleaned.__setitem__(key, text))
        elif key.endswith("_note"):
            if not isinstance(value, str | type(None)):
                fail(key, "Text is required.")
            elif len(value or "") > 500:
                fail(key, "At most 500 characters.")
            else:
                cleaned[key] = (value or "").strip()
        else:
            try:
                if key == "revenue_target":
                    cleaned[key] = _money(value, positive=False)
                elif key in ("history_start", "history_end"):
                    cleaned[key] = _date(value)
                elif _blank(value):
                    cleaned[key] = None
                elif key == "win_rate":
                    cleaned[key] = _rate(value)
                elif key == "deal_size":
                    cleaned[key] = _money(value, positive=True)
                else:
                    cleaned[key] = _days(value)
            except ValueError as exc:
                fail(key, str(exc))
    merged = {name: getattr(plan, name) for name in PLAN_FIELDS} | cleaned
    start, end = merged.get("history_start"), merged.get("history_end")
    if start and end and end < start and "history_end" not in errors:
        fail("history_end", "The history must end on or after its first day.")
    for key, words in OVERRIDES.items():
        if key in errors or merged.get(key) is None:
            continue
        if not (merged.get(f"{key}_note") or "").strip():
            fail(f"{key}_note", f"Say why you override the history's {words}.")
    if errors:
        raise ValidationError(errors)
    return cleaned


def allocations_clean(data: Any) -> list[dict[str, Any]]:
    """A plan's channels: ``[{"channel": id or slug, "share": 0–1, "capacity": amount or null, "note"}]``,
    each channel once, shares adding up to 1 (100%)."""
    if not isinstance(data, list):
        raise ValidationError({"allocations": ["A list of {channel, share, capacity, note}."]})
    by_key = {str(c.pk): c for c in Channel.objects.all()} | {c.slug: c for c in Channel.objects.all()}
    errors, rows, seen = [], [], set()
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            errors.append(f"Row {index}: an object with channel and share.")
            continue
        channel = by_key.get(str(item.get("channel", "")).strip())
        if channel is None:
            errors.append(f"Row {index}: unknown channel {item.get('channel')!r}.")
            continue
        if channel.pk in seen:
            errors.append(f"Row {index}: {channel.name} is given twice.")
            continue
        seen.add(channel.pk)
        try:
            share = float(str(item.get("share", "")).strip())
            if not math.isfinite(share) or not 0 <= share <= 1:
                raise ValueError
        except ValueError:
            errors.append(f"Row {index} ({channel.name}): the share is a number from 0 to 1.")
            continue
        capacity = item.get("capacity")
        try:
            capacity = None if _blank(capacity) else _money(capacity, positive=False)
        except ValueError as exc:
            errors.append(f"Row {index} ({channel.name}): capacity: {exc}")
            continue
        note = item.get("note") or ""
        if not isinstance(note, str) or len(note) > 500:
            errors.append(f"Row {index} ({channel.name}): the note is text of at most 500 characters.")
            continue
        rows.append({"channel": channel, "share": share, "capacity": capacity, "note": note.strip()})
    if not errors and rows and abs(sum(r["share"] for r in rows) - 1) > 0.001:
        total = sum(r["share"] for r in rows)
        errors.append(f"The shares add up to {total:.1%}; they must add up to 100%.")
    if errors:
        raise ValidationError({"allocations": errors})
    return rows


def _allocations_write(plan: RevenuePlan, rows: list[dict[str, Any]]) -> None:
    plan.allocations.all().delete()
    PlanAllocation.objects.bulk_create(
        PlanAllocation(
            plan=plan, channel=r["channel"], share=r["share"], capacity=r["capacity"], note=r["note"]
        )
        for r in rows
    )


def allocations_as_data(plan: RevenuePlan) -> list[dict[str, Any]]:
    return [
        {
            "channel": a.channel.slug,
            "share": round(a.share, 6),
            "capacity": str(a.capacity) if a.capacity is not None else None,
            "note": a.note,
        }
        for a in selectors.plan_allocations(plan)
    ]


def _history_for(plan: RevenuePlan) -> dict[str, Any]:
    return selectors.history_compute(
        start=plan.history_start, end=plan.history_end, team_id=plan.team_id, segment_id=plan.segment_id
    )


def _suggested_rows(plan: RevenuePlan) -> list[dict[str, Any]]:
    channels = selectors.channels()
    shares = selectors.suggested_shares(plan, [c.pk for c in channels])
    return [{"channel": c, "share": shares.get(c.pk, 0.0), "capacity": None, "note": ""} for c in channels]


# --- drafts -----------------------------------------------------------------------------------------
def period_clean(*, period_kind: Any, period_start: Any) -> tuple[str, datetime.date]:
    errors = {}
    if period_kind not in PeriodKind.values:
        errors["period_kind"] = [f"One of {', '.join(PeriodKind.values)}."]
    try:
        start = _date(period_start)
        if start.day != 1:
            errors["period_start"] = ["A period starts on the first day of a month."]
    except ValueError as exc:
        errors["period_start"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return period_kind, start


@transaction.atomic
def plan_draft_create(
    *,
    user,
    period_kind: str = PeriodKind.QUARTER,
    period_start: Any,
    team: Team | None = None,
    segment: Segment | None = None,
    based_on: RevenuePlan | None = None,
    data: dict[str, Any] | None = None,
) -> RevenuePlan:
    """A new draft for a period (and scope), numbered next among that plan's versions.

    Its values come from ``based_on`` (any plan: last quarter's for next quarter), else from the period's
    published plan, else defaults; ``data`` changes any of ``PLAN_FIELDS`` and ``allocations``. The
    history is computed for its window (default: the twelve months before the period); channels not given
    start at the history's suggestion.
    """
    if not (signed_in(user) and user.has_perm("plans.add_revenueplan")):
        raise PermissionDenied(
            "You may not create revenue plans: it needs the plans.add_revenueplan permission."
        )
    period_kind, period_start = period_clean(period_kind=period_kind, period_start=period_start)
    data = dict(data or {})
    probe = RevenuePlan(period_kind=period_kind, period_start=period_start, team=team, segment=segment)
    scope = {
        "scope_key": plan_scope_key(
            period_kind=period_kind,
            period_start=period_start,
            team_id=team.pk if team else None,
            segment_id=segment.pk if segment else None,
        )
    }
    copied: list[dict[str, Any]] = []

    def values(source: RevenuePlan | None) -> dict[str, Any]:
        default_name = f"Revenue plan {probe.scope_label}"
        fields: dict[str, Any] = {"name": default_name, "revenue_target": Decimal(0)}
        if source is not None:
            fields |= {name: getattr(source, name) for name in PLAN_FIELDS}
            copied.extend(allocations_as_data(source))
        if source is None or source.scope_key != scope["scope_key"]:  # a new period: the year before it
            if source is not None and source.name == f"Revenue plan {source.scope_label}":
                fields["name"] = default_name  # last quarter's default name would name the wrong period
            end = period_start - datetime.timedelta(days=1)
            fields["history_end"] = end
            fields["history_start"] = end.replace(year=end.year - 1) + datetime.timedelta(days=1)
        template = RevenuePlan(**{k: v for k, v in fields.items()})
        fields |= plan_data_clean(plan=template, data={k: v for k, v in data.items() if k != "allocations"})
        return {
            **fields,
            "period_kind": period_kind,
            "period_start": period_start,
            "team": team,
            "segment": segment,
            **scope,
        }

    def copy(draft: RevenuePlan, source: RevenuePlan | None) -> dict[str, Any]:
        draft.history_figures = _history_for(draft)
        draft.save(update_fields=["history_figures", "updated"])
        if "allocations" in data:
            rows = allocations_clean(data["allocations"])
        elif copied:
            rows = allocations_clean(copied)
        else:
            rows = _suggested_rows(draft)
        _allocations_write(draft, rows)
        return {"period": draft.scope_label, "copied_from": source.pk if source else None}

    return PLANS.draft_create(user=user, based_on=based_on, values=values, copy=copy, series=scope)


@transaction.atomic
def plan_update(
    *, plan: RevenuePlan, user, data: dict[str, Any], expected_revision: int | None
) -> RevenuePlan:
    """Edit a draft: any of ``PLAN_FIELDS``, ``allocations`` (the whole list) and ``refresh_history``
    (true: compute the history again, as when its window changes). Nothing changes unless all is valid;
    a real change bumps the revision and the history says what changed."""

    def change(locked: RevenuePlan) -> dict[str, Any] | None:
        cleaned = plan_data_clean(plan=locked, data=data)
        rows = allocations_clean(data["allocations"]) if "allocations" in data else None
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        before_rows = allocations_as_data(locked)
        detail: dict[str, Any] = {}
        if changed:
            detail["settings"] = [
                {"field": k, "old": _jsonable(getattr(locked, k)), "new": _jsonable(v)}
                for k, v in changed.items()
            ]
            for key, value in changed.items():
                setattr(locked, key, value)
        if changed.keys() & {"history_start", "history_end"} or data.get("refresh_history") is True:
            locked.history_figures = _history_for(locked)
            detail["history"] = {
                k: locked.history_figures.get(k)
                for k in ("won", "lost", "win_rate", "deal_size", "cycle_days")
            }
        if rows is not None:
            _allocations_write(locked, rows)
            after_rows = allocations_as_data(locked)
            if after_rows != before_rows:
                detail["allocations"] = {"old": before_rows, "new": after_rows}
        return detail or None

    return PLANS.update(document=plan, user=user, expected_revision=expected_revision, change=change)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


@transaction.atomic
def plan_delete(*, plan: RevenuePlan, user) -> None:
    PLANS.draft_delete(document=plan, user=user)


@transaction.atomic
def plan_comment_add(*, plan: RevenuePlan, user, body: str) -> PlanComment:
    return PLANS.comment_add(document=plan, user=user, body=body)


@transaction.atomic
def plan_propose(*, plan: RevenuePlan, user) -> RevenuePlan:
    """Ask a marketing lead and a sales lead to approve a complete draft; it is frozen while proposed."""
    return PLANS.propose(document=plan, user=user)


@transaction.atomic
def plan_withdraw(*, plan: RevenuePlan, user) -> RevenuePlan:
    return PLANS.withdraw(document=plan, user=user)


@transaction.atomic
def plan_approve(*, plan: RevenuePlan, user) -> PlanApproval:
    """A marketing or sales lead approves for their team (never the proposer); both → approved."""
    return PLANS.approve(document=plan, user=user)


@transaction.atomic
def plan_reject(*, plan: RevenuePlan, user, reason: str) -> RevenuePlan:
    return PLANS.reject(document=plan, user=user, reason=reason)


@transaction.atomic
def plan_publish(*, plan: RevenuePlan, user, at: datetime.datetime | None = None) -> RevenuePlan:
    """Publish (or schedule) an approved plan; the period's published plan is superseded."""
    return PLANS.publish(document=plan, user=user, at=at)


@transaction.atomic
def plan_rollback(*, target: RevenuePlan, user) -> RevenuePlan:
    """Publish an earlier, previously published version of the same plan again."""
    return PLANS.rollback(document=target, user=user)


def plan_diff(*, old: RevenuePlan, new: RevenuePlan) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (any two plans): name, target, history window, overrides and their
    notes; the channels added, removed and changed."""
    before = {f: _jsonable(getattr(old, f)) for f in PLAN_FIELDS}
    after = {f: _jsonable(getattr(new, f)) for f in PLAN_FIELDS}
    return {
        "old": old.pk,
        "new": new.pk,
        "settings": fields_diff(before, after, PLAN_FIELDS),
        "allocations": rows_diff(allocations_as_data(old), allocations_as_data(new), key="channel"),
    }
