"""Web pages for accounts, contacts, personas and opportunities (thin: selectors read, services write)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import View

from revops.filtersets import WidenedFilterSet
from revops.views import Column, ObjectDetailView, ObjectEditView, ObjectListView

from . import selectors
from .choices import OPEN_STAGES
from .filtersets import AccountFilterSet, ContactFilterSet, OpportunityFilterSet, PersonaFilterSet
from .forms import AccountForm, AccountSearchForm, AccountSearchInput, ContactForm, account_label
from .models import Account, Contact, Opportunity, Persona
from .normalize import display_domain


def channel_select(form, name: str = "channel") -> None:
    """Show the FilterSet's ``channel`` (a slug) as a drop-down of the channels (a small table)."""
    if name in form.fields:
        choices = [("", "Any"), *selectors.channel_choices()]
        form.fields[name].widget = forms.Select(choices=choices)
        form.fields[name].label = "Channel"


def account_picker(form, name: str, *, user) -> None:
    """Show an account-id filter as the search-as-you-type account picker (it still sends the id)."""
    if name not in form.fields:
        return
    field = form.fields[name]
    field.widget = AccountSearchInput()
    chosen = selectors.account_chosen(user=user, value=form.data.get(name, ""))
    if chosen is not None:
        field.widget.attrs["data-label"] = account_label(chosen)


# --- accounts ------------------------------------------------------------------------------------
class AccountListView(ObjectListView):
    """Accounts, filtered by the AccountFilterSet, with their number of contacts."""

    model = Account
    template_name = "accounts/account_list.html"
    columns = [
        Column("name", "Name", ("name",)),
        Column("domain", "Domain", ("domain",)),
        Column("industry", "Industry", ("industry",)),
        Column("employees", "Employees", ("employee_count",), numeric=True),
        Column("revenue", "Revenue", ("annual_revenue",), numeric=True),
        Column("country", "Country", ("country",)),
        Column("contacts", "Contacts", numeric=True),
    ]
    default_sort = "name"
    primary_filters = ["q", "industry", "segment", "stage", "deal"]
    filter_labels = {
        "employees_min": "Employees at least",
        "employees_max": "Employees at most",
        "revenue_min": "Revenue at least (USD)",
        "revenue_max": "Revenue at most (USD)",
        "has_parent": "Has a parent company",
        "owner": "Owner",
        "parent": "Parent company",
        "deal": "Open deal or customer",
    }
    filter_choices = {"owner": "user_choices"}
    add_url_name = "accounts:account_create"

    # The apps above add their filters (scores, stage, segment …): revops.filtersets.
    filterset_class = WidenedFilterSet("accounts.account", AccountFilterSet)

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        account_picker(form, "parent", user=self.request.user)
        if "country" in form.fields:
            # The countries most accounts are in come first in the picker (static/js/revops.js).
            form.fields["country"].widget.attrs["data-first"] = ",".join(selectors.account_common_countries())

    def decorate_rows(self, rows: list[Account]) -> None:
        counts = selectors.account_contact_counts(account_ids=[a.pk for a in rows])
        for account in rows:
            account.contact_count = counts.get(account.pk, 0)


class AccountDetailView(ObjectDetailView):
    """An account: firmographics, technologies, buying team by persona, timeline, weekly engagement."""

    model = Account
    template_name = "accounts/account_detail.html"
    select_related = ("parent", "owner", "owner_team", "rule_score__ruleset")
    prefetch_related = ("technologies",)
    edit_url_name = "accounts:account_update"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        account = self.object
        user = self.request.user
        subsidiaries, more_subsidiaries = selectors.account_subsidiaries(account=account)
        can_see_contacts = user.has_perm("accounts.view_contact")
        context.update(
            {
                "subsidiaries": subsidiaries,
                "more_subsidiaries": more_subsidiaries,
                "buying_team": selectors.account_buying_team(account=account) if can_see_contacts else None,
                "timeline": selectors.account_timeline(account=account),
                "opportunities": selectors.account_opportunities(account=account),
                "weekly_activity": selectors.account_weekly_activity(account=account),
                "top_signals": selectors.account_top_signals(account=account),
                "can_add_contact": user.has_perm("accounts.add_contact"),
                "custom_items": sorted((account.custom or {}).items()),
            }
        )
        weekly = context["weekly_activity"]
        context["weekly_total"] = sum(n for _, n in weekly)
        context["weekly_chart"] = {
            "label": "Events per week",
            "labels": [f"Week of {week:%-d %b %Y}" for week, _ in weekly],
            "values": [n for _, n in weekly],
        }
        opps = context["opportunities"]
        context["open_pipeline"] = sum((o.amount or 0) for o in opps if o.stage in OPEN_STAGES)
        return context


class AccountTimelineView(PermissionRequiredMixin, View):
    """The next, older page of an account's timeline, as an HTML fragment for htmx."""

    permission_required = "accounts.view_account"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = selectors.account_get(user=request.user, pk=pk)
        cursor = selectors.parse_timeline_cursor(request.GET.get("before"))
        timeline = selectors.account_timeline(account=account, before=cursor)
        return render(
            request, "accounts/includes/timeline_items.html", {"account": account, "timeline": timeline}
        )


class AccountSearchView(PermissionRequiredMixin, View):
    """The account pickers' search (parent company, a contact's account): JSON, at most a few accounts
    the user may see, ``?q=`` part of a name or domain, ``exclude=`` an id (the account being edited)."""

    permission_required = "accounts.view_account"
    raise_exception = True  # a script asks: a 403, not the sign-in page

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AccountSearchForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        found, more = selectors.account_search(
            user=request.user,
            query=form.cleaned_data["q"],
            limit=form.cleaned_data["limit"] or 10,
            exclude_id=form.cleaned_data["exclude"],
        )
        results = [
            {"id": a.pk, "name": a.name, "domain": display_domain(a.domain), "label": account_label(a)}
            for a in found
        ]
        return JsonResponse({"results": results, "more": more})


class AccountEditView(ObjectEditView):
    model = Account
    form_class = AccountForm
    select_related = ("parent",)
    detail_url_name = "accounts:account_detail"
    list_url_name = "accounts:account_list"


# --- contacts ----------------------------------------------------------------------------------
class ContactListView(ObjectListView):
    """Contacts, filtered by the ContactFilterSet."""

    model = Contact
    filterset_class = ContactFilterSet
    template_name = "accounts/contact_list.html"
    columns = [
        # Sorted by e-mail: the unique index makes it the cheap order over a million contacts.
        Column("email", "Contact", ("email",)),
        Column("account", "Account", ("account__name",)),
        Column("title", "Title", ("title",)),
        Column("persona", "Persona", ("persona__priority", "persona__name")),
        Column("lifecycle", "Lifecycle stage", ("lifecycle_stage",)),
    ]
    default_sort = "email"
    primary_filters = ["q", "account_domain", "persona", "lifecycle_stage", "seniority"]
    filter_labels = {
        "account": "Account",
        "has_persona": "Mapped to a persona",
        "owner": "Owner",
    }
    filter_choices = {"owner": "user_choices"}
    add_url_name = "accounts:contact_create"

    def get_queryset(self):
        return super().get_queryset().select_related("account", "persona")

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        account_picker(form, "account", user=self.request.user)


class ContactDetailView(ObjectDetailView):
    """A contact: demographics, persona, lifecycle stage, recent activity."""

    model = Contact
    template_name = "accounts/contact_detail.html"
    select_related = ("account", "persona", "owner", "owner_team", "rule_score__ruleset")
    edit_url_name = "accounts:contact_update"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        contact = self.object
        context["activity"] = selectors.contact_activity_summary(contact=contact)
        context["recent_events"] = selectors.contact_recent_events(contact=contact)
        context["custom_items"] = sorted((contact.custom or {}).items())
        # The rules score and lifecycle come from the scoring app's panel (scoring/panels.py).
        return context


class ContactEditView(ObjectEditView):
    model = Contact
    form_class = ContactForm
    select_related = ("account",)
    detail_url_name = "accounts:contact_detail"
    list_url_name = "accounts:contact_list"

    def get_initial(self) -> dict[str, Any]:
        # "Add contact" from an account page arrives with ?account=<id>.
        account_id = self.request.GET.get("account", "")
        return {"account": account_id} if account_id.isdigit() and "pk" not in self.kwargs else {}


# --- personas ----------------------------------------------------------------------------------
class PersonaListView(ObjectListView):
    """Personas with the number of contacts mapped to each."""

    model = Persona
    filterset_class = PersonaFilterSet
    template_name = "accounts/persona_list.html"
    columns = [
        Column("priority", "Priority", ("priority",), numeric=True),
        Column("name", "Name", ("name",)),
        Column("buying_role", "Buying role", ("buying_role",)),
        Column("required", "Required in buying team", ("required_in_buying_team",)),
        Column("criteria", "Matches"),
        Column("contacts", "Contacts", numeric=True),
    ]
    default_sort = "priority"
    primary_filters = ["q", "buying_role", "required_in_buying_team"]

    def decorate_rows(self, rows: list[Persona]) -> None:
        counts = selectors.persona_contact_counts(persona_ids=[p.pk for p in rows])
        for persona in rows:
            persona.contact_count = counts.get(persona.pk, 0)


class PersonaDetailView(ObjectDetailView):
    """A persona: its story, matching criteria and the contacts mapped to it."""

    model = Persona
    template_name = "accounts/persona_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_see_contacts = self.request.user.has_perm("accounts.view_contact")
        context["can_see_contacts"] = can_see_contacts
        if can_see_contacts:
            context["stats"] = selectors.persona_contact_stats(persona=self.object)
            context["recent_contacts"] = selectors.persona_recent_contacts(persona=self.object)
        return context


# --- opportunities -------------------------------------------------------------------------------
class OpportunityListView(ObjectListView):
    """Opportunities, filtered by the OpportunityFilterSet."""

    model = Opportunity
    filterset_class = OpportunityFilterSet
    template_name = "accounts/opportunity_list.html"
    columns = [
        Column("name", "Name", ("name",)),
        Column("account", "Account", ("account__name",)),
        Column("stage", "Stage", ("stage",)),
        Column("amount", "Amount", ("amount",), numeric=True),
        Column("created", "Opened", ("created_date",)),
        Column("closed", "Close date", ("close_date",)),
        Column("channel", "Channel", ("channel__sort_order",)),
        Column("product", "Product", ("product__name",)),
    ]
    default_sort = "-created"
    primary_filters = ["q", "stage", "channel", "created_after", "created_before"]
    filter_labels = {
        "account": "Account",
        "has_account": "Has an account",
        "product": "Product id",
        "sales_agent": "Sales agent id",
        "source_campaign": "Source campaign id",
        "created_after": "Opened on or after",
        "created_before": "Opened on or before",
        "closed_after": "Closed on or after",
        "closed_before": "Closed on or before",
        "amount_min": "Amount at least (USD)",
    }

    def get_queryset(self):
        return super().get_queryset().select_related("account", "channel", "product")

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        channel_select(form)
        account_picker(form, "account", user=self.request.user)


class OpportunityDetailView(ObjectDetailView):
    """An opportunity and where it came from."""

    model = Opportunity
    template_name = "accounts/opportunity_detail.html"
    select_related = ("account", "product", "channel", "source_campaign", "sales_agent", "owner")
