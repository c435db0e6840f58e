"""Scores and the rules that decide them.

A ``Ruleset`` is one version of the lifecycle contract between marketing and sales: its ``Rule`` rows
(fit and engagement points) together with the MQL definition, exclusions, fast-track actions and the
SQL checklist. Only drafts change; a published version is immutable and every score, transition and
webhook records the version that produced it.
"""

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.choices import EventType, LifecycleStage
from revops.models import BaseModel
from revops.versioned import DocumentApproval, DocumentComment, DocumentHistory, VersionedDocument
from scoring.choices import (
    Band,
    BuyingStage,
    ColumnDecisionKind,
    DeliveryStatus,
    LifecycleDecision,
    LifecycleReason,
    RuleKind,
    RuleOperator,
    ScoringModelKind,
    ScoringModelStatus,
)
from scoring.engine.words import lifecycle_reason

DEFAULT_SQL_CHECKLIST = [
    "One-to-one conversation held",
    "Role confirmed (decision maker or strong influencer)",
    "Company size fits the ICP",
    "Buying intent and timeline confirmed",
]
DEFAULT_REQUIRED_FIELDS = ["email", "first_name", "last_name", "account"]
DEFAULT_FAST_TRACK = [EventType.DEMO_REQUEST.value, EventType.FREE_TRIAL.value]
# Titles of people who are not buyers: students, interns, job seekers.
DEFAULT_EXCLUDED_TITLES = (
    r"\b(student|intern|internship|mba candidate|job seeker|looking for (a )?(new )?(job|work|opportunit\w*)"
    r"|unemployed|graduate)\b"
)


# Rulesets and policies are versioned documents (``revops.versioned``): their statuses are


class Ruleset(VersionedDocument):
    """One version of the scoring rules and lifecycle definitions."""

    etag_kind = "ruleset"

    # --- the lifecycle definitions -----------------------------------------------------------
    sal_enabled = models.BooleanField(default=True, verbose_name="SAL stage enabled")
    required_fields = models.JSONField(
        default=list, blank=True, help_text="Contact fields an MQL must have, e.g. email, account."
    )
    mql_fit_min = models.FloatField(default=20, verbose_name="MQL: minimum fit points")
    mql_engagement_min = models.FloatField(default=30, verbose_name="MQL: minimum engagement points")
    recycle_engagement_below = models.FloatField(
        null=True,
        blank=True,
        help_text="An MQL whose engagement decays below this is recycled (default: half the MQL minimum).",
    )
    fit_grade_a_min = models.FloatField(default=40, verbose_name="Fit grade A from")
    fit_grade_b_min = models.FloatField(default=20, verbose_name="Fit grade B from")
    engagement_grade_1_min = models.FloatField(default=60, verbose_name="Engagement grade 1 from")
    engagement_grade_2_min = models.FloatField(default=30, verbose_name="Engagement grade 2 from")
    exclude_free_mail = models.BooleanField(default=True, help_text="Disqualify free-mail addresses.")
    excluded_title_pattern = models.CharField(
        max_length=500, blank=True, help_text="Regular expression on titles: students, job seekers."
    )
    excluded_industries = models.JSONField(default=list, blank=True)
    excluded_countries = models.JSONField(default=list, blank=True, help_text="ISO country codes.")
    competitor_domains = models.JSONField(default=list, blank=True)
    fast_track_event_types = models.JSONField(
        default=list, blank=True, help_text="Actions that go straight to SAL (demo request, free trial)."
    )
    sql_checklist = models.JSONField(default=list, blank=True, help_text="What sales confirms for an SQL.")

    class Meta:
        ordering = ["-number"]
        permissions = [
            ("approve_ruleset", "Can approve a proposed ruleset version"),
            ("publish_ruleset", "Can publish or roll back ruleset versions"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="published"), name="ruleset_one_published"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.number} {self.name}"

    @property
    def recycle_below(self) -> float:
        if self.recycle_engagement_below is not None:
            return self.recycle_engagement_below
        return self.mql_engagement_min / 2


class Rule(BaseModel):
    """Points for a fit attribute or an engagement behaviour."""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    # fit: a contact field, ``account.<field>``, ``custom.<key>`` or ``account.custom.<key>``
    field = models.CharField(max_length=200, blank=True)
    operator = models.CharField(max_length=16, choices=RuleOperator.choices, blank=True)
    value = models.JSONField(null=True, blank=True, help_text="A value, a list, or {min, max} for a range.")
    # engagement: which events count
    event_type = models.CharField(max_length=32, choices=EventType.choices, blank=True)
    url_pattern = models.CharField(
        max_length=500, blank=True, help_text="Regular expression on the URL path."
    )
    topic = models.CharField(max_length=200, blank=True, help_text="Intent topic (exact, any case).")
    campaign = models.ForeignKey(
        "accounts.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    min_count = models.PositiveIntegerField(default=1, help_text="Fires from this many events in the window.")
    window_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: all history.")
    points = models.FloatField(help_text="Negative allowed (careers page).")
    repeatable = models.BooleanField(default=False, help_text="Points for every matching event.")
    cap = models.FloatField(null=True, blank=True, help_text="At most this many points (in absolute value).")
    half_life_days = models.FloatField(
        null=True, blank=True, help_text="Decay: an event this many days old counts half."
    )

    class Meta:
        ordering = ["ruleset", "position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+g})"


class RulesetComment(DocumentComment):
    """A comment on a ruleset version."""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="comments")

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"comment by {self.author} on {self.ruleset_id}"


class RulesetApproval(DocumentApproval):
    """A lead's approval of a proposed version, on behalf of their team (marketing or sales)."""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="approvals")

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "user"], name="ruleset_approval_unique")]

    def __str__(self) -> str:
        return f"{self.user} approved {self.ruleset_id} for {self.team_kind}"


class RulesetHistory(DocumentHistory):
    """What happened to a ruleset version, in order: created, edited, proposed, approved, published …"""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="history")

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "ruleset history"

    def __str__(self) -> str:
        return f"{self.ruleset_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


# --- scores ---------------------------------------------------------------------------------------
class ContactScore(models.Model):
    """A contact's current rules score under the version that made it."""

    # Derived rows written a million at a time: no database-level foreign keys (their checks cost a
    # rescore as much as the writes); Django's on_delete still cascades and protects.
    contact = models.OneToOneField(
        "accounts.Contact",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rule_score",
        db_constraint=False,
    )
    ruleset = models.ForeignKey(Ruleset, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    fit = models.FloatField(default=0)
    engagement = models.FloatField(default=0)
    fit_grade = models.CharField(max_length=1, default="C")
    engagement_grade = models.CharField(max_length=1, default="3")
    excluded = models.CharField(max_length=200, blank=True, help_text="Why disqualified, if so.")
    fast_track = models.CharField(max_length=32, blank=True, help_text="The fast-track action seen, if any.")
    # No explanation column: ``scoring.rescore.contact_score_explanation`` recomputes it from the data of
    # ``as_of`` under ``ruleset`` when someone reads it (a million jsonb values cost a rescore more than
    # the scores).
    as_of = models.DateField(null=True, help_text="The day whose data the score used.")
    scored_at = models.DateTimeField()

    class Meta:
        permissions = [("rescore_contacts", "Can start a full rescore")]
        indexes = [models.Index(fields=["fit_grade", "engagement_grade"], name="contact_score_grid_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.grade} ({self.fit:g}/{self.engagement:g})"

    @property
    def grade(self) -> str:
        return f"{self.fit_grade}{self.engagement_grade}"


class ContactScoreHistory(models.Model):
    """Every change of a contact's score, so any past score can be shown and reproduced."""

    contact = models.ForeignKey(
        "accounts.Contact",
        on_delete=models.CASCADE,
        related_name="score_history",
        db_index=False,
        db_constraint=False,  # derived rows: see ContactScore
    )
    ruleset = models.ForeignKey(Ruleset, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    as_of = models.DateField(help_text="The day whose data the score used.")
    scored_at = models.DateTimeField()
    fit = models.FloatField()
    engagement = models.FloatField()
    fit_grade = models.CharField(max_length=1)
    engagement_grade = models.CharField(max_length=1)
    excluded = models.CharField(max_length=200, blank=True)
    explanation = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-scored_at", "-id"]
        verbose_name_plural = "contact score history"
        indexes = [models.Index(fields=["contact", "scored_at"], name="contact_score_hist_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} @ {self.as_of}: {self.fit_grade}{self.engagement_grade}"


class AccountRuleScore(models.Model):
    """Contacts' rules scores rolled up to their account, with anonymous activity resolved to it."""

    account = models.OneToOneField(
        "accounts.Account",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rule_score",
        db_constraint=False,  # derived rows: see ContactScore
    )
    ruleset = models.ForeignKey(Ruleset, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    fit = models.FloatField(default=0)
    engagement = models.FloatField(default=0)
    anonymous_engagement = models.FloatField(default=0)
    fit_grade = models.CharField(max_length=1, default="C")
    engagement_grade = models.CharField(max_length=1, default="3")
    explanation = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account_id}: {self.fit_grade}{self.engagement_grade}"


class LifecycleTransition(models.Model):
    """A contact moving between lifecycle stages: from, to, when, who or which rule, which version, why."""

    contact = models.ForeignKey("accounts.Contact", on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=LifecycleStage.choices)
    to_stage = models.CharField(max_length=16, choices=LifecycleStage.choices)
    # ``at`` and ``ruleset`` need no index of their own, nor ``to_stage`` with ``at``: the lists' indexes
    # (``at, id``), (``ruleset_id, at, id``) and (``to_stage, at, id``) of migration 0019 lead with them, and
    # each index more costs every move a rescore writes.
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(max_length=200, blank=True, help_text="The rule that moved it, if automatic.")
    ruleset = models.ForeignKey(
        Ruleset, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # A person's decision and, for reject and recycle, its reason code (the free text beside it). Blank
    # for automatic moves and for decisions recorded before they were coded; ``db_default`` so that the
    # bulk writers that name their columns (the demo's COPY) need not know them.
    decision = models.CharField(max_length=16, choices=LifecycleDecision.choices, blank=True, db_default="")
    reason_code = models.CharField(max_length=24, choices=LifecycleReason.choices, blank=True, db_default="")
    reason = models.TextField(blank=True)
    checklist = models.JSONField(default=dict, blank=True, help_text="SQL checklist answers.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["decision", "at"], name="transition_decision_at_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.from_stage} → {self.to_stage}"

    @property
    def reason_words(self) -> str:
        """The reason as people read it: an automatic move's reason stored before it was worded for them
        ("engagement 21.4421 ≥ 20") in today's words; a person's reason as written."""
        return lifecycle_reason(self.rule, self.reason, dict(EventType.choices))


class WhatIfRun(BaseModel):
    """A draft replayed over past days against a baseline version (normally the published one)."""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="whatif_runs")
    baseline = models.ForeignKey(Ruleset, on_delete=models.CASCADE, related_name="+")
    days = models.PositiveIntegerField(default=90)
    status = models.CharField(max_length=16, default="pending")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    scope = models.CharField(
        max_length=250, blank=True, help_text="The accounts it was limited to, in words (e.g. a segment)."
    )
    account_ids = models.JSONField(
        null=True, blank=True, help_text="The accounts whose contacts it replayed; empty means every contact."
    )

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"what-if v{self.ruleset_id} vs {self.baseline_id} over {self.days} days"


# --- reacting to changes --------------------------------------------------------------------------
class ScoringOutbox(models.Model):
    """Who changed and needs rescoring; written in the same transaction as the change, drained by a task."""

    created = models.DateTimeField(auto_now_add=True)
    contact_ids = models.JSONField(default=list)
    account_ids = models.JSONField(default=list)
    processed_at = models.DateTimeField(null=True, blank=True)
    # A row that fails is retried with back-off (``scoring.rescore.OUTBOX_BACKOFF``), then parked: it stops
    # being drained, keeps its error in words and waits for a person to replay it; the rest drains meanwhile.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_pending_idx",
                condition=Q(processed_at__isnull=True, parked_at__isnull=True),
            ),
            models.Index(
                fields=["parked_at"], name="outbox_parked_idx", condition=Q(parked_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"outbox {self.pk}: {len(self.contact_ids)} contacts, {len(self.account_ids)} accounts"


class Notification(BaseModel):
    """An in-app notice to a team, or to one person (``user``): a contact became an MQL or an SQL, an
    account of theirs qualified, a version awaits approval … Read marks are per person
    (``NotificationRead``): what I have read, my team may not have."""

    team = models.ForeignKey(
        "revops.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        help_text="Addressed to this person only; empty: to everyone in the team.",
    )
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    account_ids = models.JSONField(
        default=list, blank=True, help_text="The accounts it is about (its link lists exactly these)."
    )

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"], name="notification_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False) | Q(user__isnull=False), name="notification_has_audience"
            )
        ]

    def __str__(self) -> str:
        return self.title


class NotificationRead(models.Model):
    """One person has read one notification (and when): read by me is not read by my team."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notification_read_once_per_user")
        ]
        indexes = [models.Index(fields=["user", "notification"], name="notification_read_user_idx")]

    def __str__(self) -> str:
        return f"{self.notification_id} read by {self.user_id} at {self.read_at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(BaseModel):
    """A team's CRM (or any receiver) that hears about lifecycle changes."""

    team = models.ForeignKey("revops.Team", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="Shared secret for the HMAC-SHA256 signature.")
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every event type.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["team", "name"]

    def __str__(self) -> str:
        return f"{self.team}: {self.name}"


class WebhookDelivery(BaseModel):
    """One event for one endpoint, retried with back-off until delivered or given up."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due_idx",
                condition=Q(status__in=["pending", "retrying"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, the answer, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


class DemoGroundTruth(BaseModel):
    """The demo generator's true propensity of an account, as of a date.

    ``propensity`` is the exact probability, under the generator's process, that the account opens
    an opportunity within ``horizon_days`` after ``as_of``: the best any model could predict.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="ground_truth")
    as_of = models.DateField()
    horizon_days = models.PositiveSmallIntegerField(default=90)
    propensity = models.FloatField()
    fit = models.FloatField(help_text="The generator's latent ICP fit of the account, 0 to 1.")
    in_market = models.BooleanField(default=False, help_text="Whether the account was in a buying cycle.")

    class Meta:
        ordering = ["account", "as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "as_of", "horizon_days"], name="demo_ground_truth_unique"
            )
        ]
        # The backtest reads one date's propensities for a range of accounts, per snapshot date: with
        # the account leading, each read walked every date of those accounts (18 dates at 100,000).
        indexes = [
            models.Index(
                fields=["as_of", "horizon_days", "account"],
                include=["propensity"],
                name="demo_ground_truth_date_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.as_of}: {self.propensity:.3f}"


# --- machine-learned scores -----------------------------------------------------------------------


class ScoringModel(BaseModel):
    """One trained version of a learned score: what it used, how it did in the backtest, its artefact."""

    kind = models.CharField(
        max_length=32, choices=ScoringModelKind.choices, default=ScoringModelKind.IN_MARKET
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ScoringModelStatus.choices, default=ScoringModelStatus.CHALLENGER
    )
    features = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    train_start = models.DateField(null=True, blank=True, help_text="First snapshot date trained on.")
    train_end = models.DateField(null=True, blank=True, help_text="Last snapshot date trained on.")
    horizon_days = models.PositiveSmallIntegerField(default=90)
    metrics = models.JSONField(default=dict, blank=True, help_text="The backtest report.")
    artefact_path = models.CharField(max_length=500, blank=True)
    artefact_sha256 = models.CharField(max_length=64, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trained_at = models.DateTimeField()
    promoted_at = models.DateTimeField(null=True, blank=True, help_text="Last time it became champion.")
    reason = models.TextField(blank=True, help_text="Why it is champion or challenger.")
    # The booster itself lives in the database, so every worker on every machine loads the same bytes.
    artefact = models.BinaryField(editable=False, default=b"")

    class Meta:
        ordering = ["kind", "-version"]
        permissions = [("promote_scoringmodel", "Can promote or roll back a scoring model")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="scoring_model_version_unique"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="champion"), name="scoring_model_one_champion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.status})"

    def artefact_bytes(self) -> bytes:
        """The trained model's bytes stored with the version, checked against their checksum (read them
        as a model with ``scoring.learned.families.fitted_of``)."""
        data = bytes(self.artefact or b"")
        if not data:
            raise ValueError(f"{self} has no stored artefact")
        if hashlib.sha256(data).hexdigest() != self.artefact_sha256:
            raise ValueError(f"{self}: artefact checksum mismatch")
        return data

    @property
    def family(self) -> str:
        """The model family that scores (``xgboost`` for versions trained before there were others)."""
        return (self.params or {}).get("family", "xgboost")


class ColumnDecision(BaseModel):
    """A person's decision on a column (or feature) a leakage check warned about, for one kind of learned
    score: known before the outcome (its warnings are resolved) or excluded from training. Every later
    training of the kind applies it; changing it is audited."""

    kind = models.CharField(max_length=32, choices=ScoringModelKind.choices)
    column = models.CharField(max_length=300)
    decision = models.CharField(max_length=16, choices=ColumnDecisionKind.choices)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="column_decisions",
    )  # fmt: skip

    class Meta:
        ordering = ["kind", "column"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "column"], name="scoring_column_decision_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.column} ({self.get_decision_display().lower()})"


# --- qualified accounts and buying stages ----------------------------------------------------------


class QualificationPolicy(VersionedDocument):
    """One version of what "fits", "in market", "qualified" and each buying stage mean.

    The account-level contract between marketing and sales (a qualified account replaces the MQL), so
    it is versioned as rulesets are: only drafts change, a marketing lead and a sales lead sign a
    proposal off, publishing supersedes the published version and rolling back publishes an earlier one
    again. Every account score and stage transition names its version.
    """

    etag_kind = "policy"

    # Profile fit (0–100) = (1 − w) × look-alike model + w × ICP rules fit (scaled to 0–100).
    icp_weight = models.FloatField(
        default=0.5, help_text="Weight of the ICP criteria (rules fit) in the account profile fit, 0 to 1."
    )
    icp_fit_full = models.FloatField(
        default=60, help_text="Rules fit points that count as a perfect ICP match (100)."
    )
    fit_high_min = models.FloatField(default=65, help_text="Profile fit from which the fit band is high.")
    fit_medium_min = models.FloatField(default=40, help_text="Profile fit from which the fit band is medium.")
    in_market_high_min = models.FloatField(
        default=0.30, help_text="In-market probability from which the band is high."
    )
    in_market_medium_min = models.FloatField(
        default=0.12, help_text="In-market probability from which the band is medium."
    )
    qualified_fit_band = models.CharField(
        max_length=8, choices=[(Band.HIGH, "High"), (Band.MEDIUM, "Medium or high")], default=Band.MEDIUM,
        help_text="A qualified account fits at least this well …",
    )  # fmt: skip
    qualified_in_market_band = models.CharField(
        max_length=8, choices=[(Band.HIGH, "High"), (Band.MEDIUM, "Medium or high")], default=Band.HIGH,
        help_text="… and is at least this much in market.",
    )  # fmt: skip
    # Stages: entry thresholds on the in-market probability, or behaviour that shows the stage.
    awareness_min = models.FloatField(default=0.06, help_text="In market from which an account is aware.")
    consideration_min = models.FloatField(default=0.15)
    decision_min = models.FloatField(default=0.30)
    purchase_min = models.FloatField(default=0.50)
    hysteresis = models.FloatField(
        default=0.03, help_text="An account leaves a stage only when this far below its entry threshold."
    )
    min_days_in_stage = models.PositiveSmallIntegerField(
        default=7,
        help_text="Days an account stays in a stage before it may move (an opportunity is immediate).",
    )

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "qualification policies"
        permissions = [
            ("approve_qualificationpolicy", "Can approve a proposed qualification policy version"),
            ("publish_qualificationpolicy", "Can publish a qualification policy"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="published"), name="one_published_policy"
            ),
            models.CheckConstraint(
                condition=Q(icp_weight__gte=0) & Q(icp_weight__lte=1), name="policy_icp_weight_0_1"
            ),
            models.CheckConstraint(
                condition=Q(fit_medium_min__lte=models.F("fit_high_min")), name="policy_fit_bands_ordered"
            ),
            models.CheckConstraint(
                condition=Q(in_market_medium_min__lte=models.F("in_market_high_min")),
                name="policy_in_market_bands_ordered",
            ),
            models.CheckConstraint(
                condition=Q(awareness_min__lte=models.F("consideration_min"))
                & Q(consideration_min__lte=models.F("decision_min"))
                & Q(decision_min__lte=models.F("purchase_min")),
                name="policy_stage_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} {self.name} ({self.status})"


class PolicyApproval(DocumentApproval):
    """A lead's approval of a proposed policy version, on behalf of their team (marketing or sales)."""

    policy = models.ForeignKey(QualificationPolicy, on_delete=models.CASCADE, related_name="approvals")

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(fields=["policy", "user"], name="policy_approval_unique")]

    def __str__(self) -> str:
        return f"{self.user} approved policy {self.policy_id} for {self.team_kind}"


class PolicyComment(DocumentComment):
    """A comment on a policy version (and the reason a proposal was rejected)."""

    policy = models.ForeignKey(QualificationPolicy, on_delete=models.CASCADE, related_name="comments")

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"comment by {self.author} on policy {self.policy_id}"


class PolicyHistory(DocumentHistory):
    """What happened to a policy version, in order: created, edited, proposed, approved, published …"""

    policy = models.ForeignKey(QualificationPolicy, on_delete=models.CASCADE, related_name="history")

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "policy history"

    def __str__(self) -> str:
        return f"policy {self.policy_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


def _model_version() -> models.ForeignKey:
    """A derived row's reference to the model version that made it: no database constraint (see
    ContactScore) and no index. Versions are never deleted (read-only in admin, no API deletes them) and
    nothing looks scores up by version; each index cost a full rescore's write ~1 s per million rows."""
    return models.ForeignKey(
        ScoringModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip


class AccountModelScore(models.Model):
    """An account's current learned scores: profile fit, in market, qualified, buying stage — with the
    model and policy versions that made them and the top contributions (XGBoost's SHAP values)."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, primary_key=True, related_name="model_score",
        db_constraint=False,  # derived rows: see ContactScore
    )  # fmt: skip
    model = _model_version()
    fit_model = _model_version()
    policy = models.ForeignKey(
        QualificationPolicy, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    as_of = models.DateField(help_text="The day whose data the scores used.")
    profile_fit = models.FloatField(default=0, help_text="0 to 100.")
    fit_band = models.CharField(max_length=8, choices=Band.choices, default=Band.LOW)
    in_market = models.FloatField(
        default=0, help_text="Probability of opening an opportunity in the horizon."
    )
    in_market_band = models.CharField(max_length=8, choices=Band.choices, default=Band.LOW)
    qualified = models.BooleanField(default=False)
    stage = models.CharField(max_length=16, choices=BuyingStage.choices, default=BuyingStage.TARGET)
    stage_since = models.DateTimeField()
    contributions = models.JSONField(
        default=list, blank=True, help_text="[[feature, value, contribution], …], largest first."
    )
    scored_at = models.DateTimeField()

    class Meta:
        permissions = [("rescore_accounts", "Can start account rescoring and model training")]
        indexes = [
            # By stage: ``account_model_stage_rank_idx`` (scoring.0019) leads with it.
            models.Index(fields=["-in_market"], name="account_model_in_market_idx"),
            models.Index(
                fields=["qualified"], condition=Q(qualified=True), name="account_model_qualified_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: fit {self.profile_fit:.0f}, in market {self.in_market:.2f}, {self.stage}"


class AccountModelScoreHistory(models.Model):
    """Every change of an account's learned scores (numbers only; explanations are recomputed on demand
    from the model version and the point-in-time features)."""

    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="model_score_history",
        db_constraint=False,
        db_index=False,  # account_model_history_idx leads with it
    )
    model = _model_version()
    policy = models.ForeignKey(
        QualificationPolicy, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    as_of = models.DateField()
    scored_at = models.DateTimeField()
    profile_fit = models.FloatField()
    in_market = models.FloatField()
    qualified = models.BooleanField()
    stage = models.CharField(max_length=16, choices=BuyingStage.choices)

    class Meta:
        ordering = ["account", "-scored_at", "-id"]
        indexes = [models.Index(fields=["account", "scored_at"], name="account_model_history_idx")]
        verbose_name_plural = "account model score history"

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.as_of}: {self.in_market:.2f}"


class BuyingStageTransition(models.Model):
    """An account moving between buying stages, with the evidence, the versions and when."""

    # No single-column indexes: stage_transition_account_idx and stage_transition_at_id_idx (scoring.0019)
    # lead with them.
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="stage_transitions",
        db_constraint=False,
        db_index=False,
    )
    from_stage = models.CharField(max_length=16, choices=BuyingStage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=BuyingStage.choices)
    at = models.DateTimeField()
    in_market = models.FloatField()
    reason = models.TextField()
    model = _model_version()
    policy = models.ForeignKey(
        QualificationPolicy, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="stage_transition_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_stage or '—'} → {self.to_stage} at {self.at:%Y-%m-%d}"


class ContactModelScore(models.Model):
    """A contact's learned scores: persona fit (looks like past buying-team members), engagement
    compared with previous buyers, and — when a lead-conversion model was trained — its probability."""

    contact = models.OneToOneField(
        "accounts.Contact", on_delete=models.CASCADE, primary_key=True, related_name="model_score",
        db_constraint=False,
    )  # fmt: skip
    model = _model_version()
    persona_fit = models.FloatField(default=0, help_text="0 to 100.")
    engagement_vs_buyers = models.FloatField(
        default=0, help_text="Percentile of the contact's 90-day engagement among past buying-team members."
    )
    conversion_model = _model_version()
    conversion = models.FloatField(
        null=True, blank=True, help_text="Lead-conversion probability, if trained."
    )
    scored_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.contact_id}: persona fit {self.persona_fit:.0f}"
