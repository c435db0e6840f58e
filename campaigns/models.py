"""Channels (data, not code) and the campaigns that run in them."""

from django.db import models
from django.db.models import Q

from revops.models import BaseModel

from .choices import CampaignGoal


class Channel(BaseModel):
    """A pipeline channel: inbound, outbound, events, partners, upsell, direct, or one of your own."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Campaign(BaseModel):
    """A marketing or sales program, measured by account engagement, opportunities and pipeline."""

    name = models.CharField(max_length=200, unique=True)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    goal = models.CharField(max_length=32, choices=CampaignGoal.choices, default=CampaignGoal.PIPELINE)
    description = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    owner_team = models.ForeignKey(
        "revops.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="campaign_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name
