"""Template filters of the campaign pages: signed effects, shares, lift in words."""

import datetime

from django import template
from django.utils.safestring import mark_safe

from revops.templatetags.revops_ui import percent

register = template.Library()


@register.filter
def signed(value, digits: int = 2) -> str:
    """``0.5`` → ``+0.50``; nothing → an em dash."""
    if value is None or value == "":
        return "—"
    rounded = round(float(value), int(digits)) + 0.0  # no "-0.00"
    return f"{rounded:+.{int(digits)}f}" if rounded else f"{0:.{int(digits)}f}"


register.filter("percent", percent)  # the core's, for the templates that load only this library


@register.filter
def per_accounts(value, accounts) -> str:
    """An effect per account times the accounts: incremental counts."""
    if value is None or accounts in (None, ""):
        return "—"
    return f"{float(value) * int(accounts):+.1f}"


@register.filter
def iso_date(value) -> str:
    """An ISO date-time text → ``6 Dec 2026``."""
    try:
        return datetime.datetime.fromisoformat(str(value)).strftime("%-d %b %Y")
    except ValueError:
        return str(value or "—")


@register.simple_tag
def lift_word(low, high) -> str:
    """Whether the interval says the campaign raised engagement, lowered it, or cannot tell."""
    if low is None or high is None:
        return mark_safe('<span class="text-body-secondary">Too few accounts to tell</span>')
    if low > 0:
        return mark_safe('<span class="text-success fw-semibold">Raised engagement</span>')
    if high < 0:
        return mark_safe('<span class="text-danger fw-semibold">Lowered engagement</span>')
    return mark_safe('<span class="text-body-secondary">No clear change (the interval includes 0)</span>')
