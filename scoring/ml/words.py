"""Feature names and values in plain words, for explanations ("pricing-page visits in 30 days: 5: +0.12").

Names follow ``scoring.ml.features``; an unknown name falls back to itself with underscores as spaces,
so a new feature never breaks an explanation.
"""

import math
import re

from accounts.choices import EventType

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


def _days(value: float, what: str) -> str:
    if value >= NONE_DAYS:
        return f"no {what} in the last 6 months"
    return f"{_n(value)} days since the last {what}"


def _title(slug: str) -> str:
    return slug.replace("_", " ").strip().capitalize() or "(blank)"


def _flag(value: float, yes: str, no: str) -> str:
    return yes if value >= 0.5 else no


PATTERNS: list[tuple[re.Pattern, callable]] = [
    (re.compile(r"^log_employees$"), lambda m, v: f"company size: {_n(round(math.expm1(v)))} employees"),
    (re.compile(r"^log_revenue$"), lambda m, v: f"annual revenue: ${_n(round(math.expm1(v)))}"),
    (re.compile(r"^company_age$"), lambda m, v: f"company age: {_n(v)} years"),
    (re.compile(r"^industry__(.+)$"), lambda m, v: _flag(v, f"industry is {_title(m[1])}", f"industry is not {_title(m[1])}")),
    (re.compile(r"^country__(.+)$"), lambda m, v: _flag(v, f"country is {m[1].upper()}", f"country is not {m[1].upper()}")),
    (re.compile(r"^technologies$"), lambda m, v: f"{_n(v)} known technologies in use"),
    (re.compile(r"^tech__(.+)$"), lambda m, v: _flag(v, f"uses {_title(m[1])}", f"does not use {_title(m[1])}")),
    (re.compile(rf"^({_GROUP})_(\d+)d$"), lambda m, v: f"{GROUPS[m[1]]} in the last {m[2]} days: {_n(v)}"),
    (re.compile(rf"^({_GROUP})_trend_30d$"), lambda m, v: f"{GROUPS[m[1]]}, last 30 days vs the 30 before: {v:+.0%}"),
    (re.compile(rf"^({_GROUP})_surge_7d$"), lambda m, v: f"{GROUPS[m[1]]}, this week's rate vs the 90-day rate: ×{v:.1f}"),
    (re.compile(rf"^({_GROUP})_days_since$"), lambda m, v: _days(v, GROUPS[m[1]].rstrip("s"))),
    (re.compile(rf"^({_GROUP})_first_in_90d$"), lambda m, v: "no " + GROUPS[m[1]] + " in the last 90 days"
     if v >= NONE_DAYS else f"{GROUPS[m[1]]} began {_n(v)} days ago (within 90 days)"),
    (re.compile(rf"^({_GROUP})_90_180d$"), lambda m, v: f"{GROUPS[m[1]]} 3 to 6 months ago: {_n(v)}"),
    (re.compile(rf"^({_GROUP})_week_(\d+)$"), lambda m, v: f"{GROUPS[m[1]]} "
     + ("this week" if m[2] == "0" else f"{m[2]} week{'s' if m[2] != '1' else ''} ago") + f": {_n(v)}"),
    (re.compile(r"^key__intent__(.+)_(\d+)d$"), lambda m, v: f"intent on “{_title(m[1])}” in the last {m[2]} days: {_n(v)}"),
    (re.compile(r"^key__([a-z_]+?)__(.+)_(\d+)d$"), lambda m, v: f"“/{m[2].replace('_', '-')}” {GROUPS.get(m[1], m[1])} in the last {m[3]} days: {_n(v)}"),
    (re.compile(r"^known_(\d+)d$"), lambda m, v: f"events by known people in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^active_days_(\d+)d$"), lambda m, v: f"active days in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^intent_topics_(\d+)d$"), lambda m, v: f"distinct intent topics in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^research_pages_(\d+)d$"), lambda m, v: f"distinct research pages in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^engaged_contacts_(\d+)d$"), lambda m, v: f"people engaged in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^engaged_contacts_trend_30d$"), lambda m, v: f"people engaged, last 30 days vs the monthly average before: {v:+.1f}"),
    (re.compile(r"^engaged_senior_(\d+)d$"), lambda m, v: f"senior people (C-level, VP, director) engaged in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^engaged_departments_(\d+)d$"), lambda m, v: f"departments engaged in the last {m[1]} days: {_n(v)}"),
    (re.compile(r"^persona_coverage_(\d+)d$"), lambda m, v: f"share of personas engaged in the last {m[1]} days: {v:.0%}"),
    (re.compile(r"^required_persona_coverage_(\d+)d$"), lambda m, v: f"share of the required buying team engaged in the last {m[1]} days: {v:.0%}"),
    (re.compile(r"^opportunities$"), lambda m, v: f"past opportunities: {_n(v)}"),
    (re.compile(r"^opportunities_won$"), lambda m, v: f"opportunities won: {_n(v)}"),
    (re.compile(r"^opportunities_lost$"), lambda m, v: f"opportunities lost: {_n(v)}"),
    (re.compile(r"^customer$"), lambda m, v: _flag(v, "is a customer", "is not a customer yet")),
    (re.compile(r"^days_since_opportunity$"), lambda m, v: _days(v, "opportunity opened")),
    (re.compile(r"^days_since_won$"), lambda m, v: _days(v, "deal won")),
    (re.compile(r"^days_since_closed$"), lambda m, v: _days(v, "deal closed")),
]  # fmt: skip


def describe(feature: str, value: float) -> str:
    """``feature`` at ``value``, in words."""
    for pattern, words in PATTERNS:
        match = pattern.match(feature)
        if match:
            try:
                return words(match, float(value))
            except (ValueError, OverflowError, KeyError):
                break
    return f"{feature.replace('__', ': ').replace('_', ' ')}: {_n(float(value))}"


def sentence(feature: str, value: float, contribution: float) -> str:
    """ "<feature in words>: +0.12" (the contribution in log-odds, XGBoost's SHAP value)."""
    return f"{describe(feature, value)}: {contribution:+.2f}"
