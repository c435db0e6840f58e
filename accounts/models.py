"""The revenue team's world: accounts, contacts, personas, opportunities and engagement events, and the CRM
reference records they name: channels and campaigns."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django_countries import countries
from django_countries.fields import CountryField

from revops.models import BaseModel

from .choices import (
    BuyingRole,
    CampaignGoal,
    Department,
    EventSource,
    EventType,
    LifecycleStage,
    OpportunityStage,
    Seniority,
)
from .normalize import normalize_email


def email_validate(value: str) -> None:
    """An e-mail address ``normalize_email`` takes (unicode local parts and domains included)."""
    try:
        normalize_email(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class Technology(BaseModel):
    """A technology an account uses (technographics), e.g. Salesforce, Snowflake."""

    name = models.CharField(max_length=100, unique=True)
    category = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "technologies"

    def __str__(self) -> str:
        return self.name


class Account(BaseModel):
    """A company we sell to, with its firmographics and technographics."""

    name = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(
        max_length=253, unique=True, null=True, blank=True, help_text="Normalised: lower case, no www."
    )
    industry = models.CharField(max_length=100, blank=True, db_index=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True, help_text="US dollars a year."
    )
    founded_year = models.PositiveSmallIntegerField(null=True, blank=True)
    country = CountryField(blank=True, db_index=True)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="subsidiaries"
    )
    technologies = models.ManyToManyField(Technology, blank=True, related_name="accounts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_accounts",
    )
    owner_team = models.ForeignKey(
        "revops.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_accounts"
    )
    custom = models.JSONField(default=dict, blank=True, help_text="Custom attributes.")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annual_revenue__isnull=True) | Q(annual_revenue__gte=0),
                name="account_annual_revenue_not_negative",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="account_not_own_parent"),
        ]
        indexes = [
            models.Index(fields=["employee_count"], name="account_employees_idx"),
            # ``industry=…`` is case-insensitive (``iexact``: UPPER(industry) = UPPER(…)).
            models.Index(Upper("industry"), name="account_industry_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Persona(BaseModel):
    """A buying-committee archetype, and the criteria that map contacts to it."""

    name = models.CharField(max_length=100, unique=True)
    biography = models.TextField(blank=True)
    demographics = models.TextField(blank=True)
    behaviours = models.TextField(blank=True)
    interests = models.TextField(blank=True)
    needs = models.TextField(blank=True)
    pain_points = models.TextField(blank=True)
    buying_role = models.CharField(max_length=32, choices=BuyingRole.choices, default=BuyingRole.INFLUENCER)
    match_titles = models.JSONField(
        default=list, blank=True, help_text='Title keywords, e.g. ["cmo", "head of marketing"].'
    )
    match_seniorities = models.JSONField(default=list, blank=True, help_text=f"Any of {Seniority.values}.")
    match_departments = models.JSONField(default=list, blank=True, help_text=f"Any of {Department.values}.")
    required_in_buying_team = models.BooleanField(
        default=False, help_text="A buying team is incomplete without this persona."
    )
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower wins when several match.")

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class Contact(BaseModel):
    """A person, usually at an account (free-mail sign-ups may have none)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="contacts"
    )
    # Not an EmailField: Django's validator takes ASCII local parts only, and "zoë.müller@beispiel.de" is
    # a real address. normalize_email is the one rule, here as in the API, ingestion and imports.
    email = models.CharField(
        max_length=254, unique=True, validators=[email_validate], help_text="Normalised to lower case."
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    seniority = models.CharField(max_length=16, choices=Seniority.choices, default=Seniority.UNKNOWN)
    department = models.CharField(max_length=16, choices=Department.choices, default=Department.OTHER)
    country = CountryField(blank=True)
    persona = models.ForeignKey(
        Persona, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    # Indexed with the id (Meta): the lists filter by stage and page by id.
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_contacts",
    )
    owner_team = models.ForeignKey(
        "revops.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_contacts"
    )
    custom = models.JSONField(default=dict, blank=True, help_text="Custom attributes.")

    class Meta:
        ordering = ["email"]
        # The API pages by id, newest first (cursor): a filter on a column of a few values that matches
        # few rows (a rare stage, a country with no contacts) reads the (column, id) index backwards
        # instead of walking the whole table by id. Creation time: the funnel's new leads in a window.
        indexes = [
            models.Index(fields=["lifecycle_stage", "id"], name="contact_stage_id_idx"),
            models.Index(fields=["country", "id"], name="contact_country_id_idx"),
            models.Index(fields=["department", "id"], name="contact_department_id_idx"),
            models.Index(fields=["seniority", "id"], name="contact_seniority_id_idx"),
            models.Index(fields=["created"], name="contact_created_idx"),
        ]

    def __str__(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return f"{full} <{self.email}>" if full else self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Product(BaseModel):
    """Something we sell, with its list price."""

    name = models.CharField(max_length=100, unique=True)
    key = models.CharField(
        max_length=100, unique=True, help_text="Loose matching key: 'GTX Pro' == 'GTXPro'."
    )
    series = models.CharField(max_length=100, blank=True)
    list_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SalesAgent(BaseModel):
    """A seller as named in the CRM (who may not have a login here), with manager and office."""

    name = models.CharField(max_length=100, unique=True)
    manager = models.CharField(max_length=100, blank=True)
    regional_office = models.CharField(max_length=100, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="sales_agent"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- CRM reference records: channels and campaigns ---------------------------------------------------
# Events, opportunities and scoring rules name them, so they live beside those (as a CRM keeps Campaign
# beside Opportunity). What is *done* with them (pages, measurement, segments, plans, playbooks) is the
# campaigns app's, a layer above. The tables keep the names they had when the campaigns app held them.


class Channel(BaseModel):
    """A pipeline channel: inbound, outbound, events, partners, upsell, direct, or one of your own."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        db_table = "campaigns_channel"
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
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text="Spent so far: the sum of its cost lines, if any.",
    )
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    owner_team = models.ForeignKey(
        "revops.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )

    class Meta:
        db_table = "campaigns_campaign"
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0), name="campaign_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="campaign_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignCost(models.Model):
    """What a campaign cost in one month (media, events, agencies): its costs over time."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="cost_lines")
    month = models.DateField(help_text="The first day of the month.")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "campaigns_campaigncost"
        ordering = ["campaign", "month"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "month"], name="campaign_cost_month_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_cost_line_not_negative"),
            models.CheckConstraint(condition=Q(month__day=1), name="campaign_cost_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.month:%Y-%m}: {self.amount}"


class CampaignKey(models.Model):
    """A value that ties incoming events to a campaign: a UTM campaign, an e-mail id or an ad id."""

    class Kind(models.TextChoices):
        UTM_CAMPAIGN = "utm_campaign", "UTM campaign"
        EMAIL_ID = "email_id", "E-mail id"
        AD_ID = "ad_id", "Ad id"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=200, help_text="Compared case-insensitively (stored lower-case).")

    class Meta:
        db_table = "campaigns_campaignkey"
        ordering = ["campaign", "kind", "value"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="campaign_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


# --- deals and engagement ------------------------------------------------------------------------------


class Opportunity(BaseModel):
    """A deal. Real CRM exports have orphans, so the account is optional."""

    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True, help_text="CRM id.")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="opportunities"
    )
    name = models.CharField(max_length=200)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="opportunities"
    )
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    stage = models.CharField(
        max_length=16, choices=OpportunityStage.choices, default=OpportunityStage.PROSPECTING
    )
    created_date = models.DateField(null=True, blank=True, help_text="When it was opened.")
    engaged_date = models.DateField(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="opportunities"
    )
    source_campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities"
    )
    sales_agent = models.ForeignKey(
        SalesAgent, on_delete=models.PROTECT, null=True, blank=True, related_name="opportunities"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
    )

    class Meta:
        ordering = ["-created_date", "-id"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="opportunity_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(close_date__isnull=True)
                | Q(engaged_date__isnull=True)
                | Q(close_date__gte=models.F("engaged_date")),
                name="opportunity_close_after_engage",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "created_date"], name="opportunity_account_idx"),
            models.Index(fields=["stage"], name="opportunity_stage_idx"),
            models.Index(fields=["-created_date", "-id"], name="opportunity_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage not in (OpportunityStage.WON, OpportunityStage.LOST)


class EngagementEvent(BaseModel):
    """One engagement or intent signal, written once and deduplicated by the client's message id."""

    # Unique through a constraint rather than unique=True: PostgreSQL then skips the extra
    # varchar_pattern_ops index that nothing here searches by prefix, one index less per insert.
    message_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    # The composite (fk, occurred_at) indexes below serve every lookup by these keys.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="events", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="events", db_index=False
    )
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.FIRST_PARTY)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,  # partial index below: most events carry no campaign
    )
    url = models.TextField(blank=True)
    topic = models.CharField(max_length=200, blank=True, help_text="Intent keyword or topic.")
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="event_message_id_unique"),
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(contact__isnull=False),
                name="event_has_account_or_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="event_account_time_idx"),
            # Partial: anonymous events (no contact) and campaign-less ones are most of the
            # table; leaving them out keeps the indexes small and inserts cheap.
            models.Index(
                fields=["contact", "occurred_at"],
                name="event_contact_time_idx",
                condition=Q(contact__isnull=False),
            ),
            # With the id: a campaign's events page by id, and its count is read from the index alone.
            models.Index(
                fields=["campaign", "id"], name="event_campaign_id_idx", condition=Q(campaign__isnull=False)
            ),
            # The events list by type, newest first: a rare type (a demo request) without a table walk.
            models.Index(fields=["event_type", "id"], name="event_type_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class AccountActivityDaily(models.Model):
    """Events folded per account, UTC day, event type and key (intent topic or URL path).

    Anonymous activity resolved to the account counts here too. Features read these, never raw events.

    The rollups' references have no database constraint, unlike the events': every rollup row is folded
    from events written by the same statement (``accounts/ingest.py``), whose own foreign keys are checked
    and lock the accounts and contacts they name (``FOR KEY SHARE``) until the batch commits, so the rollup
    names only rows that exist, and deleting one (the ORM's ``CASCADE``) takes its rollups with it. A
    checked constraint here was a second row-by-row check at every commit of ids the events' checks had
    just locked: ~15% of the database's CPU per batch of 1,000 events (docs/benchmarks.md, ``ingest``).
    """

    # The unique constraint leads with it. No database constraint: see the class's docstring.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="daily_activity", db_index=False, db_constraint=False
    )
    day = models.DateField()
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    key = models.CharField(max_length=200, blank=True)
    count = models.PositiveIntegerField(default=0)
    known_count = models.PositiveIntegerField(default=0, help_text="Of which by a known contact.")

    objects = models.Manager()

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "account daily activity"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "event_type", "key"], name="account_activity_daily_unique"
            )
        ]
        # The dashboard's events per day and type read this index alone (the count is in it).
        indexes = [
            models.Index(
                fields=["day", "event_type"], include=["count"], name="account_activity_day_count_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.event_type} {self.key}: {self.count}"


class ContactActivityDaily(models.Model):
    """Events of one known contact folded per UTC day, event type and key."""

    # Both keys lead an index below (the unique constraint, contact_activity_account_idx). No database
    # constraints: folded from checked events, as AccountActivityDaily's.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="daily_activity", db_index=False, db_constraint=False
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="contact_daily_activity",
        db_index=False,
        db_constraint=False,
    )
    day = models.DateField()
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    key = models.CharField(max_length=200, blank=True)
    count = models.PositiveIntegerField(default=0)

    objects = models.Manager()

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "contact daily activity"
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "day", "event_type", "key"], name="contact_activity_daily_unique"
            )
        ]
        indexes = [models.Index(fields=["account", "day"], name="contact_activity_account_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.day} {self.event_type} {self.key}: {self.count}"


# --- routing: who owns a new account or lead ------------------------------------------------------------
class Territory(BaseModel):
    """A routing rule: accounts in these countries, industries and size range go to a team (and a
    user, or the team's members in turn). Rules are tried by ``priority``, lowest first; an empty
    criterion matches everything (a territory with none is the catch-all)."""

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveIntegerField(default=100, help_text="Tried in this order, lowest first.")
    active = models.BooleanField(default=True)
    countries = models.JSONField(
        default=list, blank=True, help_text='ISO codes, e.g. ["DE", "AT"]; empty: any.'
    )
    industries = models.JSONField(
        default=list, blank=True, help_text='Industries (case-insensitive), e.g. ["Software"]; empty: any.'
    )
    employees_min = models.PositiveIntegerField(null=True, blank=True, help_text="At least; empty: no floor.")
    employees_max = models.PositiveIntegerField(null=True, blank=True, help_text="At most; empty: no cap.")
    team = models.ForeignKey("revops.Team", on_delete=models.PROTECT, related_name="territories")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="territories",
        help_text="Owner of everything routed here; empty: the team's members in turn (round-robin).",
    )

    class Meta:
        ordering = ["priority", "id"]
        verbose_name_plural = "territories"
        indexes = [models.Index(fields=["priority", "id"], name="territory_order_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(employees_min__isnull=True)
                | Q(employees_max__isnull=True)
                | Q(employees_min__lte=models.F("employees_max")),
                name="territory_employee_range_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not isinstance(self.countries, list) or not all(
            isinstance(c, str) and c.upper() in dict(countries) for c in self.countries
        ):
            errors["countries"] = 'A list of ISO 3166 country codes, e.g. ["DE", "FR"].'
        else:
            self.countries = sorted({c.upper() for c in self.countries})
        if not isinstance(self.industries, list) or not all(
            isinstance(i, str) and i.strip() for i in self.industries
        ):
            errors["industries"] = "A list of industry names."
        else:
            self.industries = [i.strip() for i in self.industries]
        if (
            self.employees_min is not None
            and self.employees_max is not None
            and self.employees_min > self.employees_max
        ):
            errors["employees_max"] = "At least the minimum number of employees."
        if errors:
            raise ValidationError(errors)


class RoutingCursor(models.Model):
    """Where a team's round-robin stands: the number of owners it has handed out so far (the next
    owner is the member at that position, modulo the active members). Locked while assigning."""

    team = models.OneToOneField("revops.Team", on_delete=models.CASCADE, primary_key=True, related_name="+")
    assigned = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "routing cursor"

    def __str__(self) -> str:
        return f"{self.team_id}: {self.assigned}"
