"""The accounts app's choices in the web UI: labels of stored codes and a Bootstrap colour per opportunity
stage, lifecycle stage and event type (``{% load accounts_ui %}``). No queries here."""

from django import template

from accounts.choices import Department, EventType, LifecycleStage, OpportunityStage, Seniority
from accounts.normalize import display_domain, display_email
from revops.templatetags.revops_ui import EMPTY

register = template.Library()

_CHOICES = {
    "seniority": dict(Seniority.choices),
    "department": dict(Department.choices),
    "lifecycle_stage": dict(LifecycleStage.choices),
    "event_type": dict(EventType.choices),
}

# Bootstrap colour per opportunity stage, lifecycle stage and event type.
_STAGE_COLOURS = {
    OpportunityStage.PROSPECTING: "secondary",
    OpportunityStage.ENGAGING: "info",
    OpportunityStage.PROPOSAL: "primary",
    OpportunityStage.NEGOTIATION: "warning",
    OpportunityStage.WON: "success",
    OpportunityStage.LOST: "danger",
}
_LIFECYCLE_COLOURS = {
    LifecycleStage.LEAD: "secondary",
    LifecycleStage.MQL: "info",
    LifecycleStage.SAL: "primary",
    LifecycleStage.SQL: "primary",
    LifecycleStage.OPPORTUNITY: "warning",
    LifecycleStage.CUSTOMER: "success",
    LifecycleStage.RECYCLED: "light",
    LifecycleStage.DISQUALIFIED: "dark",
}
# Strong buying signals stand out; passive ones stay grey.
_EVENT_COLOURS = {
    EventType.DEMO_REQUEST: "success",
    EventType.FREE_TRIAL: "success",
    EventType.MEETING: "success",
    EventType.FORM_FILL: "primary",
    EventType.WEBINAR: "primary",
    EventType.CONTENT_DOWNLOAD: "info",
    EventType.INTENT: "warning",
    EventType.EMAIL_CLICK: "info",
    EventType.AD_CLICK: "info",
    EventType.EMAIL_OPEN: "secondary",
    EventType.PAGE_VIEW: "secondary",
}


@register.filter
def labels(values, kind: str) -> str:
    """Choice codes stored in a JSON list → their labels: ``["vp", "director"]`` → ``VP, Director``."""
    if not values:
        return EMPTY
    names = _CHOICES.get(kind, {})
    return ", ".join(str(names.get(v, v)) for v in values)


@register.filter
def label(value: str, kind: str) -> str:
    """One choice code → its label: ``"page_view"|label:"event_type"`` → ``Page view``."""
    if value in (None, ""):
        return EMPTY
    return str(_CHOICES.get(kind, {}).get(value, value))


@register.filter
def stage_colour(stage: str) -> str:
    return _STAGE_COLOURS.get(stage, "secondary")


@register.filter
def lifecycle_colour(stage: str) -> str:
    return _LIFECYCLE_COLOURS.get(stage, "secondary")


@register.filter
def event_colour(event_type: str) -> str:
    return _EVENT_COLOURS.get(event_type, "secondary")


@register.filter
def unicode_domain(domain) -> str:
    """A stored domain as people write it: ``xn--bcher-kva.de`` → ``bücher.de`` (the key stays ASCII)."""
    return display_domain(domain)


@register.filter
def unicode_email(email) -> str:
    """A stored e-mail address with its domain in unicode: ``anna@xn--bcher-kva.de`` → ``anna@bücher.de``."""
    return display_email(email)
