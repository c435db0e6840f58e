"""The collaborative ruleset workflow: draft → proposed → approved → (scheduled →) published → superseded.

Marketing and sales edit drafts together (optimistic locking on ``revision``), comment on any version,
propose a draft; a marketing lead and a sales lead approve it (never the proposer: four eyes); a lead
publishes it now or at a set time, and can roll back to an earlier published version. Published
versions never change. Every state change writes a ``RulesetHistory`` row and a ``ChangeRecord`` in
the same transaction; publishing schedules a full rescore once the transaction commits.

The workflow itself is the core's, shared by every versioned document (``revops.documents``; ``RULESETS``
says who does what for rulesets); this module keeps what is the rules' own: checking definitions and
rules, copying a version's rules into a draft, and the service names the views, API and admin call.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
from typing import Any

from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import transaction
from django_countries import countries

from accounts.choices import EventType
from accounts.models import Campaign
from accounts.normalize import normalize_domain
from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, Role, TeamKind
from revops.documents import DocumentWorkflow, memberships, version_text_clean
from revops.services import object_delete
from revops.versioned import VERSION_FIELDS
from scoring import pipeline
from scoring.choices import RuleKind, RuleOperator
from scoring.exceptions import RulesetConflict, RulesetNotEditable
from scoring.models import (
    DEFAULT_EXCLUDED_TITLES,
    DEFAULT_FAST_TRACK,
    DEFAULT_REQUIRED_FIELDS,
    DEFAULT_SQL_CHECKLIST,
    Rule,
    Ruleset,
    RulesetApproval,
    RulesetComment,
)
from scoring.selectors import DEFINITION_FIELDS, RULE_FIELDS, document_diff, ruleset_document

# Who edits drafts, proposes and comments; whose leads approve.
EDITOR_TEAMS = [TeamKind.MARKETING, TeamKind.SALES, TeamKind.BDR, TeamKind.REVENUE_OPERATIONS]
APPROVER_TEAMS = [TeamKind.MARKETING, TeamKind.SALES]

CONTACT_FIELD_PATHS = [
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "persona",
]
ACCOUNT_FIELD_PATHS = [
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "domain",
    "name",
    "technologies",
]
_CUSTOM_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_NUMBER_FIELDS = [
    "mql_fit_min",
    "mql_engagement_min",
    "fit_grade_a_min",
    "fit_grade_b_min",
    "engagement_grade_1_min",
    "engagement_grade_2_min",
]
_BOOLEAN_FIELDS = ["sal_enabled", "exclude_free_mail"]
# Changed by the workflow, never by editing (``revops.versioned``).
_WORKFLOW_FIELDS = VERSION_FIELDS
# Keys a rule may carry besides RULE_FIELDS: its id (kept) and its position (the list order wins).
_RULE_EXTRA_KEYS = {"id", "position"}
# What a *new* engagement rule counts when it does not say (issue 17): the last quarter of activity (90
# days), halving every month (30 days). The seeds ask for accounts and people in market *now* ("прямо
# сейчас"), engagement read "com relação ao tempo", and pipeline reported monthly against quarterly goals,
# and the starter rules shipped from them use 60- to 120-day windows (mostly 90) and 14- to 30-day
# half-lives: a four-month-old page view earns nothing, a month-old one half. Existing rules keep theirs:
# only rules added without an id and without these keys take them (an explicit null still means all
# history / no decay), so no live score changes.
NEW_ENGAGEMENT_RULE_DEFAULTS: dict[str, Any] = {"window_days": 90, "half_life_days": 30}
_RULE_DEFAULTS: dict[str, Any] = {
    "field": "",
    "operator": "",
    "value": None,
    "event_type": "",
    "url_pattern": "",
    "topic": "",
    "campaign": None,
    "min_count": 1,
    "window_days": None,
    "repeatable": False,
    "cap": None,
    "half_life_days": None,
}


# --- who may do what --------------------------------------------------------------------------------
def _may_edit(user) -> bool:
    if user.is_superuser:
        return True
    return user.has_perm("scoring.change_ruleset") and any(
        kind in EDITOR_TEAMS and role in (Role.MEMBER, Role.LEAD) for kind, role in memberships(user)
    )


def _may_publish(user) -> bool:
    return user.has_perm("scoring.publish_ruleset")


def _propose_check(ruleset: Ruleset) -> str | None:
    if not ruleset.rules.exists():
        return f"v{ruleset.number} has no rules yet: add some before proposing it."
    return None


def _rescore_all(*, user, reason: str) -> None:
    pipeline.full_rescore_schedule(user=user, reason=reason)


# Rulesets in the one versioned-document workflow (``revops.documents``): who edits, which teams sign
# off, who publishes, and the full rescore once a version goes live.
RULESETS = DocumentWorkflow(
    model=Ruleset,
    label="v{number}",
    signers=tuple(APPROVER_TEAMS),
    approve_permission="scoring.approve_ruleset",
    may_edit=_may_edit,
    may_publish=_may_publish,
    delete_permission="scoring.delete_ruleset",
    after_publish=_rescore_all,
    edit_refusal="Only members and leads of a marketing, sales, BDR/SDR or revenue-operations team may "
    "{what}.",
    publish_refusal="You may not {what}: it needs the scoring.publish_ruleset permission (team leads).",
    not_editable=RulesetNotEditable,
    conflict=RulesetConflict,
    propose_check=_propose_check,
)


def can_edit_rulesets(user) -> bool:
    """Whether ``user`` may create and edit drafts, propose them and comment."""
    return RULESETS.can_edit(user)


def approver_team_kinds(user) -> set[str]:
    """The teams (marketing, sales) ``user`` approves for: those they lead, given the permission."""
    return RULESETS.approver_team_kinds(user)


# --- validation (also used by admin forms) ----------------------------------------------------------
def field_path_error(path: Any) -> str | None:
    """Why ``path`` is not a field a rule or the MQL definition can test, or None if it is."""
    if not isinstance(path, str) or not path:
        return "Choose a field."
    if path in CONTACT_FIELD_PATHS:
        return None
    for prefix in ("account.custom.", "custom."):
        if path.startswith(prefix):
            return None if _CUSTOM_KEY.match(path[len(prefix) :]) else f"“{path}”: the custom key is invalid."
    if path.startswith("account.") and path[len("account.") :] in ACCOUNT_FIELD_PATHS:
        return None
    return (
        f"Unknown field “{path}”. Use a contact field ({', '.join(CONTACT_FIELD_PATHS)}), "
        f"account.<{'|'.join(ACCOUNT_FIELD_PATHS)}>, custom.<key> or account.custom.<key>."
    )


def finite_number(value: Any, *, allow_none: bool = False) -> float | None:
    """A finite number (numeric strings from forms too); ``ValueError`` with the message otherwise."""
    if value is None or value == "":
        if allow_none:
            return None
        raise ValueError("A number is required.")
    if isinstance(value, bool):
        raise ValueError("A number is required.")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("A number is required.") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("A number is required.")
    return float(value)


def whole_number(value: Any, *, allow_none: bool = False) -> int | None:
    number = finite_number(value, allow_none=allow_none)
    if number is None:
        return None
    if number != int(number):
        raise ValueError("A whole number is required.")
    return int(number)


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc}."
    return None


def _string_list(value: Any, *, label: str = "value") -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"A list of non-empty {label}s is required.")
    return [v.strip() for v in value]


def ruleset_data_clean(*, ruleset: Ruleset, data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise changes to a version's definition fields; ``ValidationError`` by field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send the changes as an object of field: value."]})

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for key, value in data.items():
        if key in _WORKFLOW_FIELDS:
            fail(key, "Read-only: it changes through the workflow, not by editing.")
        elif key not in DEFINITION_FIELDS:
            fail(key, "Unknown field.")
        elif key in ("name", "description"):
            text, error = version_text_clean(key, value)
            if error:
                fail(key, error)
            else:
                cleaned[key] = text
        elif key in _BOOLEAN_FIELDS:
            if not isinstance(value, bool):
                fail(key, "Must be true or false.")
            else:
                cleaned[key] = value
        elif key in _NUMBER_FIELDS or key == "recycle_engagement_below":
            try:
                cleaned[key] = finite_number(value, allow_none=key == "recycle_engagement_below")
            except ValueError as exc:
                fail(key, str(exc))
        elif key == "excluded_title_pattern":
            if not isinstance(value, str):
                fail(key, "A regular expression (text) is required.")
            elif len(value) > 500:
                fail(key, "At most 500 characters.")
            elif error := _regex_error(value):
                fail(key, error)
            else:
                cleaned[key] = value
        elif key == "required_fields":
            try:
                paths = _string_list(value, label="field")
            except ValueError as exc:
                fail(key, str(exc))
                continue
            path_errors = [e for p in paths if p != "account" and (e := field_path_error(p))]
            for error in path_errors:
                fail(key, error)
            if not path_errors:
                cleaned[key] = list(dict.fromkeys(paths))
        elif key == "excluded_industries":
            try:
                cleaned[key] = list(dict.fromkeys(_string_list(value, label="industry name")))
            except ValueError as exc:
                fail(key, str(exc))
        elif key == "excluded_countries":
            try:
                codes = [c.upper() for c in _string_list(value, label="country code")]
            except ValueError as exc:
                fail(key, str(exc))
                continue
            unknown = [c for c in codes if c not in countries]
            if unknown:
                fail(key, f"Unknown ISO country codes: {', '.join(unknown)}.")
            else:
                cleaned[key] = list(dict.fromkeys(codes))
        elif key == "competitor_domains":
            try:
                domains = [normalize_domain(d) for d in _string_list(value, label="domain")]
            except ValueError as exc:
                fail(key, str(exc))
            else:
                cleaned[key] = list(dict.fromkeys(domains))
        elif key == "fast_track_event_types":
            try:
                types = _string_list(value, label="event type")
            except ValueError as exc:
                fail(key, str(exc))
                continue
            unknown = sorted(set(types) - set(EventType.values))
            if unknown:
                fail(
                    key, f"Unknown event types: {', '.join(unknown)}. Allowed: {', '.join(EventType.values)}."
                )
            else:
                cleaned[key] = list(dict.fromkeys(types))
        elif key == "sql_checklist":
            try:
                items = _string_list(value, label="checklist item")
            except ValueError as exc:
                fail(key, str(exc))
                continue
            if len(set(items)) != len(items):
                fail(key, "Each checklist item must be different.")
            elif any(len(i) > 200 for i in items):
                fail(key, "Each checklist item has at most 200 characters.")
            else:
                cleaned[key] = items

    merged = {name: cleaned.get(name, getattr(ruleset, name)) for name in DEFINITION_FIELDS}
    if not errors:
        if merged["fit_grade_a_min"] < merged["fit_grade_b_min"]:
            fail(
                "fit_grade_a_min", f"Grade A must start at or above grade B ({merged['fit_grade_b_min']:g})."
            )
        if merged["engagement_grade_1_min"] < merged["engagement_grade_2_min"]:
            fail(
                "engagement_grade_1_min",
                f"Grade 1 must start at or above grade 2 ({merged['engagement_grade_2_min']:g}).",
            )
        recycle = merged["recycle_engagement_below"]
        if recycle is not None and recycle > merged["mql_engagement_min"]:
            fail(
                "recycle_engagement_below",
                f"Must not exceed the MQL engagement minimum ({merged['mql_engagement_min']:g}), "
                "or new MQLs would be recycled at once.",
            )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _fit_value_error(operator: str, value: Any) -> str | None:
    scalar = (str, int, float, bool)
    if operator in (RuleOperator.IN, RuleOperator.EMAIL_DOMAIN):
        if not isinstance(value, list) or not value or not all(isinstance(v, scalar) for v in value):
            return "A non-empty list of values is required."
        if operator == RuleOperator.EMAIL_DOMAIN and not all(isinstance(v, str) and v.strip() for v in value):
            return "A non-empty list of domains is required."
    elif operator == RuleOperator.RANGE:
        if not isinstance(value, dict) or not set(value) <= {"min", "max"}:
            return 'An object {"min": number, "max": number} is required (either may be left out).'
        try:
            low = finite_number(value.get("min"), allow_none=True)
            high = finite_number(value.get("max"), allow_none=True)
        except ValueError:
            return "min and max must be numbers."
        if low is None and high is None:
            return "Give min, max or both."
        if low is not None and high is not None and low > high:
            return "min must not be above max."
    elif operator == RuleOperator.REGEX:
        if not isinstance(value, str) or not value:
            return "A regular expression is required."
        return _regex_error(value)
    elif operator == RuleOperator.CONTAINS:
        if not isinstance(value, str) or not value:
            return "Text to look for is required."
    elif operator == RuleOperator.EQUALS and (value is None or value == "" or not isinstance(value, scalar)):
        return "A single value is required."
    return None


def rule_clean(data: Any, *, prefix: str = "") -> dict[str, Any]:
    """Check one rule and fill in the defaults; ``ValidationError`` keyed ``<prefix>field``."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(f"{prefix}{field}", []).append(message)

    if not isinstance(data, dict):
        raise ValidationError({prefix.rstrip(".") or "rule": ["Each rule must be an object."]})
    for key in sorted(set(data) - set(RULE_FIELDS) - _RULE_EXTRA_KEYS):
        fail(key, "Unknown field.")
    rule = {**_RULE_DEFAULTS, **{k: v for k, v in data.items() if k in RULE_FIELDS}}
    if data.get("id") is None and data.get("kind") == RuleKind.ENGAGEMENT:
        rule.update({k: v for k, v in NEW_ENGAGEMENT_RULE_DEFAULTS.items() if k not in data})
    for key in ("field", "operator", "event_type", "url_pattern", "topic"):
        if rule[key] is None:
            rule[key] = ""
        elif not isinstance(rule[key], str):
            fail(key, "Text is required.")
            rule[key] = ""

    name = rule.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("name", "A name is required.")
    elif len(name.strip()) > 200:
        fail("name", "At most 200 characters.")
    else:
        rule["name"] = name.strip()
    try:
        rule["points"] = finite_number(rule.get("points"))
    except ValueError as exc:
        fail("points", str(exc))
    if not isinstance(rule["repeatable"], bool):
        fail("repeatable", "Must be true or false.")
    _counting_clean(rule, fail)

    kind = rule.get("kind")
    event_keys = ("event_type", "url_pattern", "topic", "campaign")
    if kind not in RuleKind.values:
        fail("kind", f"Choose one of: {', '.join(RuleKind.values)}.")
    elif kind == RuleKind.FIT:
        if error := field_path_error(rule["field"]):
            fail("field", error)
        if rule["operator"] not in RuleOperator.values:
            fail("operator", f"Choose one of: {', '.join(RuleOperator.values)}.")
        elif rule["operator"] == RuleOperator.EMAIL_DOMAIN and rule["field"] != "email":
            fail("operator", "“e-mail domain is one of” tests the email field only.")
        elif error := _fit_value_error(rule["operator"], rule["value"]):
            fail("value", error)
        for key in event_keys:
            if rule[key] not in ("", None):
                fail(key, "Only engagement rules count events.")
    else:
        for key in ("field", "operator", "value"):
            if rule[key] not in ("", None):
                fail(key, "Only fit rules test contact or account fields.")
        if not any(rule[key] not in ("", None) for key in event_keys):
            fail("event_type", "Say which events count: an event type, a URL pattern, a topic or a campaign.")
        if rule["event_type"] and rule["event_type"] not in EventType.values:
            fail("event_type", f"Choose one of: {', '.join(EventType.values)}.")
        if len(rule["url_pattern"]) > 500:
            fail("url_pattern", "At most 500 characters.")
        elif rule["url_pattern"] and (error := _regex_error(rule["url_pattern"])):
            fail("url_pattern", error)
        if len(rule["topic"]) > 200:
            fail("topic", "At most 200 characters.")
        if rule["campaign"] is not None:
            _campaign_clean(rule, fail)
    if errors:
        raise ValidationError(errors)
    return {**{k: rule[k] for k in RULE_FIELDS}, "id": data.get("id")}


def _counting_clean(rule: dict[str, Any], fail) -> None:
    """min_count, window_days, cap and half_life_days (engagement settings; fit rules keep defaults)."""
    checks = [
        ("min_count", whole_number, False, lambda v: v < 1, "At least 1."),
        (
            "window_days",
            whole_number,
            True,
            lambda v: v < 1,
            "At least 1 day (leave it empty for all history).",
        ),
        (
            "cap",
            finite_number,
            True,
            lambda v: v < 0,
            "Must not be negative: it caps points in absolute value.",
        ),
        (
            "half_life_days",
            finite_number,
            True,
            lambda v: v <= 0,
            "Must be above 0 (leave it empty for no decay).",
        ),
    ]
    for key, convert, allow_none, bad, message in checks:
        try:
            rule[key] = convert(rule[key], allow_none=allow_none)
        except ValueError as exc:
            fail(key, str(exc))
            continue
        if rule[key] is not None and bad(rule[key]):
            fail(key, message)


def _campaign_clean(rule: dict[str, Any], fail) -> None:
    campaign_id = getattr(rule["campaign"], "pk", rule["campaign"])
    if isinstance(campaign_id, bool) or not isinstance(campaign_id, int):
        fail("campaign", "A campaign id is required.")
    elif not Campaign.objects.filter(pk=campaign_id).exists():
        fail("campaign", f"No campaign with id {campaign_id}.")
    else:
        rule["campaign"] = campaign_id


def rules_clean(*, ruleset: Ruleset, rules: Any) -> list[dict[str, Any]]:
    """Check a full replacement list of rules; errors keyed ``rules[i].field``."""
    if not isinstance(rules, list):
        raise ValidationError({"rules": ["A list of rules is required."]})
    errors: dict[str, list[str]] = {}
    cleaned: list[dict[str, Any]] = []
    own_ids = set(ruleset.rules.values_list("pk", flat=True)) if ruleset.pk else set()
    seen_ids: set[int] = set()
    seen_names: dict[str, int] = {}
    for index, data in enumerate(rules):
        prefix = f"rules[{index}]."
        try:
            rule = rule_clean(data, prefix=prefix)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            continue
        rule_id = rule["id"]
        if rule_id is not None:
            if isinstance(rule_id, bool) or not isinstance(rule_id, int) or rule_id not in own_ids:
                errors.setdefault(f"{prefix}id", []).append(
                    "Not a rule of this version: leave the id out to add a new rule."
                )
            elif rule_id in seen_ids:
                errors.setdefault(f"{prefix}id", []).append("The same rule appears twice.")
            seen_ids.add(rule_id)
        key = rule["name"].casefold()
        if key in seen_names:
            errors.setdefault(f"{prefix}name", []).append(
                f"Rule names must be unique in a version (same as rules[{seen_names[key]}])."
            )
        seen_names.setdefault(key, index)
        cleaned.append(rule)
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- drafts -----------------------------------------------------------------------------------------
def _definition_defaults() -> dict[str, Any]:
    return {
        "name": "New rules",
        "required_fields": list(DEFAULT_REQUIRED_FIELDS),
        "excluded_title_pattern": DEFAULT_EXCLUDED_TITLES,
        "fast_track_event_types": list(DEFAULT_FAST_TRACK),
        "sql_checklist": list(DEFAULT_SQL_CHECKLIST),
    }


@transaction.atomic
def ruleset_draft_create(*, user, based_on: Ruleset | None = None, name: str | None = None) -> Ruleset:
    """A new draft copying every definition field and rule of ``based_on`` (default: the published one)."""

    def values(source: Ruleset | None) -> dict[str, Any]:
        if source is not None:
            fields = {f: copy.deepcopy(getattr(source, f)) for f in DEFINITION_FIELDS}
        else:
            fields = _definition_defaults()
        if name is not None:
            text = name.strip()
            if not text or len(text) > 200:
                raise ValidationError({"name": ["A name of 1 to 200 characters is required."]})
            fields["name"] = text
        return fields

    def rules_copy(draft: Ruleset, source: Ruleset | None) -> dict[str, Any]:
        rules = []
        if source is not None:
            for rule in source.rules.order_by("position", "id"):
                values = {f: copy.deepcopy(getattr(rule, f)) for f in RULE_FIELDS if f != "campaign"}
                rules.append(
                    Rule(ruleset=draft, position=rule.position, campaign_id=rule.campaign_id, **values)
                )
        Rule.objects.bulk_create(rules)
        return {"rules": len(rules)}

    return RULESETS.draft_create(user=user, based_on=based_on, values=values, copy=rules_copy)


@transaction.atomic
def ruleset_update(
    *,
    ruleset: Ruleset,
    user,
    expected_revision: int | None,
    data: dict[str, Any],
    rules: list[dict[str, Any]] | None = None,
) -> Ruleset:
    """Edit a draft: definition fields in ``data``, and (if given) the full replacement list of rules.

    ``expected_revision`` is the revision the editor read: missing → ``PreconditionRequired``, stale →
    ``RulesetConflict`` (nothing changed). Every value is checked; problems raise ``ValidationError``
    with field → messages (rules keyed ``rules[3].points``). A real change bumps ``revision`` by one.
    """

    def change(locked: Ruleset) -> dict[str, Any] | None:
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {}
        cleaned_rules = None
        try:
            cleaned = ruleset_data_clean(ruleset=locked, data=data)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if rules is not None:
            try:
                cleaned_rules = rules_clean(ruleset=locked, rules=rules)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        before_doc = ruleset_document(locked)
        for key, value in cleaned.items():
            setattr(locked, key, value)
        rule_changes = _rules_replace(locked, user, cleaned_rules) if cleaned_rules is not None else 0
        if not rule_changes and all(before_doc[f] == getattr(locked, f) for f in DEFINITION_FIELDS):
            return None  # nothing to do: same revision, no history
        return document_diff(before_doc, ruleset_document(locked))

    return RULESETS.update(document=ruleset, user=user, expected_revision=expected_revision, change=change)


def _rules_replace(ruleset: Ruleset, user, rules: list[dict[str, Any]]) -> int:
    """Make the draft's rules exactly ``rules`` (kept ids updated in place); return how many changed."""
    existing = {rule.pk: rule for rule in ruleset.rules.all()}
    kept: set[int] = set()
    changes = 0
    for position, data in enumerate(rules, start=1):
        values = {f: data[f] for f in RULE_FIELDS if f != "campaign"}
        values["campaign_id"] = data["campaign"]
        values["position"] = position
        rule = existing.get(data["id"]) if data["id"] is not None else None
        if rule is None:
            rule = Rule(ruleset=ruleset, **values)
            rule.full_clean(exclude=["ruleset", "campaign"])
            rule.save()
            change_record_create(
                actor=user, action=ChangeAction.CREATE, instance=rule, after=model_snapshot(rule)
            )
            changes += 1
            continue
        kept.add(rule.pk)
        before = model_snapshot(rule)
        for key, value in values.items():
            setattr(rule, key, value)
        if model_snapshot(rule) != before:
            rule.full_clean(exclude=["ruleset", "campaign"])
            rule.save()
            change_record_create(
                actor=user,
                action=ChangeAction.UPDATE,
                instance=rule,
                before=before,
                after=model_snapshot(rule),
            )
            changes += 1
    for pk, rule in existing.items():
        if pk not in kept:
            object_delete(instance=rule, actor=user)
            changes += 1
    return changes


@transaction.atomic
def ruleset_draft_delete(*, ruleset: Ruleset, user) -> None:
    """Delete a draft (its author or a lead); other versions are history and stay."""
    RULESETS.draft_delete(document=ruleset, user=user)


@transaction.atomic
def ruleset_comment_add(*, ruleset: Ruleset, user, body: str) -> RulesetComment:
    """Comment on any version (drafts, proposals, even published ones)."""
    return RULESETS.comment_add(document=ruleset, user=user, body=body)


# --- proposal and approval --------------------------------------------------------------------------
@transaction.atomic
def ruleset_propose(*, ruleset: Ruleset, user) -> Ruleset:
    """Ask the marketing and sales leads to approve a draft; it is frozen while proposed."""
    return RULESETS.propose(document=ruleset, user=user)


@transaction.atomic
def ruleset_withdraw(*, ruleset: Ruleset, user) -> Ruleset:
    """Take a proposed, approved or scheduled version back to draft; its approvals are cleared."""
    return RULESETS.withdraw(document=ruleset, user=user)


@transaction.atomic
def ruleset_approve(*, ruleset: Ruleset, user) -> RulesetApproval:
    """A marketing or sales lead approves a proposed version for their team; both → APPROVED.

    The proposer may not approve (four eyes); one approval per person, one needed per team.
    """
    return RULESETS.approve(document=ruleset, user=user)


@transaction.atomic
def ruleset_reject(*, ruleset: Ruleset, user, reason: str) -> Ruleset:
    """An approver sends a proposed (or approved) version back to draft, saying why."""
    return RULESETS.reject(document=ruleset, user=user, reason=reason)


# --- publication ------------------------------------------------------------------------------------
@transaction.atomic
def ruleset_publish(*, ruleset: Ruleset, user, at: datetime.datetime | None = None) -> Ruleset:
    """Publish an approved version now, or schedule it for ``at`` (a future time).

    ``user=None`` is the due-task publishing a scheduled version. The previously published version is
    superseded; a full rescore is scheduled once the transaction commits.
    """
    return RULESETS.publish(document=ruleset, user=user, at=at)


@transaction.atomic
def ruleset_rollback(*, target: Ruleset, user) -> Ruleset:
    """Publish an earlier, previously published (superseded) version again; it is not changed."""
    return RULESETS.rollback(document=target, user=user)


def rulesets_publish_due(*, now: datetime.datetime | None = None) -> int:
    """Publish the scheduled versions whose time has come, oldest first; return how many.

    Safe to run concurrently and repeatedly: each version is re-checked under a row lock.
    """
    return RULESETS.publish_due(now=now)


@shared_task(name="scoring.tasks.rulesets_publish_due_task")
def rulesets_publish_due_task() -> int:
    """Periodic (celery beat, every minute): publish scheduled versions that are due."""
    return rulesets_publish_due()
