"""The demo's stage playbooks (``manage.py demo_playbooks``, run by ``make demo`` after ``demo_users``): one
per buying stage with DOMAIN.md's tactics — awareness: a display-ad audience; consideration: a personalised
content hub and the buying team's enrichment; decision: a BDR outbound cadence of 21 touches; purchase: a
meeting booked by the BDR and, failing that, direct mail — drafted and proposed by a marketing lead,
approved by a sales lead and the other marketing lead, published; then the stage entries of the last
``PLAYBOOK_MAX_AGE_DAYS`` are replayed, so the demo's accounts have plays, tasks and a next best action.
A stage with a playbook already keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from playbooks import services
from playbooks.choices import PlayKind, StopCondition
from playbooks.models import Playbook
from playbooks.triggers import plays_trigger
from revops.choices import TeamKind
from scoring.choices import BuyingStage

PROPOSER = "marketing"
APPROVERS = ("sales", "marketing2")
PUBLISHER = "sales"

PLAYS: dict[str, list[dict[str, Any]]] = {
    BuyingStage.AWARENESS: [
        {"name": "Display ads on the account's topic", "kind": PlayKind.DISPLAY_ADS,
         "team_kind": TeamKind.MARKETING, "channel": "events", "due_days": 0, "notify_webhook": True,
         "instructions": "Add the account to the display-ad audience tying the brand to its topic."},
    ],
    BuyingStage.CONSIDERATION: [
        {"name": "Personalised content hub", "kind": PlayKind.CONTENT_HUB, "team_kind": TeamKind.MARKETING,
         "channel": "inbound", "due_days": 5,
         "instructions": "A hub on the keywords the account researches; send the link to its contacts."},
        {"name": "Enrich the buying team", "kind": PlayKind.ENRICH, "team_kind": TeamKind.MARKETING,
         "due_days": 7, "instructions": "Find and add the missing personas of the buying team."},
    ],
    BuyingStage.DECISION: [
        {"name": "BDR outbound cadence", "kind": PlayKind.CADENCE, "team_kind": TeamKind.BDR,
         "channel": "outbound", "touches": 21, "due_days": 28,
         "instructions": "A personalised sequence by role and interest: e-mail, call, LinkedIn."},
    ],
    BuyingStage.PURCHASE: [
        {"name": "Book a meeting", "kind": PlayKind.MEETING, "team_kind": TeamKind.BDR, "channel": "outbound",
         "due_days": 3, "stop_on": StopCondition.OPPORTUNITY,
         "instructions": "Book a meeting with the economic buyer and hand over to sales."},
        {"name": "Direct mail", "kind": PlayKind.DIRECT_MAIL, "team_kind": TeamKind.MARKETING, "due_days": 10,
         "stop_on": StopCondition.OPPORTUNITY,
         "instructions": "If no meeting is booked, send the direct-mail pack."},
    ],
}  # fmt: skip


class DemoPlaybooksRefused(Exception):
    pass


@dataclass
class DemoPlaybooks:
    created: list[Playbook] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trigger: dict[str, Any] = field(default_factory=dict)


def _leads() -> dict[str, Any]:
    wanted = {PROPOSER, PUBLISHER, *APPROVERS}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=wanted, is_active=True)}
    missing = sorted(wanted - set(users))
    if missing:
        raise DemoPlaybooksRefused(
            f"The demo leads {', '.join(missing)} do not exist: run `manage.py demo_users` first (the demo's "
            "playbooks are proposed and approved by its marketing and sales leads)."
        )
    return users


def demo_playbooks_seed() -> DemoPlaybooks:
    """Publish a playbook for each stage without one, then replay the recent stage entries."""
    users = _leads()
    result = DemoPlaybooks()
    with transaction.atomic():
        for stage, plays in PLAYS.items():
            if Playbook.objects.filter(stage=stage, segment__isnull=True).exists():
                result.notes.append(
                    f"The {BuyingStage(stage).label.lower()} playbook exists already: left as it is."
                )
                continue
            draft = services.playbook_draft_create(user=users[PROPOSER], stage=stage, plays=plays)
            services.PLAYBOOKS.propose(document=draft, user=users[PROPOSER])
            for username in APPROVERS:
                services.PLAYBOOKS.approve(document=draft, user=users[username])
            services.PLAYBOOKS.publish(document=draft, user=users[PUBLISHER])
            result.created.append(draft)
    result.trigger = plays_trigger(replay_days=getattr(settings, "PLAYBOOK_MAX_AGE_DAYS", 14))
    return result
