"""Web forms for accounts and contacts. They validate and normalise; the views write through services."""

from __future__ import annotations

import copy
import datetime
from typing import Any

from django import forms
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse_lazy

from .choices import Seniority
from .models import Account, Contact, Persona, Technology
from .normalize import display_domain, normalize_domain, normalize_email
from .selectors import ACCOUNT_SEARCH_LIMIT, account_common_countries, contact_title_defaults


class ServiceModelForm(forms.ModelForm):
    """A ModelForm that validates but never saves: the view passes ``service_data()`` to a service.

    ModelForm validation writes the cleaned values onto its instance, so it works on a copy: the
    service gets the row as it was, and the audit log records the true "before".
    """

    def __init__(self, *args: Any, user=None, instance: models.Model | None = None, **kwargs: Any) -> None:
        self.user = user
        self.original = instance
        super().__init__(*args, instance=copy.copy(instance) if instance is not None else None, **kwargs)

    def service_data(self) -> dict[str, Any]:
        """The validated values, by model field name, for ``object_create`` / ``object_update``.

        Disabled fields are shown only: they are never written, whatever the post says.
        """
        return {
            name: self.cleaned_data[name]
            for name in self._meta.fields
            if name in self.cleaned_data and not self.fields[name].disabled
        }

    def save(self, commit: bool = True):
        raise NotImplementedError("Write through revops.services.object_create / object_update.")

    def clean_custom(self) -> dict:
        value = self.cleaned_data.get("custom")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Custom attributes must be a JSON object, e.g. {"tier": "gold"}.')
        return value


class AccountSearchForm(forms.Form):
    """What the account pickers send to ``accounts:account_search``."""

    q = forms.CharField(min_length=1, max_length=100, strip=True)
    exclude = forms.IntegerField(required=False, min_value=1)
    limit = forms.IntegerField(required=False, min_value=1, max_value=ACCOUNT_SEARCH_LIMIT)


class AccountSearchInput(forms.TextInput):
    """A text input the page turns into a search-as-you-type picker (static/js/revops.js): it keeps the
    account's id (or a domain typed without scripts), and ``data-label`` shows the chosen account."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(
            {
                "data-account-search": reverse_lazy("accounts:account_search"),
                "placeholder": "Type a name or domain",
                "autocomplete": "off",
                **(attrs or {}),
            }
        )


def user_label(user) -> str:
    """How a choice of user reads: the full name, else the username (as ``|person`` shows them)."""
    return user.get_full_name() or user.get_username()


def account_label(account: Account) -> str:
    """How a picker shows an account: ``Acme Analytics · acme.com``."""
    domain = display_domain(account.domain)
    return f"{account.name} · {domain}" if domain else account.name


class AccountLookupField(forms.CharField):
    """An account given by its domain (or id). A drop-down of 100k accounts would be unusable."""

    default_error_messages = {
        "not_found": "No account has the domain or id “%(value)s”.",
        "invalid": "“%(value)s” is neither an account id nor a domain.",
    }

    # With scripts, a picker that searches by name or domain (AccountSearchInput); without, a text box.
    widget = AccountSearchInput

    def __init__(self, *, queryset: models.QuerySet | None = None, **kwargs: Any) -> None:
        self.queryset = queryset if queryset is not None else Account.objects.none()
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 253)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Account):
            return value.domain or str(value.pk)
        return value

    def lookup(self, text: str) -> Account | None:
        """The account ``text`` names (an id or a domain) among the field's queryset, if any."""
        text = (text or "").strip()
        if text.isdigit():
            return self.queryset.filter(pk=int(text)).first()
        try:
            return self.queryset.filter(domain=normalize_domain(text)).first()
        except ValueError:
            return None

    def show_chosen(self, value) -> None:
        """Let the picker show the chosen account by name: ``value`` is what the input holds."""
        account = value if isinstance(value, Account) else self.lookup(str(value or ""))
        if account is not None:
            self.widget.attrs["data-label"] = account_label(account)

    def clean(self, value) -> Account | None:
        value = super().clean(value)
        if isinstance(value, Account):
            return value
        text = (value or "").strip()
        if not text:
            return None
        if not text.isdigit():
            try:
                normalize_domain(text)
            except ValueError as exc:
                raise forms.ValidationError(self.error_messages["invalid"], params={"value": text}) from exc
        account = self.lookup(text)
        if account is None:
            raise forms.ValidationError(self.error_messages["not_found"], params={"value": text})
        return account


class AccountForm(ServiceModelForm):
    """Create or edit an account's firmographics and technographics."""

    parent = AccountLookupField(
        label="Parent company", help_text="Type part of its name or domain, and choose it."
    )

    class Meta:
        model = Account
        fields = [
            "name",
            "domain",
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
        ]
        labels = {
            "employee_count": "Employees",
            "annual_revenue": "Annual revenue (USD)",
            "founded_year": "Founded",
            "owner_team": "Owning team",
            "custom": "Custom attributes (JSON)",
        }
        help_texts = {
            "domain": "e.g. acme.com — stored lower case, without www.",
            "custom": 'A JSON object, e.g. {"tier": "gold", "crm_id": "0015g00000XYZ"}.',
        }
        widgets = {
            "custom": forms.Textarea(attrs={"rows": 3}),
            "technologies": forms.SelectMultiple(attrs={"size": 8}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Account.objects.for_user(self.user)
        if self.original is not None and self.original.parent_id:
            self.initial["parent"] = self.original.parent.domain or str(self.original.parent_id)
        parent = self.fields["parent"]
        if self.original is not None and self.original.pk:
            parent.widget.attrs["data-exclude"] = str(self.original.pk)  # not itself
        parent.show_chosen(
            self["parent"].value() if self.is_bound else self.original and self.original.parent
        )
        self.fields["owner"].label_from_instance = user_label
        # The countries most accounts are in come first in the picker (static/js/revops.js).
        self.fields["country"].widget.attrs["data-first"] = ",".join(account_common_countries())
        self.fields["technologies"].queryset = Technology.objects.order_by("name")
        self.fields["technologies"].help_text = "Type to find one; choose as many as it uses."
        self.fields["domain"].required = False
        # Our own, clearer messages for negative numbers (clean_employee_count, clean_annual_revenue).
        for name in ("employee_count", "annual_revenue"):
            self.fields[name].validators = [
                v for v in self.fields[name].validators if not isinstance(v, MinValueValidator)
            ]

    def clean_domain(self) -> str | None:
        raw = (self.cleaned_data.get("domain") or "").strip()
        if not raw:
            return None  # NULL, not "": the domain is unique among the accounts that have one
        try:
            domain = normalize_domain(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"“{raw}” is not a valid domain; write it like acme.com.") from exc
        clash = Account.objects.filter(domain=domain).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise forms.ValidationError(
                f"{domain} is already the domain of “{clash.name}” (account {clash.pk})."
            )
        return domain

    def clean_employee_count(self) -> int | None:
        value = self.cleaned_data.get("employee_count")
        if value is not None and value < 0:
            raise forms.ValidationError("The number of employees cannot be negative.")
        return value

    def clean_annual_revenue(self):
        value = self.cleaned_data.get("annual_revenue")
        if value is not None and value < 0:
            raise forms.ValidationError("Annual revenue cannot be negative.")
        return value

    def clean_founded_year(self) -> int | None:
        value = self.cleaned_data.get("founded_year")
        this_year = datetime.date.today().year
        if value is not None and not 1600 <= value <= this_year:
            raise forms.ValidationError(f"Founded must be a year between 1600 and {this_year}.")
        return value

    def clean_parent(self) -> Account | None:
        parent = self.cleaned_data.get("parent")
        if parent is None or self.instance.pk is None:
            return parent
        # Walk up from the new parent: meeting this account means a cycle. Bounded: hierarchies are shallow.
        node, depth = parent, 0
        while node is not None and depth < 50:
            if node.pk == self.instance.pk:
                if parent.pk == self.instance.pk:
                    raise forms.ValidationError("An account cannot be its own parent.")
                raise forms.ValidationError(
                    f"“{parent.name}” is a subsidiary of this account, so it cannot be its parent."
                )
            node = Account.objects.filter(pk=node.parent_id).first() if node.parent_id else None
            depth += 1
        return parent


class ContactForm(ServiceModelForm):
    """Create or edit a contact: demographics, account, persona and lifecycle stage."""

    # A plain text field: normalize_email gives the one message for a bad address, here and in imports.
    email = forms.CharField(label="E-mail", max_length=254)
    account = AccountLookupField(
        label="Account", help_text="Type part of its name or domain, and choose it; empty if none."
    )

    class Meta:
        model = Contact
        fields = [
            "email",
            "first_name",
            "last_name",
            "title",
            "seniority",
            "department",
            "country",
            "account",
            "persona",
            "lifecycle_stage",
            "owner",
            "owner_team",
            "custom",
        ]
        labels = {"custom": "Custom attributes (JSON)", "owner_team": "Owning team"}
        help_texts = {"custom": 'A JSON object, e.g. {"source": "webinar"}.'}
        widgets = {"custom": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.for_user(self.user)
        if self.original is not None and self.original.account_id:
            self.initial["account"] = self.original.account.domain or str(self.original.account_id)
        self.fields["account"].show_chosen(
            self["account"].value() if self.is_bound else self.original and self.original.account
        )
        self.fields["owner"].label_from_instance = user_label
        self.fields["persona"].queryset = Persona.objects.order_by("priority", "name")
        self.fields["persona"].empty_label = "— not mapped —"
        # Shown, never taken from the post: the stage moves only through the lifecycle services (a
        # decision on the contact page, or an automatic move), which check who may decide and record it.
        stage = self.fields["lifecycle_stage"]
        stage.disabled = True
        stage.help_text = "Changes only through the lifecycle decisions on the contact page."

    def clean_email(self) -> str:
        raw = self.cleaned_data.get("email") or ""
        try:
            email = normalize_email(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"“{raw}” is not a valid e-mail address.") from exc
        clash = Contact.objects.filter(email=email).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise forms.ValidationError(f"{email} already belongs to another contact (contact {clash.pk}).")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.original is None:
            # A new contact, as an import reads one: left at "unknown" seniority or "not mapped", its title
            # says which (a person who chose them on an edit keeps what they chose).
            defaults = contact_title_defaults(
                title=cleaned.get("title") or "",
                seniority=cleaned.get("seniority"),
                department=cleaned.get("department"),
            )
            if "seniority" in defaults and cleaned.get("seniority") in (None, "", Seniority.UNKNOWN):
                cleaned["seniority"] = defaults["seniority"]
            if "persona" in defaults and cleaned.get("persona") is None:
                cleaned["persona"] = defaults["persona"]
        return cleaned
