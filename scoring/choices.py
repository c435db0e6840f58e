"""The scoring app's choices: rule kinds and operators, delivery statuses, learned-model kinds and
statuses, leakage decisions, buying stages and bands. Version statuses are the core's
(``revops.choices.VersionStatus``): rulesets and policies are versioned documents."""

from django.db import models

from revops.choices import VersionStatus

RulesetStatus = VersionStatus  # the names the code that reads them knows them by
PolicyStatus = VersionStatus


class RuleKind(models.TextChoices):
    FIT = "fit", "Fit"
    ENGAGEMENT = "engagement", "Engagement"


class RuleOperator(models.TextChoices):
    EQUALS = "equals", "equals"
    IN = "in", "is one of"
    CONTAINS = "contains", "contains"
    RANGE = "range", "is between"
    REGEX = "regex", "matches"
    EMAIL_DOMAIN = "email_domain", "e-mail domain is one of"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed (gave up)"


class ScoringModelKind(models.TextChoices):
    IN_MARKET = "in_market", "In market (account)"
    ACCOUNT_FIT = "account_fit", "Account profile fit (look-alike)"
    PERSONA_FIT = "persona_fit", "Contact profile fit (buying-team look-alike)"
    LEAD_CONVERSION = "lead_conversion", "Lead conversion (from a CRM export)"


class ScoringModelStatus(models.TextChoices):
    CHAMPION = "champion", "Champion"
    CHALLENGER = "challenger", "Challenger"
    RETIRED = "retired", "Retired"


class ColumnDecisionKind(models.TextChoices):
    CONFIRMED = "confirmed", "Known before the outcome"
    EXCLUDED = "excluded", "Excluded from training"


class BuyingStage(models.TextChoices):
    TARGET = "target", "Target"
    AWARENESS = "awareness", "Awareness"
    CONSIDERATION = "consideration", "Consideration"
    DECISION = "decision", "Decision"
    PURCHASE = "purchase", "Purchase"


BUYING_STAGE_ORDER = [s.value for s in BuyingStage]


class Band(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


BAND_RANK = {Band.LOW: 0, Band.MEDIUM: 1, Band.HIGH: 2}
