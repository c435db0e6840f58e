from django.db import models


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (criteria)"
    STATIC = "static", "Static (a list)"


class AudienceGroup(models.TextChoices):
    TREATED = "treated", "Targeted"
    HOLDOUT = "holdout", "Held out"


class ControlKind(models.TextChoices):
    HOLDOUT = "holdout", "Random holdout"
    MATCHED = "matched", "Matched control"
    NONE = "none", "No control"


class LeaderboardMetric(models.TextChoices):
    ENGAGEMENT_LIFT = "engagement_lift", "Engagement lift"
    INCREMENTAL_PIPELINE = "incremental_pipeline", "Incremental pipeline"
    INCREMENTAL_OPPORTUNITIES = "incremental_opportunities", "Incremental opportunities"
    PIPELINE_PER_DOLLAR = "pipeline_per_dollar", "Incremental pipeline per dollar"
    INFLUENCED_PIPELINE = "influenced_pipeline", "Influenced pipeline"
    SOURCED_PIPELINE = "sourced_pipeline", "Sourced pipeline"
    WON_REVENUE = "won_revenue", "Won revenue"
