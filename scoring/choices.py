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


class LifecycleDecision(models.TextChoices):
    """Which decision of a person a lifecycle transition records (blank: automatic, or recorded before
    decisions were named)."""

    ACCEPT = "accept", "Accepted"
    REJECT = "reject", "Rejected"
    QUALIFY = "qualify", "Qualified"
    RECYCLE = "recycle", "Recycled"
    REOPEN = "reopen", "Reopened"
    IMPORT = "import", "Imported"  # the stage a CSV import brought from another system (a new contact's)


class LifecycleReason(models.TextChoices):
    """Why sales rejected or recycled a lead: a code to count, with free text beside it.

    Modelled on the disqualification reasons CRMs ship (Salesforce's lead status and "unqualified
    reason", HubSpot's lead disqualification reasons): BANT gaps, not the ideal customer, the wrong
    person, junk, duplicates, and "not now" for recycling.
    """

    # Reject (MQL or SAL → recycled or disqualified)
    NOT_A_FIT = "not_a_fit", "Not a fit (outside the ICP)"
    WRONG_PERSON = "wrong_person", "Wrong person (no role in buying)"
    NO_BUDGET = "no_budget", "No budget"
    NO_NEED = "no_need", "No need or pain"
    NO_TIMING = "no_timing", "No timing (not buying this year)"
    COMPETITOR = "competitor", "Committed to a competitor"
    JUNK = "junk", "Junk (job seeker, student, vendor, spam)"
    DUPLICATE = "duplicate", "Duplicate"
    BAD_DATA = "bad_data", "Bad data (fake or unreachable)"
    # Recycle (MQL, SAL, SQL or opportunity → recycled)
    NO_RESPONSE = "no_response", "No response"
    TIMING = "timing", "Bad timing (come back later)"
    NURTURE = "nurture", "Early research: needs nurturing"
    STALLED = "stalled", "Deal stalled or went dark"
    # Both
    OTHER = "other", "Other (say why)"


# Which codes each decision takes, in the order forms list them.
REJECT_REASONS = [
    LifecycleReason.NOT_A_FIT,
    LifecycleReason.WRONG_PERSON,
    LifecycleReason.NO_BUDGET,
    LifecycleReason.NO_NEED,
    LifecycleReason.NO_TIMING,
    LifecycleReason.COMPETITOR,
    LifecycleReason.JUNK,
    LifecycleReason.DUPLICATE,
    LifecycleReason.BAD_DATA,
    LifecycleReason.OTHER,
]
RECYCLE_REASONS = [
    LifecycleReason.NO_RESPONSE,
    LifecycleReason.TIMING,
    LifecycleReason.NURTURE,
    LifecycleReason.NO_BUDGET,
    LifecycleReason.STALLED,
    LifecycleReason.OTHER,
]
REASONS_BY_DECISION = {LifecycleDecision.REJECT: REJECT_REASONS, LifecycleDecision.RECYCLE: RECYCLE_REASONS}
# The same as (value, label) choices: the API's request enums, named in the schema (``ENUM_NAME_OVERRIDES``).
REJECT_REASON_CHOICES = [(str(code), code.label) for code in REJECT_REASONS]
RECYCLE_REASON_CHOICES = [(str(code), code.label) for code in RECYCLE_REASONS]
