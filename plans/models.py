"""Revenue plans: a period's revenue target and the three numbers that turn it into pipeline (win rate,
deal size, sales cycle), each from the opportunity history or overridden with a note, and the plan's split
of the pipeline over channels. A plan is a versioned document (``revops.versioned``): one series of
versions per period and scope (team, segment), one published plan in each.

What the plan *implies* (pipeline and opportunities needed, created a cycle ahead, the quota of each
channel by month, attainment and the forecast) is computed (``plans.engine``, ``plans.selectors``), never
stored: a published plan is its inputs, frozen, and the history figures it was decided on."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q

from revops.models import BaseModel
from revops.versioned import DocumentApproval, DocumentComment, DocumentHistory, VersionedDocument

from .choices import PERIOD_MONTHS, PeriodKind


def month_add(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


class RevenuePlan(VersionedDocument):
    """One version of the revenue plan of a period (and, if wanted, of a team or a segment)."""

    etag_kind = "plan"

    number = models.PositiveIntegerField(help_text="Version number within the plan's period and scope.")
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices, default=PeriodKind.QUARTER)
    period_start = models.DateField(help_text="The period's first day (the first of a month).")
    team = models.ForeignKey(
        "revops.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="revenue_plans",
        help_text="Plan for one team's opportunities (their owners' team); empty: the whole company.",
    )  # fmt: skip
    segment = models.ForeignKey(
        "campaigns.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="revenue_plans",
        help_text="Plan for the opportunities of one segment's accounts; empty: every account.",
    )  # fmt: skip
    scope_key = models.CharField(
        max_length=100, editable=False, db_index=True,
        help_text="Period and scope: the versions of one plan share it.",
    )  # fmt: skip
    revenue_target = models.DecimalField(max_digits=16, decimal_places=2, help_text="Revenue to close.")
    history_start = models.DateField(help_text="First day of the opportunity history the numbers come from.")
    history_end = models.DateField(help_text="Last day of that history.")
    history_figures = models.JSONField(
        default=dict, blank=True,
        help_text="What the history said when the draft was last computed: won, lost, win rate, deal size, "
        "cycle, and per channel.",
    )  # fmt: skip
    win_rate = models.FloatField(null=True, blank=True, help_text="Override (0–1); empty: the history's.")
    win_rate_note = models.CharField(max_length=500, blank=True)
    deal_size = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="Override; empty: the history's."
    )
    deal_size_note = models.CharField(max_length=500, blank=True)
    cycle_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Override (days from created to close); empty: the history's."
    )
    cycle_days_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-period_start", "scope_key", "-number"]
        permissions = [
            ("approve_revenueplan", "Can approve a proposed revenue plan"),
            ("publish_revenueplan", "Can publish a revenue plan"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["scope_key", "number"], name="plan_number_per_scope"),
            models.UniqueConstraint(
                fields=["scope_key"], condition=Q(status="published"), name="one_published_plan_per_scope"
            ),
            models.CheckConstraint(condition=Q(revenue_target__gte=0), name="plan_revenue_not_negative"),
            models.CheckConstraint(
                condition=Q(win_rate__isnull=True) | (Q(win_rate__gt=0) & Q(win_rate__lte=1)),
                name="plan_win_rate_0_1",
            ),
            models.CheckConstraint(
                condition=Q(deal_size__isnull=True) | Q(deal_size__gt=0), name="plan_deal_size_positive"
            ),
            models.CheckConstraint(
                condition=Q(history_end__gte=models.F("history_start")), name="plan_history"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope_label} v{self.number}"

    def save(self, *args, **kwargs):
        self.scope_key = plan_scope_key(
            period_kind=self.period_kind,
            period_start=self.period_start,
            team_id=self.team_id,
            segment_id=self.segment_id,
        )
        super().save(*args, **kwargs)

    @property
    def period_end(self) -> datetime.date:
        return month_add(self.period_start, PERIOD_MONTHS[self.period_kind]) - datetime.timedelta(days=1)

    @property
    def period_label(self) -> str:
        start = self.period_start
        if self.period_kind == PeriodKind.MONTH:
            return start.strftime("%B %Y")
        if start.month in (1, 4, 7, 10):
            return f"Q{(start.month - 1) // 3 + 1} {start.year}"
        return f"{start:%b %Y}–{self.period_end:%b %Y}"

    @property
    def scope_label(self) -> str:
        parts = [self.period_label]
        if self.team_id:
            parts.append(str(self.team))
        if self.segment_id:
            parts.append(str(self.segment))
        return " · ".join(parts)


def plan_scope_key(*, period_kind: str, period_start: datetime.date, team_id, segment_id) -> str:
    """The key the versions of one plan share: period, and team and segment if scoped."""
    key = f"{period_kind}:{period_start:%Y-%m}"
    if team_id:
        key += f":team={team_id}"
    if segment_id:
        key += f":segment={segment_id}"
    return key


class PlanAllocation(BaseModel):
    """A channel's share of the plan's pipeline quota, and how much pipeline it can create at most."""

    plan = models.ForeignKey(RevenuePlan, on_delete=models.CASCADE, related_name="allocations")
    channel = models.ForeignKey("accounts.Channel", on_delete=models.PROTECT, related_name="+")
    share = models.FloatField(help_text="Share of the pipeline quota, 0 to 1; a plan's shares sum to 1.")
    capacity = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True,
        help_text="The most pipeline this channel can create in the period; empty: no cap.",
    )  # fmt: skip
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["plan", "channel__sort_order", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "channel"], name="plan_one_allocation_per_channel"),
            models.CheckConstraint(condition=Q(share__gte=0) & Q(share__lte=1), name="plan_share_0_1"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0), name="plan_capacity_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan}: {self.channel} {self.share:.0%}"


class PlanApproval(DocumentApproval):
    plan = models.ForeignKey(RevenuePlan, on_delete=models.CASCADE, related_name="approvals")

    class Meta:
        ordering = ["created"]
        constraints = [models.UniqueConstraint(fields=["plan", "user"], name="plan_one_approval_per_user")]


class PlanComment(DocumentComment):
    plan = models.ForeignKey(RevenuePlan, on_delete=models.CASCADE, related_name="comments")

    class Meta:
        ordering = ["created"]


class PlanHistory(DocumentHistory):
    plan = models.ForeignKey(RevenuePlan, on_delete=models.CASCADE, related_name="history")

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "plan history"
