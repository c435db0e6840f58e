"""The demo's revenue plans (``manage.py demo_plans``, run by ``make demo`` after ``demo_users``): this
quarter's plan, computed from the demo opportunities' history and agreed the way the product asks — drafted
and proposed by a marketing lead, approved by a sales lead and the other marketing lead (never the
proposer), published — and next quarter's draft, based on it.

The target is realistic: 1.2 × the revenue won in the last quarter of the history (or, when that quarter won
nothing, a quarter of the year's), rounded; the win rate, deal size, cycle and channel shares are the
history's, so the channel split follows the channels the demo's deals came from. Nothing is written twice:
a quarter that has a company-wide plan already is left as it is."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum

from accounts.choices import OpportunityStage
from accounts.models import Opportunity
from plans import services as plan_services
from plans.choices import PeriodKind
from plans.models import RevenuePlan, month_add, plan_scope_key
from revops.choices import VersionStatus
from revops.exceptions import WorkflowError

# The demo leads of demo_users: one proposes, a sales lead and the other marketing lead approve.
PROPOSER = "marketing"
APPROVERS = ("sales", "marketing2")
PUBLISHER = "sales"
TARGET_GROWTH = Decimal("1.2")  # this quarter: 1.2 × what the last quarter won
NEXT_GROWTH = Decimal("1.1")  # next quarter: 1.1 × this quarter's target


class DemoPlansRefused(Exception):
    pass


@dataclass
class DemoPlans:
    current: RevenuePlan | None = None
    next: RevenuePlan | None = None
    created: list[RevenuePlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def won_revenue(*, start: datetime.date, end: datetime.date) -> Decimal:
    """The amount of the opportunities won (closed) from ``start`` to ``end``, both included."""
    total = Opportunity.objects.filter(stage=OpportunityStage.WON, close_date__range=(start, end)).aggregate(
        total=Sum("amount")
    )["total"]
    return Decimal(total or 0)


def rounded(amount: Decimal) -> Decimal:
    """A target as people write it: to the $10,000 from a million, else to the $1,000."""
    step = Decimal(10_000) if amount >= 1_000_000 else Decimal(1_000)
    return (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def demo_target(period_start: datetime.date) -> tuple[Decimal, str]:
    """1.2 × the revenue won in the quarter before ``period_start``; a quarter of the year's if that quarter
    won nothing. Returns the target and how it was reached, in words."""
    day_before = period_start - datetime.timedelta(days=1)
    last = won_revenue(start=month_add(period_start, -3), end=day_before)
    if last > 0:
        return rounded(TARGET_GROWTH * last), f"1.2 × the ${last:,.0f} won in the quarter before"
    year = won_revenue(start=month_add(period_start, -12), end=day_before)
    return (
        rounded(TARGET_GROWTH * year / 4),
        f"1.2 × a quarter of the ${year:,.0f} won in the year before (the last quarter won nothing)",
    )


def _leads() -> dict[str, object]:
    wanted = {PROPOSER, PUBLISHER, *APPROVERS}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=wanted, is_active=True)}
    missing = sorted(wanted - set(users))
    if missing:
        raise DemoPlansRefused(
            f"The demo leads {', '.join(missing)} do not exist: run `manage.py demo_users` first (the demo's "
            "plans are proposed and approved by its marketing and sales leads)."
        )
    return users


def _company_plan(period_start: datetime.date) -> RevenuePlan | None:
    key = plan_scope_key(
        period_kind=PeriodKind.QUARTER, period_start=period_start, team_id=None, segment_id=None
    )
    plans_of_quarter = RevenuePlan.objects.filter(scope_key=key)
    return (
        plans_of_quarter.filter(status=VersionStatus.PUBLISHED).first()
        or plans_of_quarter.order_by("-number").first()
    )


@transaction.atomic
def demo_plans_seed(*, on: datetime.date) -> DemoPlans:
    """The quarter of ``on``: a published company plan; the next quarter: a draft based on it. A quarter
    with a company plan already keeps it. Refuses (writing nothing) without the demo leads."""
    users = _leads()
    proposer = users[PROPOSER]
    result = DemoPlans()
    this_quarter = quarter_start(on)
    next_quarter = month_add(this_quarter, 3)

    result.current = _company_plan(this_quarter)
    if result.current is not None:
        result.notes.append(f"{result.current} exists already: left as it is.")
    else:
        target, how = demo_target(this_quarter)
        draft = plan_services.plan_draft_create(
            user=proposer,
            period_kind=PeriodKind.QUARTER,
            period_start=this_quarter,
            data={
                "revenue_target": target,
                "description": (
                    f"The demo's plan: a target of {how}, at the win rate, deal size and sales cycle of "
                    "the year's closed opportunities, split over channels as their pipeline and win rates "
                    "suggest."
                ),
            },
        )
        result.created.append(draft)
        result.current = draft
        try:
            plan_services.plan_propose(plan=draft, user=proposer)
            for username in APPROVERS:
                plan_services.plan_approve(plan=draft, user=users[username])
            plan_services.plan_publish(plan=draft, user=users[PUBLISHER])
        except WorkflowError as exc:  # a world without closed deals: nothing to compute the plan from
            result.notes.append(f"{draft} is left a draft: {exc}")
        draft.refresh_from_db()

    result.next = _company_plan(next_quarter)
    if result.next is not None:
        result.notes.append(f"{result.next} exists already: left as it is.")
    else:
        based_on = result.current
        target = rounded(based_on.revenue_target * NEXT_GROWTH)
        draft = plan_services.plan_draft_create(
            user=proposer,
            period_kind=PeriodKind.QUARTER,
            period_start=next_quarter,
            based_on=based_on,
            data={
                "revenue_target": target,
                "description": (
                    "Next quarter's draft: this quarter's target plus 10%, its channel shares, and the "
                    "history of the year before it. Edit it, then propose it for approval."
                ),
            },
        )
        result.created.append(draft)
        result.next = draft
    return result
