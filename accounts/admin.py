"""Admin for the revenue data; audited like every other write path."""

from django.contrib import admin

from revops.admin import AuditedModelAdmin, person_column

from .models import (
    Account,
    AccountActivityDaily,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
    Territory,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived or append-only data: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Technology)
class TechnologyAdmin(AuditedModelAdmin):
    list_display = ["name", "category"]
    search_fields = ["name", "category"]


@admin.register(Account)
class AccountAdmin(AuditedModelAdmin):
    list_display = ["name", "domain", "industry", "employee_count", "annual_revenue", "country", "parent"]
    list_filter = ["industry", "country", "owner_team"]
    search_fields = ["name", "domain"]
    autocomplete_fields = ["parent", "technologies", "owner"]
    show_full_result_count = False  # no exact COUNT on big tables


@admin.register(Persona)
class PersonaAdmin(AuditedModelAdmin):
    list_display = ["name", "buying_role", "required_in_buying_team", "priority"]
    list_filter = ["buying_role", "required_in_buying_team"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(AuditedModelAdmin):
    list_display = ["email", "first_name", "last_name", "title", "account", "persona", "lifecycle_stage"]
    list_filter = ["lifecycle_stage", "seniority", "department", "persona"]
    search_fields = ["email", "first_name", "last_name"]
    autocomplete_fields = ["account", "owner"]
    # The stage moves only through the lifecycle services (decisions and automatic moves), never by hand.
    readonly_fields = ["lifecycle_stage"]
    list_select_related = ["account", "persona"]
    show_full_result_count = False


@admin.register(Product)
class ProductAdmin(AuditedModelAdmin):
    list_display = ["name", "series", "list_price"]
    search_fields = ["name"]


@admin.register(SalesAgent)
class SalesAgentAdmin(AuditedModelAdmin):
    list_display = ["name", "manager", "regional_office", person_column("user")]
    list_select_related = ["user"]
    list_filter = ["regional_office"]
    search_fields = ["name", "manager"]


@admin.register(Opportunity)
class OpportunityAdmin(AuditedModelAdmin):
    list_display = ["name", "account", "product", "amount", "stage", "created_date", "close_date", "channel"]
    list_filter = ["stage", "channel", "product"]
    search_fields = ["name", "external_id", "account__name"]
    autocomplete_fields = ["account", "owner"]
    list_select_related = ["account", "product", "channel"]
    show_full_result_count = False


@admin.register(EngagementEvent)
class EngagementEventAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "event_type", "occurred_at", "account", "contact", "source"]
    list_filter = ["event_type", "source"]
    search_fields = ["message_id"]
    raw_id_fields = ["account", "contact", "campaign"]
    show_full_result_count = False


@admin.register(AccountActivityDaily)
class AccountActivityDailyAdmin(ReadOnlyAdmin):
    list_display = ["account", "day", "event_type", "key", "count", "known_count"]
    list_filter = ["event_type"]
    raw_id_fields = ["account"]
    show_full_result_count = False


@admin.register(ContactActivityDaily)
class ContactActivityDailyAdmin(ReadOnlyAdmin):
    list_display = ["contact", "day", "event_type", "key", "count"]
    list_filter = ["event_type"]
    raw_id_fields = ["contact", "account"]
    show_full_result_count = False


@admin.register(Territory)
class TerritoryAdmin(AuditedModelAdmin):
    """Routing territories: tried by priority, lowest first; the first that matches owns the account."""

    list_display = ["name", "priority", "active", "countries", "industries", "employees_min", "employees_max",
                    "team", "user"]  # fmt: skip
    list_editable = ["priority", "active"]
    list_filter = ["active", "team"]
    search_fields = ["name"]
    autocomplete_fields = ["user"]
    list_select_related = ["team", "user"]
