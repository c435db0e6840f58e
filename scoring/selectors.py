"""Reads for the ruleset workflow and the lifecycle: the published version, documents, diffs, the funnel.

Sizes to keep in mind: a version has tens of rules and a few hundred history rows, but there are
millions of contacts and transitions, so the funnel is a handful of grouped queries with correlated
subqueries on the ``(contact, …)`` foreign key, never a loop over contacts in Python.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Campaign, Contact
from revops.models import JobRun
from scoring.choices import REASONS_BY_DECISION, BuyingStage, LifecycleReason, RulesetStatus
from scoring.models import (
    AccountModelScore,
    ContactScoreHistory,
    LifecycleTransition,
    Rule,
    Ruleset,
    RulesetApproval,
    RulesetComment,
    RulesetHistory,
    WhatIfRun,
)

# The lifecycle definitions a version carries, in the order forms and diffs show them.
DEFINITION_FIELDS = [
    "name",
    "description",
    "sal_enabled",
    "required_fields",
    "mql_fit_min",
    "mql_engagement_min",
    "recycle_engagement_below",
    "fit_grade_a_min",
    "fit_grade_b_min",
    "engagement_grade_1_min",
    "engagement_grade_2_min",
    "exclude_free_mail",
    "excluded_title_pattern",
    "excluded_industries",
    "excluded_countries",
    "competitor_domains",
    "fast_track_event_types",
    "sql_checklist",
]
# What a rule is made of (``position`` is its place in the list, not part of its meaning).
RULE_FIELDS = [
    "name",
    "kind",
    "field",
    "operator",
    "value",
    "event_type",
    "url_pattern",
    "topic",
    "campaign",
    "min_count",
    "window_days",
    "points",
    "repeatable",
    "cap",
    "half_life_days",
]


# --- versions ---------------------------------------------------------------------------------------
def published_ruleset() -> Ruleset | None:
    """The version that scores now (at most one, by constraint), or None on an empty install."""
    return Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).first()


def ruleset_list(*, user, status: list[str] | None = None) -> QuerySet[Ruleset]:
    """Versions ``user`` may see, newest first, optionally only in the given statuses."""
    qs = Ruleset.objects.for_user(user).select_related("based_on")
    if status:
        qs = qs.filter(status__in=status)
    return qs.order_by("-number")


def ruleset_get(*, user, pk: int, related: tuple[str, ...] = ()) -> Ruleset:
    """A version ``user`` may see (404 otherwise), joined to ``related``."""
    return get_object_or_404(Ruleset.objects.for_user(user).select_related(*related), pk=pk)


def ruleset_fresh(ruleset: Ruleset) -> Ruleset:
    """The version as it is stored now (another editor may have saved since ``ruleset`` was read)."""
    return Ruleset.objects.get(pk=ruleset.pk)


def ruleset_versions(*, limit: int) -> QuerySet[Ruleset]:
    """Every version, newest first, light columns only (drop-downs; versions are few)."""
    return Ruleset.objects.only("id", "number", "name", "status").order_by("-number")[:limit]


def ruleset_choices(*, excluding: Ruleset | None = None) -> QuerySet[Ruleset]:
    """The versions a form may name (a draft's base, a what-if baseline), newest first."""
    versions = Ruleset.objects.order_by("-number")
    return versions.exclude(pk=excluding.pk) if excluding is not None else versions


def ruleset_overview(*, user, limit: int) -> list[Ruleset]:
    """The versions page: each version ``user`` may see with its people, approvals and rule count."""
    approvals = RulesetApproval.objects.select_related("user").order_by("id")
    return list(
        Ruleset.objects.for_user(user)
        .select_related("based_on", "created_by", "published_by")
        .prefetch_related(Prefetch("approvals", queryset=approvals))
        .annotate(rule_count=Count("rules"))
        .order_by("-number")[:limit]
    )


def ruleset_detail_get(*, user, pk: int) -> Ruleset:
    """One version ``user`` may see (404 otherwise) with its people and its rules (and their campaigns)."""
    rules = Prefetch("rules", queryset=Rule.objects.select_related("campaign"))
    versions = (
        Ruleset.objects.for_user(user)
        .select_related("based_on", "created_by", "proposed_by", "published_by")
        .prefetch_related(rules)
    )
    return get_object_or_404(versions, pk=pk)


def ruleset_compared(*, user, pk: int | None, ruleset: Ruleset) -> Ruleset | None:
    """The version ``ruleset`` is compared with (whole, with its rules), when ``user`` may see it."""
    if not pk:
        return None
    return (
        Ruleset.objects.for_user(user).prefetch_related("rules").filter(pk=pk).exclude(pk=ruleset.pk).first()
    )


def ruleset_history(ruleset: Ruleset, *, limit: int) -> list[RulesetHistory]:
    """The version's newest ``limit`` history entries with their actors."""
    entries = RulesetHistory.objects.filter(ruleset=ruleset).select_related("actor")
    return list(entries.order_by("-at", "-id")[:limit])


def ruleset_comments(ruleset: Ruleset) -> list[RulesetComment]:
    """The version's comments, oldest first, with their authors."""
    return list(RulesetComment.objects.filter(ruleset=ruleset).select_related("author").order_by("id"))


def ruleset_for_whatif() -> Ruleset | None:
    """The version the navigation's "What-if" opens: the newest draft, else the newest not superseded."""
    return (
        Ruleset.objects.filter(status=RulesetStatus.DRAFT).order_by("-number").first()
        or Ruleset.objects.exclude(status=RulesetStatus.SUPERSEDED).order_by("-number").first()
    )


def campaign_choices(*, limit: int) -> list[tuple[int, str]]:
    """``(id, name)`` of the campaigns a rule may name, by name."""
    return list(Campaign.objects.order_by("name").values_list("pk", "name")[:limit])


def whatif_runs(ruleset: Ruleset) -> QuerySet[WhatIfRun]:
    """The version's what-if runs with their baselines and requesters."""
    return WhatIfRun.objects.filter(ruleset=ruleset).select_related("baseline", "requested_by")


def whatif_run_get(*, user, pk: int) -> WhatIfRun:
    """A what-if run ``user`` may see (404 otherwise)."""
    return get_object_or_404(WhatIfRun.objects.for_user(user).select_related("ruleset"), pk=pk)


def rescore_job_get(pk: int) -> JobRun:
    """A rules rescore job (404 otherwise)."""
    return get_object_or_404(JobRun.objects.filter(kind__startswith="rescore"), pk=pk)


def contacts_visible(*, user) -> QuerySet[Contact]:
    """The contacts ``user`` may see."""
    return Contact.objects.for_user(user)


def contact_get(*, user, pk: int) -> Contact:
    """A contact ``user`` may see (404 otherwise)."""
    return get_object_or_404(contacts_visible(user=user), pk=pk)


def ruleset_visible(*, user, pk: int) -> Ruleset | None:
    """The version ``user`` may see with this id (and its rules), or None."""
    return Ruleset.objects.for_user(user).prefetch_related("rules").filter(pk=pk).first()


def contact_score_history(contact: Contact) -> QuerySet[ContactScoreHistory]:
    """Every past score of ``contact`` with its version (the paginator orders them)."""
    return ContactScoreHistory.objects.filter(contact=contact).select_related("ruleset")


def ruleset_settings(ruleset: Ruleset) -> dict[str, Any]:
    """The definition fields of a version as plain JSON values."""
    return {name: getattr(ruleset, name) for name in DEFINITION_FIELDS}


def rule_as_dict(rule: Rule) -> dict[str, Any]:
    """A rule as the API and the editor exchange it (campaign by id)."""
    data: dict[str, Any] = {"id": rule.pk, "position": rule.position}
    for name in RULE_FIELDS:
        data[name] = rule.campaign_id if name == "campaign" else getattr(rule, name)
    return data


def ruleset_rules(ruleset: Ruleset) -> list[dict[str, Any]]:
    """The rules of a version in order, as dicts (uses a prefetch when there is one)."""
    rules = sorted(ruleset.rules.all(), key=lambda r: (r.position, r.pk))
    return [rule_as_dict(rule) for rule in rules]


def ruleset_document(ruleset: Ruleset) -> dict[str, Any]:
    """Everything an editor changes: the definition fields and the rules."""
    return {**ruleset_settings(ruleset), "rules": ruleset_rules(ruleset)}


def _field_label(name: str) -> str:
    label = str(Ruleset._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def document_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two documents (see ``ruleset_diff``)."""
    settings = [
        {"field": name, "label": _field_label(name), "old": old.get(name), "new": new.get(name)}
        for name in DEFINITION_FIELDS
        if old.get(name) != new.get(name)
    ]
    return {"settings": settings, "rules": _rules_diff(old.get("rules", []), new.get("rules", []))}


def _rules_diff(old_rules: list[dict], new_rules: list[dict]) -> dict[str, list]:
    # Copies keep names, so match by name first; a renamed rule still sits at its place in the list
    # (and keeps its kind).
    old_left = list(old_rules)
    pairs: list[tuple[dict, dict]] = []
    new_left: list[dict] = []
    for new in new_rules:
        match = next((o for o in old_left if o["name"] == new["name"]), None)
        if match is None:
            new_left.append(new)
        else:
            old_left.remove(match)
            pairs.append((match, new))
    added = []
    for new in new_left:
        match = next(
            (
                o
                for o in old_left
                if o.get("position") == new.get("position") and o.get("kind") == new.get("kind")
            ),
            None,
        )
        if match is None:
            added.append(new)
        else:
            old_left.remove(match)
            pairs.append((match, new))
    changed = []
    for old, new in pairs:
        changes = [
            {"field": name, "old": old.get(name), "new": new.get(name)}
            for name in RULE_FIELDS
            if old.get(name) != new.get(name)
        ]
        if changes:
            changed.append({"name": new["name"], "changes": changes})
    return {"added": added, "removed": old_left, "changed": changed}


def ruleset_diff(*, old: Ruleset, new: Ruleset) -> dict[str, Any]:
    """``{"settings": [{field, label, old, new}], "rules": {"added", "removed", "changed"}}``.

    Rules are matched across the versions by name, then by position (same kind); ``changed`` lists
    per rule the fields whose values differ.
    """
    return document_diff(ruleset_document(old), ruleset_document(new))


def ruleset_changes_since(*, ruleset: Ruleset, revision: int) -> list[dict[str, Any]]:
    """The edits made after ``revision``, oldest first: who, when, and what each one changed."""
    rows = (
        RulesetHistory.objects.filter(ruleset=ruleset, action="edited")
        .select_related("actor")
        .order_by("at", "id")
    )
    return [
        {
            "revision": row.detail.get("revision"),
            "actor": row.actor.get_username() if row.actor else None,
            "at": row.at,
            "settings": row.detail.get("settings", []),
            "rules": row.detail.get("rules", {}),
        }
        for row in rows
        if (row.detail.get("revision") or 0) > revision
    ]


# --- the lifecycle funnel ---------------------------------------------------------------------------
FUNNEL_STEPS: list[tuple[str, str, bool]] = [
    # (from stage, to stage, only direct moves from the from-stage count)
    (LifecycleStage.LEAD, LifecycleStage.MQL, False),
    (LifecycleStage.MQL, LifecycleStage.SAL, False),
    (LifecycleStage.SAL, LifecycleStage.SQL, False),
    (LifecycleStage.MQL, LifecycleStage.SQL, True),  # teams that switched SAL off
    (LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, False),
    (LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER, False),
]
DAY = datetime.timedelta(days=1)


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _entries(stage: str, start: datetime.datetime, end: datetime.datetime) -> tuple[QuerySet, str, str]:
    """Each contact's first entry into ``stage`` in the period: (queryset, contact ref, entry time ref).

    A contact enters *lead* when it is created; every other stage by a transition into it.
    """
    if stage == LifecycleStage.LEAD:
        return Contact.objects.filter(created__gte=start, created__lt=end), "pk", "created"
    in_period = LifecycleTransition.objects.filter(to_stage=stage, at__gte=start, at__lt=end)
    earlier = LifecycleTransition.objects.filter(
        contact=OuterRef("contact"), to_stage=stage, at__gte=start
    ).filter(Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), id__lt=OuterRef("id")))
    return in_period.filter(~Exists(earlier)), "contact_id", "at"


def _step(
    from_stage: str, to_stage: str, direct: bool, start: datetime.datetime, end: datetime.datetime
) -> dict[str, Any]:
    entries, contact_ref, entered_ref = _entries(from_stage, start, end)
    reached = LifecycleTransition.objects.filter(
        contact=OuterRef(contact_ref), to_stage=to_stage, at__gte=OuterRef(entered_ref)
    )
    if direct:
        reached = reached.filter(from_stage=from_stage)
    qs = entries.annotate(reached_at=Subquery(reached.order_by("at", "id").values("at")[:1])).annotate(
        days=ExpressionWrapper(F("reached_at") - F(entered_ref), output_field=DurationField())
    )
    totals = qs.aggregate(
        entered=Count("pk"),
        converted=Count("reached_at"),
        mean=Avg("days", filter=Q(reached_at__isnull=False)),
    )
    entered, converted = totals["entered"], totals["converted"]
    median = None
    if converted:
        # The middle one or two durations, found by the database with ORDER BY … LIMIT 2 OFFSET k.
        middle = list(
            qs.filter(reached_at__isnull=False)
            .order_by("days")
            .values_list("days", flat=True)[(converted - 1) // 2 : converted // 2 + 1]
        )
        median = sum((_as_days(d) for d in middle), 0.0) / len(middle)
    return {
        "from": from_stage,
        "to": to_stage,
        "label": f"{LifecycleStage(from_stage).label} → {LifecycleStage(to_stage).label}"
        + (" (SAL skipped)" if direct else ""),
        "direct_only": direct,
        "entered": entered,
        "converted": converted,
        "rate": round(converted / entered, 4) if entered else None,
        "median_days": round(median, 2) if median is not None else None,
        "mean_days": round(_as_days(totals["mean"]), 2) if totals["mean"] is not None else None,
    }


def _as_days(value: datetime.timedelta | float | int) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds() / 86400
    return float(value) / 86400e6  # microseconds, should a backend hand back a number


def lifecycle_funnel(*, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    """Conversion and velocity between consecutive stages for contacts entering a stage in the period.

    For each step: ``entered`` (contacts entering the from-stage between ``since`` and ``until``,
    inclusive, counted once at their first entry), ``converted`` (of those, the ones that reached the
    to-stage at or after that entry, at any time since), ``rate``, and the median and mean days from
    entry to the to-stage. The ``mql → sql`` step counts direct moves only (SAL switched off).
    Also the transitions to recycled, disqualified and back to lead (reopened) in the period.
    """
    start, end = day_start(since), day_start(until + DAY)
    steps = [_step(a, b, direct, start, end) for a, b, direct in FUNNEL_STEPS]
    exits = {
        row["to_stage"]: row
        for row in LifecycleTransition.objects.filter(
            at__gte=start,
            at__lt=end,
            to_stage__in=[LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED, LifecycleStage.LEAD],
        )
        .values("to_stage")
        .annotate(transitions=Count("id"), contacts=Count("contact", distinct=True))
        .order_by()
    }

    def _exit(stage: str) -> dict[str, int]:
        row = exits.get(stage, {})
        return {"transitions": row.get("transitions", 0), "contacts": row.get("contacts", 0)}

    return {
        "since": since,
        "until": until,
        "steps": steps,
        "recycled": _exit(LifecycleStage.RECYCLED),
        "disqualified": _exit(LifecycleStage.DISQUALIFIED),
        "reopened": _exit(LifecycleStage.LEAD),
    }


# --- why leads were rejected or recycled ----------------------------------------------------------------
def lifecycle_reasons(*, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    """How often each reason code was given for sales' rejects and recycles decided between ``since`` and
    ``until`` (inclusive dates): per decision, every code of it (zeros included, most given first) with
    its count and share, and the total. ``uncoded``: people's moves to recycled or disqualified in the
    period without a code (decided before codes were recorded). Two grouped queries."""
    start, end = day_start(since), day_start(until + DAY)
    counts = {
        (row["decision"], row["reason_code"]): row["n"]
        for row in LifecycleTransition.objects.filter(
            at__gte=start, at__lt=end, decision__in=list(REASONS_BY_DECISION)
        )
        .values("decision", "reason_code")
        .annotate(n=Count("id"))
        .order_by()
    }
    answer: dict[str, Any] = {"since": since, "until": until}
    for decision, codes in REASONS_BY_DECISION.items():
        total = sum(n for (d, _code), n in counts.items() if d == decision)
        rows = [
            {
                "code": str(code),
                "label": LifecycleReason(code).label,
                "count": counts.get((decision, code), 0),
                "share": counts.get((decision, code), 0) / total if total else None,
            }
            for code in codes
        ]
        rows.sort(key=lambda row: -row["count"])  # stable: ties keep the forms' order
        answer[str(decision)] = {"total": total, "reasons": rows}
    answer["uncoded"] = LifecycleTransition.objects.filter(
        at__gte=start,
        at__lt=end,
        actor__isnull=False,
        decision="",
        to_stage__in=[LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED],
    ).count()
    return answer


# --- the dashboard ------------------------------------------------------------------------------------
def buying_stage_summary() -> dict[str, Any]:
    """Accounts per buying stage (in the funnel's order) and how many of each are qualified: one grouped
    query over the learned scores."""
    rows = {
        row["stage"]: row
        for row in AccountModelScore.objects.order_by()
        .values("stage")
        .annotate(accounts=Count("pk"), qualified=Count("pk", filter=Q(qualified=True)))
    }
    stages = [
        {"value": value, "label": label, "accounts": rows.get(value, {}).get("accounts", 0),
         "qualified": rows.get(value, {}).get("qualified", 0)}
        for value, label in BuyingStage.choices
    ]  # fmt: skip
    return {
        "stages": stages,
        "accounts": sum(s["accounts"] for s in stages),
        "qualified": sum(s["qualified"] for s in stages),
    }
