"""Segments: criteria checked and evaluated as one SQL query, static lists, and membership refreshed
with its history (who joined, who left, under which version) — never a loop over accounts.

A dynamic segment's criteria are the data of ``SegmentCriteriaFilterSet`` (filter name → list of
values), so a segment reads exactly like a filtered accounts list and the same words mean the same
thing in both. A segment may name other segments ("in the ICP segment and in the decision stage"):
those are read by their stored current membership, and refreshed first.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Account
from accounts.normalize import normalize_domain
from revops.audit import change_record_create, model_snapshot
from revops.bulk import bulk_insert
from revops.choices import ChangeAction
from revops.services import object_create, object_delete, object_update

from .choices import SegmentKind
from .filtersets import SegmentCriteriaFilterSet
from .models import CampaignTarget, Segment, SegmentMembership

PREVIEW_SIZE = 20
MAX_STATIC_SIZE = 1_000_000
SEGMENT_FILTERS = ("segment", "not_segment")


def criteria_querydict(criteria: dict) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, values in criteria.items():
        data.setlist(name, [str(v) for v in values])
    return data


def criteria_clean(criteria) -> dict[str, list[str]]:
    """``criteria`` checked: known filter names, valid values. Returns it normalised (lists of strings,
    empty criteria dropped); raises ``ValidationError`` naming each bad criterion."""
    if not isinstance(criteria, dict):
        raise ValidationError({"criteria": "Criteria are an object of filter name → list of values."})
    known = SegmentCriteriaFilterSet.base_filters
    errors: dict[str, list[str]] = {}
    clean: dict[str, list[str]] = {}
    for name, values in criteria.items():
        if name not in known:
            errors[name] = [f"Unknown criterion. Known: {', '.join(sorted(known))}."]
            continue
        values = values if isinstance(values, list) else [values]
        if any(isinstance(v, dict | list) for v in values):
            errors[name] = ["Values are numbers or text."]
            continue
        values = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
        if values:
            clean[name] = values
    if errors:
        raise ValidationError(errors)
    filterset = SegmentCriteriaFilterSet(criteria_querydict(clean), queryset=Account.objects.none())
    if not filterset.is_valid():
        raise ValidationError({name: [str(e) for e in errs] for name, errs in filterset.errors.items()})
    return clean


def criteria_accounts(criteria: dict) -> QuerySet[Account]:
    """The accounts that meet ``criteria`` (checked), as one query."""
    clean = criteria_clean(criteria)
    return SegmentCriteriaFilterSet(criteria_querydict(clean), queryset=Account.objects.all()).qs


def segment_accounts(segment: Segment) -> QuerySet[Account]:
    """The accounts a segment holds now: its criteria evaluated, or a static segment's current list."""
    if segment.kind == SegmentKind.STATIC:
        return Account.objects.filter(
            Exists(
                SegmentMembership.objects.filter(
                    segment=segment, account_id=OuterRef("pk"), left_at__isnull=True
                )
            )
        )
    return criteria_accounts(segment.criteria)


@dataclass
class Preview:
    count: int
    accounts: list[Account]


def criteria_preview(criteria: dict, *, size: int = PREVIEW_SIZE) -> Preview:
    """How many accounts ``criteria`` select and the first ``size`` by name (two queries)."""
    qs = criteria_accounts(criteria)
    return Preview(count=qs.count(), accounts=list(qs.order_by("name", "pk")[:size]))


def _referenced(criteria: dict) -> set[int]:
    ids: set[int] = set()
    for name in SEGMENT_FILTERS:
        for value in criteria.get(name, []):
            try:
                ids.add(int(value))
            except (TypeError, ValueError):
                continue
    return ids


def refuse_cycles(segment: Segment | None, criteria: dict) -> None:
    """A segment may not name itself, nor a segment that (through others) names it."""
    if segment is None or segment.pk is None:
        return
    graph = {s.pk: _referenced(s.criteria) for s in Segment.objects.only("pk", "criteria")}
    graph[segment.pk] = _referenced(criteria)
    seen: set[int] = set()
    stack = list(graph[segment.pk])
    while stack:
        current = stack.pop()
        if current == segment.pk:
            raise ValidationError(
                {"segment": "A segment cannot contain itself, directly or through another."}
            )
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, ()))


def refresh_order(segments: Iterable[Segment]) -> list[Segment]:
    """Segments ordered so that every segment comes after those its criteria name."""
    segments = list(segments)
    by_pk = {s.pk: s for s in segments}
    done: set[int] = set()
    ordered: list[Segment] = []

    def visit(segment: Segment, path: frozenset[int]) -> None:
        if segment.pk in done or segment.pk in path:
            return
        for ref in _referenced(segment.criteria):
            if ref in by_pk:
                visit(by_pk[ref], path | {segment.pk})
        done.add(segment.pk)
        ordered.append(segment)

    for segment in segments:
        visit(segment, frozenset())
    return ordered


# --- writes --------------------------------------------------------------------------------------------
def _membership_table() -> str:
    return SegmentMembership._meta.db_table


def _join(segment: Segment, account_ids: Iterable[int], at: datetime.datetime) -> int:
    rows = ((segment.pk, account_id, at, segment.version) for account_id in account_ids)
    return bulk_insert(_membership_table(), ["segment_id", "account_id", "joined_at", "version"], rows)


@transaction.atomic
def segment_refresh(*, segment: Segment, at: datetime.datetime | None = None) -> dict[str, int]:
    """Bring a segment's stored membership up to date: accounts that now meet its criteria join, those
    that no longer do leave (their row keeps the dates). Static segments keep their list. Set-based:
    one query for those who left, one for those who joined, a bulk insert."""
    at = at or timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    joined = left = 0
    if segment.kind == SegmentKind.DYNAMIC:
        now_in = criteria_accounts(segment.criteria).values("pk")
        current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
        left = current.exclude(account_id__in=now_in).update(left_at=at)
        new_ids = (
            criteria_accounts(segment.criteria)
            .exclude(Exists(current.filter(account_id=OuterRef("pk"))))
            .order_by()
            .values_list("pk", flat=True)
        )
        joined = _join(segment, list(new_ids), at)  # read first: COPY cannot run beside an open cursor
    count = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count()
    Segment.objects.filter(pk=segment.pk).update(refreshed_at=at, member_count=count)
    segment.refreshed_at, segment.member_count = at, count
    return {"joined": joined, "left": left, "members": count}


def segments_refresh_all(*, at: datetime.datetime | None = None) -> dict[int, dict[str, int]]:
    """Refresh every dynamic segment, those named by others first (after each rescore)."""
    at = at or timezone.now()
    dynamic = Segment.objects.filter(kind=SegmentKind.DYNAMIC)
    return {s.pk: segment_refresh(segment=s, at=at) for s in refresh_order(dynamic)}


def _fields(data: dict) -> dict:
    allowed = {"name", "description", "kind", "criteria", "owner_team"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: "Not a segment field." for name in sorted(unknown)})
    return dict(data)


@transaction.atomic
def segment_create(*, actor, data: dict) -> Segment:
    """A new segment; a dynamic one is evaluated at once (its members join now)."""
    data = _fields(data)
    kind = data.get("kind", SegmentKind.DYNAMIC)
    data["criteria"] = criteria_clean(data.get("criteria") or {}) if kind == SegmentKind.DYNAMIC else {}
    segment = object_create(model=Segment, actor=actor, data=data)
    segment_refresh(segment=segment)
    segment.refresh_from_db()
    return segment


@transaction.atomic
def segment_update(*, actor, segment: Segment, data: dict) -> Segment:
    """Change a segment; new criteria (or a change of kind) raise its version and refresh it."""
    data = _fields(data)
    kind = data.get("kind", segment.kind)
    if "criteria" in data or "kind" in data:
        criteria = data.get("criteria", segment.criteria) if kind == SegmentKind.DYNAMIC else {}
        data["criteria"] = criteria_clean(criteria or {})
        refuse_cycles(segment, data["criteria"])
        if data["criteria"] != segment.criteria or kind != segment.kind:
            data["version"] = segment.version + 1  # (dynamic → static keeps the members as the list)
    segment = object_update(instance=segment, actor=actor, data=data)
    segment_refresh(segment=segment)
    segment.refresh_from_db()
    return segment


@transaction.atomic
def segment_delete(*, actor, segment: Segment) -> None:
    """Delete a segment that no campaign targets and no other segment names."""
    targets = CampaignTarget.objects.filter(segment=segment).select_related("campaign")
    if targets.exists():
        names = ", ".join(t.campaign.name for t in targets[:5])
        raise ValidationError(f"Campaigns target this segment ({names}); point them elsewhere first.")
    naming = [s.name for s in Segment.objects.exclude(pk=segment.pk) if segment.pk in _referenced(s.criteria)]
    if naming:
        raise ValidationError(f"Other segments name this one in their criteria: {', '.join(naming[:5])}.")
    object_delete(instance=segment, actor=actor)


def domains_resolve(domains: Iterable[str]) -> tuple[list[int], list[str]]:
    """Account ids for ``domains`` (normalised like stored domains), and the domains no account has."""
    wanted: dict[str, str] = {}
    for raw in domains:
        raw = (raw or "").strip()
        if not raw:
            continue
        try:
            wanted[normalize_domain(raw)] = raw
        except ValueError:
            wanted[raw.lower()] = raw
    found = dict(Account.objects.filter(domain__in=list(wanted)).values_list("domain", "pk"))
    missing = [raw for key, raw in wanted.items() if key not in found]
    return sorted(set(found.values())), missing


@transaction.atomic
def static_members_set(
    *, actor, segment: Segment, account_ids: Iterable[int], mode: str = "replace"
) -> dict[str, int]:
    """Change a static segment's list: ``replace`` it, ``add`` to it or ``remove`` from it. Those who
    leave keep their row with the date; the version rises."""
    if segment.kind != SegmentKind.STATIC:
        raise ValidationError("Only a static segment has a list; change a dynamic segment's criteria.")
    if mode not in {"replace", "add", "remove"}:
        raise ValidationError({"mode": "One of replace, add, remove."})
    ids = set(Account.objects.filter(pk__in=list(set(account_ids))).values_list("pk", flat=True))
    if len(ids) > MAX_STATIC_SIZE:
        raise ValidationError(f"A static segment holds at most {MAX_STATIC_SIZE:,} accounts.")
    at = timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    before = model_snapshot(segment)
    current_rows = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    current = set(current_rows.values_list("account_id", flat=True))
    if mode == "replace":
        leaving, joining = current - ids, ids - current
    elif mode == "add":
        leaving, joining = set(), ids - current
    else:
        leaving, joining = current & ids, set()
    if not leaving and not joining:
        return {"joined": 0, "left": 0, "members": len(current)}
    segment.version += 1
    segment.save(update_fields=["version", "updated"])
    left = 0
    leaving_list = sorted(leaving)
    for start in range(0, len(leaving_list), 10_000):
        left += current_rows.filter(account_id__in=leaving_list[start : start + 10_000]).update(left_at=at)
    joined = _join(segment, sorted(joining), at)
    members = len(current) - left + joined
    Segment.objects.filter(pk=segment.pk).update(refreshed_at=at, member_count=members)
    change_record_create(
        actor=actor,
        action=ChangeAction.UPDATE,
        instance=segment,
        before=before,
        after={**model_snapshot(segment), "joined": joined, "left": left, "members": members},
    )
    return {"joined": joined, "left": left, "members": members}


def segment_members_as_of(*, segment: Segment, at: datetime.datetime) -> QuerySet[SegmentMembership]:
    """The memberships that held at ``at``: joined on or before it and not left by then."""
    return SegmentMembership.objects.filter(segment=segment, joined_at__lte=at).exclude(left_at__lte=at)
