"""Segments (saved sets of accounts, with their membership history) and what campaigns do with them:
the target segment and holdout of a launch, the audience each account was put in, the measurement, and
— for the demo world — the true effect a measurement should recover."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from revops.models import BaseModel

from .choices import AudienceGroup, ControlKind, SegmentKind


class Segment(BaseModel):
    """A named set of accounts: dynamic (criteria, evaluated by ``SegmentCriteriaFilterSet``) or static
    (a list). Its members, with the dates they joined and left, are ``SegmentMembership`` rows."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    criteria = models.JSONField(
        default=dict,
        blank=True,
        help_text='The criteria, as filter name → list of values ({"stage": ["decision"]}).',
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Raised by every change of the criteria (or of a static list)."
    )
    owner_team = models.ForeignKey(
        "revops.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="segments"
    )
    refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0, help_text="Members at the last refresh.")

    class Meta:
        ordering = ["name"]
        permissions = [("refresh_segment", "Can refresh segment membership")]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """An account's stay in a segment: joined, left (empty while a member), and the segment version that
    put it in. "Who was in the segment on 1 March" are the rows joined on or before and not left by then."""

    # No index of their own: ``segment_member_joined_idx`` and ``segment_member_account_idx`` lead with
    # them (a second index would only cost the refreshes' writes and mislead the planner).
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_constraint=False,
        db_index=False,
    )
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField()

    class Meta:
        ordering = ["segment", "-joined_at", "id"]
        indexes = [
            models.Index(fields=["segment", "joined_at"], name="segment_member_joined_idx"),
            models.Index(fields=["account"], name="segment_member_account_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "account"],
                condition=Q(left_at__isnull=True),
                name="segment_member_current",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("joined_at")),
                name="segment_member_leaves_after_joining",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.account_id}"


class CampaignTarget(BaseModel):
    """How a campaign is aimed and measured: its target segment, the share held out, and when it was
    launched (the holdout is drawn then, reproducibly from ``seed``, and recorded in the audience)."""

    campaign = models.OneToOneField("accounts.Campaign", on_delete=models.CASCADE, related_name="target")
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaign_targets"
    )
    holdout_share = models.FloatField(
        default=0.10, help_text="Share of the target segment held out, 0 to 0.5."
    )
    seed = models.BigIntegerField(default=0, help_text="Draws the holdout; the same seed draws the same one.")
    launched_at = models.DateTimeField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    segment_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0) & Q(holdout_share__lte=0.5),
                name="campaign_holdout_share_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.segment_id}"


class CampaignAudience(models.Model):
    """An account the campaign targeted (treated) or held out at launch."""

    # Indexed by campaign_audience_unique and campaign_audience_account_idx, which lead with them.
    campaign = models.ForeignKey(
        "accounts.Campaign", on_delete=models.CASCADE, related_name="audience", db_index=False
    )
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="campaign_audiences",
        db_constraint=False,
        db_index=False,
    )
    group = models.CharField(max_length=8, choices=AudienceGroup.choices)
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["campaign", "account"]
        indexes = [models.Index(fields=["account"], name="campaign_audience_account_idx")]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "account"], name="campaign_audience_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.account_id} ({self.group})"


class CampaignMeasurement(models.Model):
    """A campaign's last measurement: lift against the holdout (or a matched control), reach, pipeline,
    costs. The figures the leaderboard sorts by are columns; the rest (intervals, weekly series, engaged
    accounts) is ``detail``."""

    campaign = models.OneToOneField(
        "accounts.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="measurement"
    )
    measured_at = models.DateTimeField()
    control = models.CharField(max_length=8, choices=ControlKind.choices)
    treated = models.PositiveIntegerField(default=0)
    controls = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    accounts_touched = models.PositiveIntegerField(default=0)
    people_engaged = models.PositiveIntegerField(default=0)
    engagement_lift = models.FloatField(null=True, blank=True, help_text="Events per account-week.")
    engagement_lift_low = models.FloatField(null=True, blank=True)
    engagement_lift_high = models.FloatField(null=True, blank=True)
    engagement_lift_pct = models.FloatField(null=True, blank=True, help_text="Lift as % of the pre level.")
    incremental_opportunities = models.FloatField(null=True, blank=True)
    incremental_pipeline = models.FloatField(null=True, blank=True)
    incremental_mqls = models.FloatField(null=True, blank=True)
    cost_per_incremental_opportunity = models.FloatField(null=True, blank=True)
    cost_per_incremental_pipeline_dollar = models.FloatField(null=True, blank=True)
    sourced_pipeline = models.FloatField(default=0)
    influenced_pipeline = models.FloatField(default=0)
    won_revenue = models.FloatField(default=0)
    mqls = models.PositiveIntegerField(default=0, help_text="People it engaged who became MQL in the window.")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-measured_at"]

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.measured_at:%Y-%m-%d}"


class CampaignGroundTruth(models.Model):
    """The demo generator's true effect of a campaign: what a measurement should recover."""

    campaign = models.OneToOneField(
        "accounts.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="ground_truth"
    )
    engagement_lift = models.FloatField(
        help_text="Extra engaged events per targeted account-week while it runs."
    )
    cycle_multiplier = models.FloatField(
        default=1.0,
        help_text="How much it raised a targeted account's daily chance of starting a buying cycle.",
    )
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.campaign_id}: +{self.engagement_lift:.3f}/account-week"
