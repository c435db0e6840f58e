"""Feature names and values in plain words, for explanations ("5 research-page visits … in the last 30
days: +0.12").

Names follow ``scoring.learned.features``; an unknown name falls back to itself with underscores as spaces,
so a new feature never breaks an explanation.
"""

import math
import re

from django_countries import countries

from accounts.choices import EventType
from accounts.models import Technology
from revops.safecache import cache_get_or_set

GROUPS = {
    "all": "engagement and intent events",
    "intent": "intent signals",
    "first_party": "first-party visits and actions",
    "research": "research-page visits (pricing, comparisons, case studies)",
    "high_intent": "demo requests, trials and meetings",
    **{value: f"{label.lower()} events" for value, label in EventType.choices},
}
_GROUP = "|".join(sorted((re.escape(g) for g in GROUPS), key=len, reverse=True))
NONE_DAYS = 9999


def _n(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _approx(value: float) -> str:
    """A count stored as log1p (4 decimals): three significant figures, not false precision."""
    if value < 1000:
        return f"{value:,.0f}"
    digits = int(math.floor(math.log10(value))) - 2
    return f"{round(value, -digits):,.0f}"


def _money(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"${value / size:,.1f}{unit}"
    return f"${value:,.0f}"


def _days(value: float, what: str) -> str:
    if value >= NONE_DAYS:
        return f"no {what} in the last 6 months"
    return f"{_n(value)} days since the last {what}"


def slug(text) -> str:
    """A name as it appears in feature names: lower case, runs of other characters as one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "blank"


def _title(key: str) -> str:
    return key.replace("_", " ").strip().capitalize() or "(blank)"


def _country(code: str) -> str:
    return countries.name(code.upper()) or code.upper()


TECHNOLOGY_NAMES_KEY = "words:technology_names"


def _technology(key: str) -> str:
    """The technology's own name (``tech__amazon_redshift`` → "Amazon Redshift"), from the catalogue
    (cached for five minutes; a saved or deleted technology clears it)."""

    def names() -> dict[str, str]:
        return {slug(name): name for name in Technology.objects.values_list("name", flat=True)}

    return cache_get_or_set(TECHNOLOGY_NAMES_KEY, names, 300).get(key) or _title(key)


def _flag(value: float, yes: str, no: str) -> str:
    return yes if value >= 0.5 else no


def _ago(week: str) -> str:
    return "this week" if week == "0" else f"{week} week{'s' if week != '1' else ''} ago"


def _change(value: float) -> str:
    return f"up {value:.0%}" if value > 0 else f"down {-value:.0%}" if value < 0 else "unchanged"


# Counts lead ("3 research-page visits in the last 30 days"), so that a sentence has one colon: before
# the contribution.
PATTERNS: list[tuple[re.Pattern, callable]] = [
    (re.compile(r"^log_employees$"), lambda m, v: f"about {_approx(math.expm1(v))} employees"),
    (re.compile(r"^log_revenue$"), lambda m, v: f"annual revenue about {_money(math.expm1(v))}"),
    (re.compile(r"^company_age$"), lambda m, v: f"founded {_n(v)} years ago"),
    (re.compile(r"^industry__(.+)$"), lambda m, v: _flag(v, f"industry is {_title(m[1])}", f"industry is not {_title(m[1])}")),
    (re.compile(r"^country__(.+)$"), lambda m, v: _flag(v, f"based in {_country(m[1])}", f"not based in {_country(m[1])}")),
    (re.compile(r"^technologies$"), lambda m, v: f"{_n(v)} known technologies in use"),
    (re.compile(r"^tech__(.+)$"), lambda m, v: _flag(v, f"uses {_technology(m[1])}", f"does not use {_technology(m[1])}")),
    (re.compile(rf"^({_GROUP})_(\d+)d$"), lambda m, v: f"{_n(v)} {GROUPS[m[1]]} in the last {m[2]} days"),
    (re.compile(rf"^({_GROUP})_trend_30d$"), lambda m, v: f"{GROUPS[m[1]]} {_change(v)} on the 30 days before"),
    (re.compile(rf"^({_GROUP})_surge_7d$"), lambda m, v: f"{GROUPS[m[1]]} this week at ×{v:.1f} their 90-day rate"),
    (re.compile(rf"^({_GROUP})_days_since$"), lambda m, v: _days(v, GROUPS[m[1]].rstrip("s"))),
    (re.compile(rf"^({_GROUP})_first_in_90d$"), lambda m, v: "no " + GROUPS[m[1]] + " in the last 90 days"
     if v >= NONE_DAYS else f"{GROUPS[m[1]]} began {_n(v)} days ago (within 90 days)"),
    (re.compile(rf"^({_GROUP})_90_180d$"), lambda m, v: f"{_n(v)} {GROUPS[m[1]]} 3 to 6 months ago"),
    (re.compile(rf"^({_GROUP})_week_(\d+)$"), lambda m, v: f"{_n(v)} {GROUPS[m[1]]} {_ago(m[2])}"),
    (re.compile(r"^key__intent__(.+)_(\d+)d$"), lambda m, v: f"{_n(v)} intent signals on “{_title(m[1])}” in the last {m[2]} days"),
    (re.compile(r"^key__([a-z_]+?)__(.+)_(\d+)d$"), lambda m, v: f"{_n(v)} “/{m[2].replace('_', '-')}” {GROUPS.get(m[1], m[1])} in the last {m[3]} days"),
    (re.compile(r"^known_(\d+)d$"), lambda m, v: f"{_n(v)} events by known people in the last {m[1]} days"),
    (re.compile(r"^active_days_(\d+)d$"), lambda m, v: f"active on {_n(v)} of the last {m[1]} days"),
    (re.compile(r"^intent_topics_(\d+)d$"), lambda m, v: f"{_n(v)} distinct intent topics in the last {m[1]} days"),
    (re.compile(r"^research_pages_(\d+)d$"), lambda m, v: f"{_n(v)} distinct research pages in the last {m[1]} days"),
    (re.compile(r"^engaged_contacts_(\d+)d$"), lambda m, v: f"{_n(v)} people engaged in the last {m[1]} days"),
    (re.compile(r"^engaged_contacts_trend_30d$"), lambda m, v: f"{v:+.1f} people engaged in the last 30 days against the monthly average before"),
    (re.compile(r"^engaged_senior_(\d+)d$"), lambda m, v: f"{_n(v)} senior people (C-level, VP, director) engaged in the last {m[1]} days"),
    (re.compile(r"^engaged_departments_(\d+)d$"), lambda m, v: f"{_n(v)} departments engaged in the last {m[1]} days"),
    (re.compile(r"^persona_coverage_(\d+)d$"), lambda m, v: f"{v:.0%} of the personas engaged in the last {m[1]} days"),
    (re.compile(r"^required_persona_coverage_(\d+)d$"), lambda m, v: f"{v:.0%} of the required buying team engaged in the last {m[1]} days"),
    (re.compile(r"^opportunities$"), lambda m, v: f"{_n(v)} past opportunities"),
    (re.compile(r"^opportunities_won$"), lambda m, v: f"{_n(v)} opportunities won"),
    (re.compile(r"^opportunities_lost$"), lambda m, v: f"{_n(v)} opportunities lost"),
    (re.compile(r"^customer$"), lambda m, v: _flag(v, "is a customer", "is not a customer yet")),
    (re.compile(r"^days_since_opportunity$"), lambda m, v: _days(v, "opportunity opened")),
    (re.compile(r"^days_since_won$"), lambda m, v: _days(v, "deal won")),
    (re.compile(r"^days_since_closed$"), lambda m, v: _days(v, "deal closed")),
]  # fmt: skip


# What an unknown value (stored as null: the account has no revenue, no founded year …) reads as.
UNKNOWN = {
    "log_employees": "employee count unknown",
    "log_revenue": "annual revenue unknown",
    "company_age": "founding year unknown",
}


def describe(feature: str, value: float | None) -> str:
    """``feature`` at ``value``, in words (``None`` or NaN: unknown)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return UNKNOWN.get(feature) or f"{feature.replace('__', ' ').replace('_', ' ')} unknown"
    for pattern, words in PATTERNS:
        match = pattern.match(feature)
        if match:
            try:
                return words(match, float(value))
            except (ValueError, OverflowError, KeyError):
                break
    return f"{feature.replace('__', ' ').replace('_', ' ')} = {_n(float(value))}"


def sentence(feature: str, value: float | None, contribution: float) -> str:
    """ "<feature in words>: +0.12" (the contribution in log-odds, XGBoost's SHAP value)."""
    return f"{describe(feature, value)}: {contribution:+.2f}"


def account_explanation(score) -> list[dict]:
    """An ``AccountModelScore``'s stored top contributions, in words: here, not with the scoring code, so
    that a page showing them imports no NumPy, pandas or XGBoost."""
    return [
        {
            "feature": feature,
            "value": value,
            "contribution": contribution,
            "words": sentence(feature, value, contribution),
            "description": describe(feature, value),
        }
        for feature, value, contribution in score.contributions or []
    ]
