"""Reads for the ruleset workflow and the lifecycle: the published version, documents, diffs, contacts.

Sizes to keep in mind: a version has tens of rules and a few hundred history rows. The counted figures
(the lifecycle funnel, contacts per stage, accounts in market …) are defined once, in ``scoring.metrics``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import (
    Count,
    Prefetch,
    QuerySet,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.choices import LifecycleStage
from accounts.models import Campaign, Contact
from revops.models import JobRun
from scoring.choices import REASONS_BY_DECISION, LifecycleReason, RulesetStatus
from scoring.models import (
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
            # What the page shows: the full name (the API keeps the username, an identifier).
            "actor_name": (row.actor.get_full_name() or row.actor.get_username()) if row.actor else None,
            "at": row.at,
            "settings": row.detail.get("settings", []),
            "rules": row.detail.get("rules", {}),
        }
        for row in rows
        if (row.detail.get("revision") or 0) > revision
    ]


# --- days ---------------------------------------------------------------------------------------------
# The lifecycle funnel and every other counted figure live in ``scoring.metrics``.
DAY = datetime.timedelta(days=1)


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


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
