"""API serializers for the revenue data: explicit fields, normalised natural keys, strict input."""

from django_countries import countries
from django_countries.serializers import CountryFieldMixin
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from revops.api.viewsets import BaseModelSerializer

from ..choices import CLOSED_STAGES, Department, LifecycleStage, Seniority
from ..models import (
    Account,
    Campaign,
    Channel,
    Contact,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
    Territory,
)
from ..normalize import display_domain, display_email, normalize_domain, normalize_email, normalize_key
from ..selectors import account_technology_names, contact_title_defaults


class DomainField(serializers.CharField):
    """A domain, normalised before uniqueness is checked (``WWW.Acme.com`` == ``acme.com``)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value in ("", None):
            return None
        try:
            return normalize_domain(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class UnicodeDomainField(serializers.CharField):
    """The stored (ASCII) domain as people write it, read only: ``xn--bcher-kva.de`` → ``bücher.de``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return display_domain(value)


class UnicodeEmailField(UnicodeDomainField):
    """The stored e-mail address with its domain as people write it, read only."""

    def to_representation(self, value):
        return display_email(value)


class NormalizedEmailField(serializers.CharField):
    """An e-mail address, trimmed and lower-cased before uniqueness is checked."""

    def to_internal_value(self, data):
        try:
            return normalize_email(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class TechnologySerializer(BaseModelSerializer):
    class Meta:
        model = Technology
        fields = ["id", "name", "category", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]


class TechnologyNamesField(serializers.ManyRelatedField):
    """An account's technologies by name; reads the names ``AccountListSerializer`` left on the row
    (``technology_names``) when there are some, instead of the many-to-many."""

    def get_attribute(self, instance):
        names = getattr(instance, "technology_names", None)
        return names if names is not None else super().get_attribute(instance)

    def to_representation(self, iterable):
        return [v if isinstance(v, str) else self.child_relation.to_representation(v) for v in iterable]


class AccountListSerializer(serializers.ListSerializer):
    """A page of accounts: their technologies' names in one query (``account_technology_names``)."""

    def to_representation(self, data):
        accounts = list(data.all() if hasattr(data, "all") else data)
        names = account_technology_names(account_ids=[a.pk for a in accounts])
        for account in accounts:
            account.technology_names = names.get(account.pk, [])
        return super().to_representation(accounts)


class AccountSerializer(CountryFieldMixin, BaseModelSerializer):
    domain = DomainField(required=False, allow_null=True, allow_blank=True, max_length=253)
    # The key is stored in ASCII (IDNA); this is the same domain in unicode, for display.
    domain_display = UnicodeDomainField(source="domain", allow_null=True)
    technologies = TechnologyNamesField(
        child_relation=serializers.SlugRelatedField(slug_field="name", queryset=Technology.objects.all()),
        required=False,
    )

    class Meta:
        model = Account
        list_serializer_class = AccountListSerializer
        fields = [
            "id",
            "name",
            "domain",
            "domain_display",
            "industry",
            "employee_count",
            "annual_revenue",
            "founded_year",
            "country",
            "parent",
            "technologies",
            "owner",
            "owner_team",
            "custom",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]
        extra_kwargs = {"annual_revenue": {"min_value": 0}}

    def get_fields(self):
        fields = super().get_fields()
        # DomainField replaces the model field, so restore its uniqueness check.
        fields["domain"].validators.append(
            UniqueValidator(queryset=Account.objects.all(), message="An account with this domain exists.")
        )
        return fields

    def validate_custom(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Custom attributes must be a JSON object.")
        return value

    def validate_parent(self, parent):
        if parent is None or self.instance is None:
            return parent
        node, seen = parent, set()
        while node is not None and node.pk not in seen:
            if node.pk == self.instance.pk:
                raise serializers.ValidationError("An account cannot be its own parent or ancestor.")
            seen.add(node.pk)
            node = node.parent
        return parent


class PersonaSerializer(BaseModelSerializer):
    class Meta:
        model = Persona
        fields = [
            "id",
            "name",
            "biography",
            "demographics",
            "behaviours",
            "interests",
            "needs",
            "pain_points",
            "buying_role",
            "match_titles",
            "match_seniorities",
            "match_departments",
            "required_in_buying_team",
            "priority",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]

    @staticmethod
    def _string_list(value, allowed=None):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise serializers.ValidationError("Must be a list of non-empty strings.")
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed))
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown: {', '.join(unknown)}. Allowed: {', '.join(allowed)}."
                )
        return [v.strip() for v in value]

    def validate_match_titles(self, value):
        return [v.lower() for v in self._string_list(value)]

    def validate_match_seniorities(self, value):
        return self._string_list(value, Seniority.values)

    def validate_match_departments(self, value):
        return self._string_list(value, Department.values)


LIFECYCLE_STAGE_READ_ONLY = (
    "Read-only: a contact's stage changes only through the lifecycle decisions "
    "(POST /api/lifecycle/contacts/{id}/accept/, reject/, qualify/, recycle/, reopen/) and automatic moves."
)


class ContactSerializer(CountryFieldMixin, BaseModelSerializer):
    email = NormalizedEmailField(max_length=254)
    email_display = UnicodeEmailField(source="email")

    class Meta:
        model = Contact
        fields = [
            "id",
            "account",
            "email",
            "email_display",
            "first_name",
            "last_name",
            "title",
            "seniority",
            "department",
            "country",
            "persona",
            "lifecycle_stage",
            "owner",
            "owner_team",
            "custom",
            "created",
            "updated",
        ]
        # The stage moves only through the lifecycle services (automatic moves and people's decisions),
        # which check who may decide, record a LifecycleTransition and notify: never by editing the row.
        read_only_fields = ["id", "lifecycle_stage", "created", "updated"]

    def to_internal_value(self, data):
        # Read-only fields are normally dropped silently; a client that thinks it moved the stage must
        # hear that it did not. Sending the stage unchanged (a GET document PUT back) is fine.
        if isinstance(data, dict) and "lifecycle_stage" in data:
            current = self.instance.lifecycle_stage if self.instance is not None else LifecycleStage.LEAD
            if data["lifecycle_stage"] != current:
                raise serializers.ValidationError({"lifecycle_stage": [LIFECYCLE_STAGE_READ_ONLY]})
        return super().to_internal_value(data)

    def get_fields(self):
        fields = super().get_fields()
        fields["email"].validators.append(
            UniqueValidator(queryset=Contact.objects.all(), message="A contact with this e-mail exists.")
        )
        return fields

    def validate_custom(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Custom attributes must be a JSON object.")
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None:
            # A new contact, as an import reads one: its title gives the seniority when none (or
            # "unknown") was sent, and the persona when none was sent (an explicit null stays unmapped).
            defaults = contact_title_defaults(
                title=attrs.get("title", ""),
                seniority=attrs.get("seniority"),
                department=attrs.get("department"),
            )
            if "seniority" in defaults and attrs.get("seniority", Seniority.UNKNOWN) == Seniority.UNKNOWN:
                attrs["seniority"] = defaults["seniority"]
            if "persona" in defaults and "persona" not in attrs:
                attrs["persona"] = defaults["persona"]
        return attrs


class ProductSerializer(BaseModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "series", "list_price", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]

    def validate_list_price(self, value):
        if value is not None and value < 0:
            raise serializers.ValidationError("Must not be negative.")
        return value

    def validate(self, attrs):
        if "name" in attrs:
            attrs["key"] = normalize_key(attrs["name"])
            clash = Product.objects.filter(key=attrs["key"])
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    {"name": "A product with this name (ignoring spaces) exists."}
                )
        return attrs


class SalesAgentSerializer(BaseModelSerializer):
    class Meta:
        model = SalesAgent
        fields = ["id", "name", "manager", "regional_office", "user", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]


class OpportunitySerializer(BaseModelSerializer):
    channel = serializers.SlugRelatedField(
        slug_field="slug", queryset=Channel.objects.all(), required=False, allow_null=True
    )
    source_campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "external_id",
            "account",
            "name",
            "product",
            "amount",
            "stage",
            "created_date",
            "engaged_date",
            "close_date",
            "channel",
            "source_campaign",
            "sales_agent",
            "owner",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]
        extra_kwargs = {"amount": {"min_value": 0}}

    def validate(self, attrs):
        merged = {
            f: attrs.get(f, getattr(self.instance, f, None)) for f in ("stage", "engaged_date", "close_date")
        }
        if merged["engaged_date"] and merged["close_date"] and merged["close_date"] < merged["engaged_date"]:
            raise serializers.ValidationError({"close_date": "Must not be before the engage date."})
        if merged["stage"] in CLOSED_STAGES and not merged["close_date"]:
            raise serializers.ValidationError({"close_date": "A won or lost opportunity needs a close date."})
        return attrs


class EngagementEventSerializer(BaseModelSerializer):
    """Read-only: events are written through POST /api/events/batch/."""

    type = serializers.CharField(source="event_type", read_only=True)

    class Meta:
        model = EngagementEvent
        fields = [
            "id",
            "message_id",
            "type",
            "occurred_at",
            "account",
            "contact",
            "source",
            "campaign",
            "url",
            "topic",
            "properties",
            "created",
        ]
        read_only_fields = fields


class TerritorySerializer(BaseModelSerializer):
    """A routing rule: countries, industries and a size range → a team and optionally a user."""

    countries = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    industries = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    class Meta:
        model = Territory
        fields = [
            "id",
            "name",
            "priority",
            "active",
            "countries",
            "industries",
            "employees_min",
            "employees_max",
            "team",
            "user",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated"]

    def validate_countries(self, value):
        unknown = sorted({c for c in value if c.upper() not in dict(countries)})
        if unknown:
            raise serializers.ValidationError(
                f"Unknown country codes: {', '.join(unknown)} (use ISO 3166, e.g. DE)."
            )
        return sorted({c.upper() for c in value})

    def validate_industries(self, value):
        return [v.strip() for v in value if v.strip()]

    def validate(self, attrs):
        low = attrs.get("employees_min", getattr(self.instance, "employees_min", None))
        high = attrs.get("employees_max", getattr(self.instance, "employees_max", None))
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {"employees_max": ["At least the minimum number of employees."]}
            )
        user = attrs.get("user", getattr(self.instance, "user", None))
        team = attrs.get("team", getattr(self.instance, "team", None))
        if user is not None and team is not None and not team.memberships.filter(user=user).exists():
            raise serializers.ValidationError({"user": [f"{user} is not a member of {team}."]})
        return attrs
