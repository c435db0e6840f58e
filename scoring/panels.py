"""What the scoring app adds to the accounts app's detail pages (``revops.panels``): the stored rules score
with its explanation, and on a contact's page its score changes, lifecycle moves and the decisions the
user is offered. Registered by ``ScoringConfig.ready``; bounded queries only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from accounts.choices import LifecycleStage
from accounts.models import Account, Contact
from revops.panels import panel_register
from scoring.choices import RECYCLE_REASONS, REJECT_REASONS
from scoring.lifecycle import RECYCLABLE_STAGES, can_decide
from scoring.models import ContactScoreHistory, LifecycleTransition, Rule
from scoring.rescore import contact_score_explanation
from scoring.selectors import published_ruleset

SCORE_HISTORY_LIMIT = 20
TRANSITION_LIMIT = 50


@dataclass
class ContactScoring:
    """What the contact page shows of scoring: score changes, lifecycle moves, the decisions allowed."""

    history: list
    transitions: list
    can_decide: bool = False
    actions: list[str] = field(default_factory=list)
    sql_checklist: list[str] = field(default_factory=list)
    published_number: int | None = None
    # (code, label) of the reason codes the reject and recycle forms offer.
    reject_reasons: list[tuple[str, str]] = field(default_factory=list)
    recycle_reasons: list[tuple[str, str]] = field(default_factory=list)


def contact_scoring(*, contact: Contact, user) -> ContactScoring:
    """The contact's last score changes and lifecycle transitions (each with its version), and which
    lifecycle decisions ``user`` is offered for the contact's stage. At most four bounded queries; the
    current score itself comes with the contact (``select_related("rule_score__ruleset")``).
    """
    can_see = user.has_perm("scoring.view_contactscorehistory")
    history = (
        list(
            ContactScoreHistory.objects.filter(contact=contact)
            .select_related("ruleset")
            .only(
                "id", "as_of", "scored_at", "fit", "engagement", "fit_grade", "engagement_grade", "excluded",
                "ruleset__id", "ruleset__number",
            )
            .order_by("-scored_at", "-id")[:SCORE_HISTORY_LIMIT]
        )
        if can_see
        else []
    )  # fmt: skip
    transitions = (
        list(
            LifecycleTransition.objects.filter(contact=contact)
            .select_related("actor", "ruleset")
            .order_by("-at", "-id")[:TRANSITION_LIMIT]
        )
        if user.has_perm("scoring.view_lifecycletransition")
        else []
    )
    scoring = ContactScoring(history=history, transitions=transitions)
    if not can_decide(user):
        return scoring
    published = published_ruleset()
    sal_enabled = published.sal_enabled if published is not None else True
    stage = contact.lifecycle_stage
    actions = []
    if stage == LifecycleStage.MQL and sal_enabled:
        actions.append("accept")
    if stage == LifecycleStage.SAL or (stage == LifecycleStage.MQL and not sal_enabled):
        actions.append("qualify")
    if stage in (LifecycleStage.MQL, LifecycleStage.SAL):
        actions.append("reject")
    if stage in RECYCLABLE_STAGES:
        actions.append("recycle")
    if stage == LifecycleStage.DISQUALIFIED:
        actions.append("reopen")
    scoring.can_decide = True
    scoring.actions = actions
    scoring.reject_reasons = [(str(code), code.label) for code in REJECT_REASONS]
    scoring.recycle_reasons = [(str(code), code.label) for code in RECYCLE_REASONS]
    scoring.sql_checklist = list(published.sql_checklist) if published is not None else []
    scoring.published_number = published.number if published is not None else None
    return scoring


def explanation_rows(explanation) -> list[dict]:
    """A score's explanation (``[[rule id, name, points], …]``) as rows with each rule's kind (fit or
    engagement, one query on the rule ids), largest effect first."""
    rows = []
    for item in explanation or []:
        if isinstance(item, dict):
            rule_id, name, points = item.get("id"), item.get("name") or "", item.get("points")
        elif isinstance(item, list | tuple) and len(item) >= 3:
            rule_id, name, points = item[0], item[1], item[2]
        else:
            continue
        if isinstance(points, int | float):
            # stored before the count agreed with its noun: "Engagement of 1 known contacts"
            name = ONE_KNOWN.sub("1 known contact", str(name))
            rows.append({"rule_id": rule_id, "name": name, "points": float(points), "kind": ""})
    ids = {row["rule_id"] for row in rows if isinstance(row["rule_id"], int)}
    kinds = dict(Rule.objects.filter(pk__in=ids).values_list("pk", "kind")) if ids else {}
    for row in rows:
        row["kind"] = kinds.get(row["rule_id"], "")
    _name_best_contact(rows)
    rows.sort(key=lambda row: -abs(row["points"]))
    return rows


BEST_CONTACT = re.compile(r"^Best-fitting contact #(\d+)$")
ONE_KNOWN = re.compile(r"\b1 known contacts\b")


def _name_best_contact(rows: list[dict]) -> None:
    """An account's "Best-fitting contact #12" (as the engine stores it) named, with a link to the contact."""
    for row in rows:
        match = BEST_CONTACT.match(row["name"])
        if match:
            contact = Contact.objects.filter(pk=int(match[1])).first()
            if contact is not None:
                row["name"] = f"Best-fitting contact: {contact.full_name or contact.email or contact.pk}"
                row["url"] = reverse("accounts:contact_detail", kwargs={"pk": contact.pk})
            row["kind"] = row["kind"] or "fit"


def _related_or_none(obj, name: str):
    """A reverse one-to-one loaded by ``select_related`` (no query), or ``None`` when there is none."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def account_panel(account: Account, user) -> dict[str, Any]:
    """The contacts' rules scores rolled up to the account, loaded with it (``rule_score``)."""
    score = (
        _related_or_none(account, "rule_score") if user.has_perm("scoring.view_accountrulescore") else None
    )
    return {"rule_score": score, "score_explanation": explanation_rows(score.explanation) if score else []}


def contact_panel(contact: Contact, user) -> dict[str, Any]:
    """The contact's rules score (loaded with it), its explanation, history, moves and decisions."""
    score = _related_or_none(contact, "rule_score") if user.has_perm("scoring.view_contactscore") else None
    why = contact_score_explanation(score) if score else {"explanation": [], "current": True}
    return {
        "rule_score": score,
        "score_explanation": explanation_rows(why["explanation"]),
        "score_explanation_current": why["current"],
        "scoring": contact_scoring(contact=contact, user=user),
    }


def panels_register() -> None:
    panel_register("accounts.account", account_panel)
    panel_register("accounts.contact", contact_panel)
