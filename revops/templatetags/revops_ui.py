"""Formatting helpers for the web UI, for every app's pages (``{% load revops_ui %}``). They only format
what views hand them: no queries here. Labels and colours of the accounts app's choices are in
``accounts_ui``."""

import datetime
import itertools
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms, template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.html import format_html

register = template.Library()

EMPTY = "—"


@register.filter
def number(value) -> str:
    """``12345`` → ``12,345``; nothing → an em dash."""
    if value is None or value == "":
        return EMPTY
    return intcomma(int(value))


@register.filter
def percent(value, digits: int = 0) -> str:
    """A share as a percentage: ``0.1`` → ``10%``, ``0.6315|percent:1`` → ``63.2%``; nothing → an em dash."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def money(value) -> str:
    """Whole US dollars with thousands separators: ``$1,250,000``."""
    if value is None or value == "":
        return EMPTY
    return f"${intcomma(int(Decimal(value).quantize(Decimal(1))))}"


@register.filter
def money_short(value) -> str:
    """Compact dollars for headline numbers: ``$1.3M``, ``$45k``, ``$900``."""
    if value is None or value == "":
        return EMPTY
    amount = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= limit:
            return f"${amount / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"${amount:.0f}"


@register.filter
def compact(value) -> str:
    """Compact counts: ``1.2M``, ``35k``, ``912``."""
    if value is None or value == "":
        return EMPTY
    amount = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e4, "k")):
        if abs(amount) >= limit:
            return f"{amount / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    return intcomma(int(amount))


@register.filter(expects_localtime=True)
def when(value) -> str:
    """A moment, the one way the UI writes it: ``6 Dec 2026 04:42`` (a date alone: ``6 Dec 2026``);
    nothing → ``""``, so ``|default:"—"`` still reads. The formats are config/formats/en/formats.py's."""
    if isinstance(value, datetime.datetime):
        return date_format(value, "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return date_format(value, "DATE_FORMAT")
    return ""


@register.filter(expects_localtime=True)
def day(value) -> str:
    """The day of a date or a moment: ``6 Dec 2026``; nothing → ``""``."""
    if isinstance(value, datetime.date):
        return date_format(value, "DATE_FORMAT")
    return ""


@register.filter
def person(user) -> str:
    """A user as people know them: the full name, else the username (``Ada Byron``, not ``ada``);
    nothing → ``""``. A plain string (a name already) is shown as it is."""
    if not user:
        return ""
    if isinstance(user, str):
        return user
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return (full_name or "").strip() or user.get_username()


@register.filter
def url_path(url: str) -> str:
    """A page URL shown short: its path (``/pricing``), or the text as given if it is not a URL."""
    if not url:
        return ""
    if "://" in url:
        parts = urlsplit(url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return url


@register.filter
def widget_class(bound_field, size: str = "") -> str:
    """Render a form field's widget with Bootstrap classes (and ``is-invalid`` when it has errors).

    ``{{ field|widget_class:"sm" }}`` renders the small variant (the filter forms).
    """
    widget = bound_field.field.widget
    small = size == "sm"
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        css = ""
    elif isinstance(widget, forms.Select):
        css = "form-select form-select-sm" if small else "form-select"
    else:
        css = "form-control form-control-sm" if small else "form-control"
    if bound_field.errors:
        css += " is-invalid"
    attrs = {"class": css.strip()}
    if isinstance(widget, forms.SelectMultiple):
        # len() of a ModelChoiceIterator would run a COUNT query: only measure plain choice lists.
        choices = getattr(bound_field.field, "choices", None)
        # Every option in view up to six (the buying stages' five included), then a scroll bar.
        attrs["size"] = min(6, max(3, len(choices))) if isinstance(choices, list | tuple) else 6
    if _searchable(bound_field.field, widget):
        # static/js/revops.js makes it a select one can type in (Tom Select); without scripts, as it is.
        attrs["data-searchable"] = ""
    if isinstance(widget, forms.DateInput):
        attrs["placeholder"] = "YYYY-MM-DD"
    return bound_field.as_widget(attrs=attrs)


SEARCHABLE_AFTER = 15  # a single choice among more options than this gets a search box


def _searchable(field, widget) -> bool:
    """Multi-selects (options wrap instead of being cut, chosen ones show as tags) and long single
    selects (the 249 countries) get a search box."""
    if not isinstance(widget, forms.Select) or isinstance(
        widget, forms.NullBooleanSelect | forms.CheckboxSelectMultiple | forms.RadioSelect
    ):
        return False
    if isinstance(widget, forms.SelectMultiple):
        return True
    choices = getattr(field, "choices", None)
    if choices is None or isinstance(choices, forms.models.ModelChoiceIterator):
        return False  # its length would cost a COUNT query
    try:
        return len(choices) > SEARCHABLE_AFTER
    except TypeError:  # a lazy list (a country field's): count only as far as needed
        return sum(1 for _ in itertools.islice(choices, SEARCHABLE_AFTER + 1)) > SEARCHABLE_AFTER


@register.filter
def is_checkbox(bound_field) -> bool:
    return isinstance(bound_field.field.widget, forms.CheckboxInput)


@register.simple_tag(takes_context=True)
def sort_header(context, column) -> str:
    """A table header: a link that sorts by ``column`` (toggling the direction), with an arrow if active."""
    if not column.sort:
        return format_html(
            '<th scope="col" class="{}">{}</th>', "text-end" if column.numeric else "", column.label
        )
    request = context["request"]
    current = context.get("sort", "")
    params = request.GET.copy()
    params.pop("page", None)
    if current == column.key:
        params["sort"], arrow, aria = f"-{column.key}", " ▲", "ascending"
    elif current == f"-{column.key}":
        params["sort"], arrow, aria = column.key, " ▼", "descending"
    else:
        params["sort"], arrow, aria = column.key, "", "none"
    return format_html(
        '<th scope="col" class="{}" aria-sort="{}"><a class="sort-link" href="?{}">{}{}</a></th>',
        "text-end" if column.numeric else "",
        aria,
        params.urlencode(),
        column.label,
        arrow,
    )


@register.simple_tag
def nav_links(nav_items, path: str) -> list[dict]:
    """The navigation entries with their URLs; the longest URL that prefixes ``path`` is the active one."""
    links = []
    for item in nav_items or []:
        try:
            href = reverse(item["url_name"])
        except NoReverseMatch:
            continue
        links.append({"label": item["label"], "href": href, "active": False})
    best = None
    for link in links:
        matches = path == link["href"] if link["href"] == "/" else path.startswith(link["href"])
        if matches and (best is None or len(link["href"]) > len(best["href"])):
            best = link
    if best is not None:
        best["active"] = True
    return links
