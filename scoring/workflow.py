"""The collaborative ruleset workflow: draft → proposed → approved → (scheduled →) published → superseded.

Marketing and sales edit drafts together (optimistic locking on ``revision``), comment on any version,
propose a draft; a marketing lead and a sales lead approve it (never the proposer: four eyes); a lead
publishes it now or at a set time, and can roll back to an earlier published version. Published
versions never change. Every state change writes a ``RulesetHistory`` row and a ``ChangeRecord`` in
the same transaction; publishing schedules a full rescore once the transaction commits.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
from typing import Any

from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django_countries import countries

from accounts.choices import EventType
from accounts.models import Campaign
from accounts.normalize import normalize_domain
from revops.audit import change_record_create, model_snapshot
from revops.choices import ChangeAction, Role, TeamKind
from revops.models import Membership
from revops.services import object_delete

from . import pipeline
from .exceptions import RulesetConflict, RulesetNotEditable, WorkflowError
from .models import (
    DEFAULT_EXCLUDED_TITLES,
    DEFAULT_FAST_TRACK,
    DEFAULT_REQUIRED_FIELDS,
    DEFAULT_SQL_CHECKLIST,
    Rule,
    RuleKind,
    RuleOperator,
    Ruleset,
    RulesetApproval,
    RulesetComment,
    RulesetHistory,
    RulesetStatus,
)
from .selectors import (
    DEFINITION_FIELDS,
    RULE_FIELDS,
    document_diff,
    published_ruleset,
    ruleset_document,
)
from .versioning import revision_check

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
_WORKFLOW_FIELDS = [
    "id",
    "number",
    "status",
    "revision",
    "based_on",
    "created_by",
    "proposed_by",
    "proposed_at",
    "publish_at",
    "published_by",
    "published_at",
    "created",
    "updated",
]
# Keys a rule may carry besides RULE_FIELDS: its id (kept) and its position (the list order wins).
_RULE_EXTRA_KEYS = {"id", "position"}
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
def _memberships(user) -> list[tuple[str, str]]:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(Membership.objects.filter(user=user).values_list("team__kind", "role"))


def can_edit_rulesets(user) -> bool:
    """Whether ``user`` may create and edit drafts, propose them and comment."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return user.has_perm("scoring.change_ruleset") and any(
        kind in EDITOR_TEAMS and role in (Role.MEMBER, Role.LEAD) for kind, role in _memberships(user)
    )


def approver_team_kinds(user) -> set[str]:
    """The teams (marketing, sales) ``user`` approves for: those they lead, given the permission."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    if not user.has_perm("scoring.approve_ruleset"):
        return set()
    return {kind for kind, role in _memberships(user) if role == Role.LEAD and kind in APPROVER_TEAMS}


def _require_editor(user, what: str) -> None:
    if not can_edit_rulesets(user):
        raise PermissionDenied(
            f"Only members and leads of a marketing, sales, BDR/SDR or revenue-operations team may {what}."
        )


def _require_perm(user, perm: str, what: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what}: it needs the {perm} permission (team leads).")


# --- small helpers --------------------------------------------------------------------------------
def _lock(ruleset: Ruleset) -> Ruleset:
    """The version's row, locked for this transaction and fresh from the database."""
    return Ruleset.objects.select_for_update().get(pk=ruleset.pk)


def _sync(target: Ruleset, source: Ruleset) -> Ruleset:
    """Copy the saved state into the caller's instance, so it is not left stale."""
    if target is not source:
        for field in Ruleset._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))
    return target


def _history(ruleset: Ruleset, user, action: str, detail: dict | None = None) -> RulesetHistory:
    actor = user if user is not None and getattr(user, "is_authenticated", False) else None
    return RulesetHistory.objects.create(ruleset=ruleset, actor=actor, action=action, detail=detail or {})


def _save_audited(ruleset: Ruleset, user, before: dict) -> None:
    ruleset.save()
    change_record_create(
        actor=user, action=ChangeAction.UPDATE, instance=ruleset, before=before, after=model_snapshot(ruleset)
    )


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.datetime | datetime.date) else value


def _state(ruleset: Ruleset) -> str:
    return RulesetStatus(ruleset.status).label.lower()


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


def _number(value: Any, *, allow_none: bool = False) -> float | None:
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


def _integer(value: Any, *, allow_none: bool = False) -> int | None:
    number = _number(value, allow_none=allow_none)
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
                cleaned[key] = _number(value, allow_none=key == "recycle_engagement_below")
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
            low = _number(value.get("min"), allow_none=True)
            high = _number(value.get("max"), allow_none=True)
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
        rule["points"] = _number(rule.get("points"))
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
        ("min_count", _integer, False, lambda v: v < 1, "At least 1."),
        ("window_days", _integer, True, lambda v: v < 1, "At least 1 day (leave it empty for all history)."),
        ("cap", _number, True, lambda v: v < 0, "Must not be negative: it caps points in absolute value."),
        ("half_life_days", _number, True, lambda v: v <= 0, "Must be above 0 (leave it empty for no decay)."),
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
    _require_editor(user, "create drafts")
    source = based_on or published_ruleset()
    if source is not None:
        fields = {f: copy.deepcopy(getattr(source, f)) for f in DEFINITION_FIELDS}
    else:
        fields = _definition_defaults()
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationError({"name": ["A name of 1 to 200 characters is required."]})
        fields["name"] = name
    for _attempt in range(5):
        number = (Ruleset.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                draft = Ruleset.objects.create(
                    number=number,
                    based_on=source,
                    status=RulesetStatus.DRAFT,
                    revision=1,
                    created_by=user,
                    **fields,
                )
            break
        except IntegrityError:  # someone took the number at the same moment: take the next one
            continue
    else:  # pragma: no cover - five collisions in a row
        raise WorkflowError("Could not number the new draft: try again.")
    rules = []
    if source is not None:
        for rule in source.rules.order_by("position", "id"):
            values = {f: copy.deepcopy(getattr(rule, f)) for f in RULE_FIELDS if f != "campaign"}
            rules.append(Rule(ruleset=draft, position=rule.position, campaign_id=rule.campaign_id, **values))
    Rule.objects.bulk_create(rules)
    change_record_create(actor=user, action=ChangeAction.CREATE, instance=draft, after=model_snapshot(draft))
    _history(
        draft,
        user,
        "created",
        {"based_on": source.number if source else None, "rules": len(rules)},
    )
    return draft


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
    _require_editor(user, "edit drafts")
    locked = _lock(ruleset)
    if not locked.is_editable:
        raise RulesetNotEditable(
            f"v{locked.number} is {_state(locked)}: only drafts can be edited. Create a new draft from it."
        )
    revision_check(
        locked=locked,
        expected_revision=expected_revision,
        label=f"v{locked.number}",
        conflict=RulesetConflict,
    )
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

    before_doc, before = ruleset_document(locked), model_snapshot(locked)
    for key, value in cleaned.items():
        setattr(locked, key, value)
    rule_changes = _rules_replace(locked, user, cleaned_rules) if cleaned_rules is not None else 0
    after_settings = {f: getattr(locked, f) for f in DEFINITION_FIELDS}
    settings_changed = any(before_doc[f] != after_settings[f] for f in DEFINITION_FIELDS)
    if not settings_changed and not rule_changes:
        return _sync(ruleset, locked)  # nothing to do: same revision, no history
    locked.revision += 1
    locked.full_clean(validate_unique=False, validate_constraints=False)
    _save_audited(locked, user, before)
    diff = document_diff(before_doc, ruleset_document(locked))
    _history(locked, user, "edited", {"revision": locked.revision, **diff})
    return _sync(ruleset, locked)


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
    _require_editor(user, "delete drafts")
    locked = _lock(ruleset)
    if not locked.is_editable:
        raise RulesetNotEditable(f"v{locked.number} is {_state(locked)}: only drafts can be deleted.")
    if locked.created_by_id != user.pk and not (
        user.has_perm("scoring.publish_ruleset") or user.has_perm("scoring.delete_ruleset")
    ):
        raise PermissionDenied("Only the draft's author or a team lead may delete it.")
    try:
        object_delete(instance=locked, actor=user)
    except ProtectedError as exc:
        raise WorkflowError(f"v{locked.number} is referenced by scores and cannot be deleted.") from exc


@transaction.atomic
def ruleset_comment_add(*, ruleset: Ruleset, user, body: str) -> RulesetComment:
    """Comment on any version (drafts, proposals, even published ones)."""
    _require_editor(user, "comment on versions")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write something."]})
    if len(body) > 10_000:
        raise ValidationError({"body": ["At most 10,000 characters."]})
    comment = RulesetComment.objects.create(ruleset=ruleset, author=user, body=body)
    change_record_create(
        actor=user, action=ChangeAction.CREATE, instance=comment, after=model_snapshot(comment)
    )
    _history(ruleset, user, "commented", {"comment": comment.pk})
    return comment


# --- proposal and approval --------------------------------------------------------------------------
@transaction.atomic
def ruleset_propose(*, ruleset: Ruleset, user) -> Ruleset:
    """Ask the marketing and sales leads to approve a draft; it is frozen while proposed."""
    _require_editor(user, "propose versions")
    locked = _lock(ruleset)
    if locked.status != RulesetStatus.DRAFT:
        raise WorkflowError(f"v{locked.number} is {_state(locked)}: only a draft can be proposed.")
    if not locked.rules.exists():
        raise WorkflowError(f"v{locked.number} has no rules yet: add some before proposing it.")
    before = model_snapshot(locked)
    locked.approvals.all().delete()
    locked.status = RulesetStatus.PROPOSED
    locked.proposed_by, locked.proposed_at = user, timezone.now()
    _save_audited(locked, user, before)
    _history(locked, user, "proposed", {"revision": locked.revision})
    return _sync(ruleset, locked)


@transaction.atomic
def ruleset_withdraw(*, ruleset: Ruleset, user) -> Ruleset:
    """Take a proposed, approved or scheduled version back to draft; its approvals are cleared."""
    _require_editor(user, "withdraw proposals")
    locked = _lock(ruleset)
    allowed = (RulesetStatus.PROPOSED, RulesetStatus.APPROVED, RulesetStatus.SCHEDULED)
    if locked.status not in allowed:
        raise WorkflowError(
            f"v{locked.number} is {_state(locked)}: only a proposed, approved or scheduled version can be "
            "withdrawn to draft."
        )
    before, previous = model_snapshot(locked), locked.status
    cleared = locked.approvals.count()
    locked.approvals.all().delete()
    locked.status = RulesetStatus.DRAFT
    locked.proposed_by = locked.proposed_at = locked.publish_at = None
    _save_audited(locked, user, before)
    _history(locked, user, "withdrawn", {"from": previous, "approvals_cleared": cleared})
    return _sync(ruleset, locked)


@transaction.atomic
def ruleset_approve(*, ruleset: Ruleset, user) -> RulesetApproval:
    """A marketing or sales lead approves a proposed version for their team; both → APPROVED.

    The proposer may not approve (four eyes); one approval per person, one needed per team.
    """
    kinds = approver_team_kinds(user)
    if not kinds:
        raise PermissionDenied("Only a lead of a marketing or a sales team may approve a version.")
    locked = _lock(ruleset)
    if locked.status != RulesetStatus.PROPOSED:
        raise WorkflowError(f"v{locked.number} is {_state(locked)}: only a proposed version can be approved.")
    if locked.proposed_by_id == user.pk:
        raise PermissionDenied(f"Four eyes: you proposed v{locked.number}, so another lead must approve it.")
    approvals = list(locked.approvals.all())
    if any(a.user_id == user.pk for a in approvals):
        raise WorkflowError(f"You already approved v{locked.number}.")
    done = {a.team_kind for a in approvals}
    open_kinds = sorted(kinds - done)
    if not open_kinds:
        missing = [TeamKind(k).label.lower() for k in APPROVER_TEAMS if k not in done]
        raise WorkflowError(
            f"{' and '.join(TeamKind(k).label for k in sorted(kinds))} already approved v{locked.number}; "
            f"it still needs a {' and a '.join(missing)} lead's approval."
        )
    approval = RulesetApproval.objects.create(ruleset=locked, user=user, team_kind=open_kinds[0])
    change_record_create(
        actor=user, action=ChangeAction.CREATE, instance=approval, after=model_snapshot(approval)
    )
    _history(locked, user, "approval", {"team_kind": approval.team_kind})
    if set(APPROVER_TEAMS) <= done | {approval.team_kind}:
        before = model_snapshot(locked)
        locked.status = RulesetStatus.APPROVED
        _save_audited(locked, user, before)
        _history(locked, user, "approved", {"approvals": sorted(done | {approval.team_kind})})
    _sync(ruleset, locked)
    return approval


@transaction.atomic
def ruleset_reject(*, ruleset: Ruleset, user, reason: str) -> Ruleset:
    """An approver sends a proposed (or approved) version back to draft, saying why."""
    if not approver_team_kinds(user):
        raise PermissionDenied("Only a lead of a marketing or a sales team may reject a version.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why, so the editors know what to change."]})
    locked = _lock(ruleset)
    if locked.status not in (RulesetStatus.PROPOSED, RulesetStatus.APPROVED):
        raise WorkflowError(
            f"v{locked.number} is {_state(locked)}: only a proposed or approved version can be rejected."
        )
    before, previous = model_snapshot(locked), locked.status
    locked.approvals.all().delete()
    locked.status = RulesetStatus.DRAFT
    locked.proposed_by = locked.proposed_at = None
    _save_audited(locked, user, before)
    comment = RulesetComment.objects.create(ruleset=locked, author=user, body=f"Rejected: {reason}")
    change_record_create(
        actor=user, action=ChangeAction.CREATE, instance=comment, after=model_snapshot(comment)
    )
    _history(locked, user, "rejected", {"from": previous, "reason": reason, "comment": comment.pk})
    return _sync(ruleset, locked)


# --- publication ------------------------------------------------------------------------------------
def _rescore_all(*, user, reason: str) -> None:

    pipeline.full_rescore_schedule(user=user, reason=reason)


def _publish_now(locked: Ruleset, user, *, action: str, reason: str) -> Ruleset:
    """Supersede the published version and publish ``locked``; rescore after commit."""
    now = timezone.now()
    previous = (
        Ruleset.objects.select_for_update()
        .filter(status=RulesetStatus.PUBLISHED)
        .exclude(pk=locked.pk)
        .first()
    )
    if previous is not None:
        before = model_snapshot(previous)
        previous.status = RulesetStatus.SUPERSEDED
        _save_audited(previous, user, before)
        _history(previous, user, "superseded", {"by": locked.number, "rollback": action == "rolled_back"})
    before = model_snapshot(locked)
    locked.status = RulesetStatus.PUBLISHED
    locked.published_at = now
    if user is not None:
        locked.published_by = user
    locked.publish_at = None
    _save_audited(locked, user, before)
    _history(locked, user, action, {"replaces": previous.number if previous else None})
    actor = user if user is not None else locked.published_by
    transaction.on_commit(lambda: _rescore_all(user=actor, reason=reason))
    return locked


@transaction.atomic
def ruleset_publish(*, ruleset: Ruleset, user, at: datetime.datetime | None = None) -> Ruleset:
    """Publish an approved version now, or schedule it for ``at`` (a future time).

    ``user=None`` is the due-task publishing a scheduled version. The previously published version is
    superseded; a full rescore is scheduled once the transaction commits.
    """
    if user is not None:
        _require_perm(user, "scoring.publish_ruleset", "publish versions")
    locked = _lock(ruleset)
    allowed = (
        (RulesetStatus.APPROVED, RulesetStatus.SCHEDULED) if user is not None else (RulesetStatus.SCHEDULED,)
    )
    if locked.status not in allowed:
        raise WorkflowError(
            f"v{locked.number} is {_state(locked)}: only a version approved by both a marketing and a sales "
            "lead can be published."
        )
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at)
    if user is not None and at is not None and at > timezone.now():
        before = model_snapshot(locked)
        locked.status = RulesetStatus.SCHEDULED
        locked.publish_at = at
        locked.published_by = user
        _save_audited(locked, user, before)
        _history(locked, user, "scheduled", {"publish_at": _json(at)})
        return _sync(ruleset, locked)
    _publish_now(locked, user, action="published", reason=f"v{locked.number} published")
    return _sync(ruleset, locked)


@transaction.atomic
def ruleset_rollback(*, target: Ruleset, user) -> Ruleset:
    """Publish an earlier, previously published (superseded) version again; it is not changed."""
    _require_perm(user, "scoring.publish_ruleset", "roll back versions")
    locked = _lock(target)
    if locked.status == RulesetStatus.PUBLISHED:
        raise WorkflowError(f"v{locked.number} is already the published version.")
    if locked.status != RulesetStatus.SUPERSEDED or locked.published_at is None:
        raise WorkflowError(
            f"v{locked.number} is {_state(locked)}: only a version that was published before can be restored."
        )
    _publish_now(locked, user, action="rolled_back", reason=f"rolled back to v{locked.number}")
    return _sync(target, locked)


def rulesets_publish_due(*, now: datetime.datetime | None = None) -> int:
    """Publish the scheduled versions whose time has come, oldest first; return how many.

    Safe to run concurrently and repeatedly: each version is re-checked under a row lock.
    """
    now = now or timezone.now()
    due = list(
        Ruleset.objects.filter(status=RulesetStatus.SCHEDULED, publish_at__lte=now)
        .order_by("publish_at", "number")
        .values_list("pk", flat=True)
    )
    published = 0
    for pk in due:
        with transaction.atomic():
            ruleset = (
                Ruleset.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=RulesetStatus.SCHEDULED, publish_at__lte=now)
                .first()
            )
            if ruleset is None:
                continue  # withdrawn, or another worker has it
            ruleset_publish(ruleset=ruleset, user=None)
            published += 1
    return published


@shared_task(name="scoring.tasks.rulesets_publish_due_task")
def rulesets_publish_due_task() -> int:
    """Periodic (celery beat, every minute): publish scheduled versions that are due."""
    return rulesets_publish_due()
