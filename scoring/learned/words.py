"""Feature names and values in plain words, for explanations ("5 research-page visits … in the last 30
days: +12 pts (strong raise)").

Names follow ``scoring.learned.features``; an unknown name falls back to itself with underscores as spaces,
so a new feature never breaks an explanation. Counts agree with their nouns ("1 intent signal"); a
contribution (log-odds, kept for the API and the pages' tooltips) is shown as the percentage points it
adds to the account's probability and a strength word (``scoring.engine.words``).
"""

import math
import re

from django_countries import countries

from accounts.choices import EventType
from accounts.models import Technology
from revops.safecache import cache_get_or_set
from scoring.engine.words import plural, points_text, probability_points, strength

# Each group of events: (one, several), so that a count reads right ("1 intent signal", "2 intent signals").
GROUP_NOUNS: dict[str, tuple[str, str]] = {
    "all": ("engagement or intent event", "engagement and intent events"),
    "intent": ("intent signal", "intent signals"),
    "first_party": ("first-party visit or action", "first-party visits and actions"),
    "research": (
        "research-page visit (pricing, comparisons, case studies)",
        "research-page visits (pricing, comparisons, case studies)",
    ),
    "high_intent": ("demo request, trial or meeting", "demo requests, trials and meetings"),
    **{value: (f"{label.lower()} event", f"{label.lower()} events") for value, label in EventType.choices},
}
GROUPS = {key: several for key, (_one, several) in GROUP_NOUNS.items()}
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


def _count(value: float, one: str, several: str | None = None) -> str:
    """A count and its noun in agreement: "1 intent signal", "3 intent signals", "2.5 days"."""
    return plural(value, one, several, shown=_n(value))


def _noun(shown: str, one: str, several: str | None = None) -> str:
    """The noun for a count already written as ``shown``: "1" takes the singular."""
    return one if shown == "1" else (several or one + "s")


def _group(key: str, value: float) -> str:
    return _count(value, *GROUP_NOUNS[key])


def _days(value: float, one: str, several: str) -> str:
    if value >= NONE_DAYS:
        return f"no {several} in the last 6 months"
    return f"{_count(value, 'day')} since the last {one}"


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


def _signed_people(value: float) -> str:
    shown = f"{value:+.1f}".replace(".0", "") if abs(value) % 1 < 0.05 else f"{value:+.1f}"
    return f"{shown} {'person' if shown in ('+1', '-1') else 'people'}"


def _change(value: float) -> str:
    return f"up {value:.0%}" if value > 0 else f"down {-value:.0%}" if value < 0 else "unchanged"


# Counts lead ("3 research-page visits in the last 30 days"), so that a sentence has one colon: before
# the contribution.
PATTERNS: list[tuple[re.Pattern, callable]] = [
    (re.compile(r"^log_employees$"), lambda m, v: f"about {_approx(math.expm1(v))} {_noun(_approx(math.expm1(v)), 'employee')}"),
    (re.compile(r"^log_revenue$"), lambda m, v: f"annual revenue about {_money(math.expm1(v))}"),
    (re.compile(r"^company_age$"), lambda m, v: f"founded {_count(v, 'year')} ago"),
    (re.compile(r"^industry__(.+)$"), lambda m, v: _flag(v, f"industry is {_title(m[1])}", f"industry is not {_title(m[1])}")),
    (re.compile(r"^country__(.+)$"), lambda m, v: _flag(v, f"based in {_country(m[1])}", f"not based in {_country(m[1])}")),
    (re.compile(r"^technologies$"), lambda m, v: f"{_count(v, 'known technology', 'known technologies')} in use"),
    (re.compile(r"^tech__(.+)$"), lambda m, v: _flag(v, f"uses {_technology(m[1])}", f"does not use {_technology(m[1])}")),
    (re.compile(rf"^({_GROUP})_(\d+)d$"), lambda m, v: f"{_group(m[1], v)} in the last {m[2]} days"),
    (re.compile(rf"^({_GROUP})_trend_30d$"), lambda m, v: f"{GROUPS[m[1]]} {_change(v)} on the 30 days before"),
    (re.compile(rf"^({_GROUP})_surge_7d$"), lambda m, v: f"{GROUPS[m[1]]} this week at ×{v:.1f} their 90-day rate"),
    (re.compile(rf"^({_GROUP})_days_since$"), lambda m, v: _days(v, *GROUP_NOUNS[m[1]])),
    (re.compile(rf"^({_GROUP})_first_in_90d$"), lambda m, v: "no " + GROUPS[m[1]] + " in the last 90 days"
     if v >= NONE_DAYS else f"{GROUPS[m[1]]} began {_count(v, 'day')} ago (within 90 days)"),
    (re.compile(rf"^({_GROUP})_90_180d$"), lambda m, v: f"{_group(m[1], v)} 3 to 6 months ago"),
    (re.compile(rf"^({_GROUP})_week_(\d+)$"), lambda m, v: f"{_group(m[1], v)} {_ago(m[2])}"),
    (re.compile(r"^key__intent__(.+)_(\d+)d$"), lambda m, v: f"{_count(v, 'intent signal')} on “{_title(m[1])}” in the last {m[2]} days"),
    (re.compile(r"^key__([a-z_]+?)__(.+)_(\d+)d$"), lambda m, v: f"{_n(v)} “/{m[2].replace('_', '-')}” {_noun(_n(v), *GROUP_NOUNS.get(m[1], (m[1], m[1])))} in the last {m[3]} days"),
    (re.compile(r"^known_(\d+)d$"), lambda m, v: f"{_count(v, 'event')} by known people in the last {m[1]} days"),
    (re.compile(r"^active_days_(\d+)d$"), lambda m, v: f"active on {_n(v)} of the last {m[1]} days"),
    (re.compile(r"^intent_topics_(\d+)d$"), lambda m, v: f"{_count(v, 'distinct intent topic')} in the last {m[1]} days"),
    (re.compile(r"^research_pages_(\d+)d$"), lambda m, v: f"{_count(v, 'distinct research page')} in the last {m[1]} days"),
    (re.compile(r"^engaged_contacts_(\d+)d$"), lambda m, v: f"{_count(v, 'person', 'people')} engaged in the last {m[1]} days"),
    (re.compile(r"^engaged_contacts_trend_30d$"), lambda m, v: f"{_signed_people(v)} engaged in the last 30 days against the monthly average before"),
    (re.compile(r"^engaged_senior_(\d+)d$"), lambda m, v: f"{_count(v, 'senior person', 'senior people')} (C-level, VP, director) engaged in the last {m[1]} days"),
    (re.compile(r"^engaged_departments_(\d+)d$"), lambda m, v: f"{_count(v, 'department')} engaged in the last {m[1]} days"),
    (re.compile(r"^persona_coverage_(\d+)d$"), lambda m, v: f"{v:.0%} of the personas engaged in the last {m[1]} days"),
    (re.compile(r"^required_persona_coverage_(\d+)d$"), lambda m, v: f"{v:.0%} of the required buying team engaged in the last {m[1]} days"),
    (re.compile(r"^opportunities$"), lambda m, v: _count(v, "past opportunity", "past opportunities")),
    (re.compile(r"^opportunities_won$"), lambda m, v: f"{_count(v, 'opportunity', 'opportunities')} won"),
    (re.compile(r"^opportunities_lost$"), lambda m, v: f"{_count(v, 'opportunity', 'opportunities')} lost"),
    (re.compile(r"^customer$"), lambda m, v: _flag(v, "is a customer", "is not a customer yet")),
    (re.compile(r"^days_since_opportunity$"), lambda m, v: _days(v, "opportunity opened", "opportunities opened")),
    (re.compile(r"^days_since_won$"), lambda m, v: _days(v, "deal won", "deals won")),
    (re.compile(r"^days_since_closed$"), lambda m, v: _days(v, "deal closed", "deals closed")),
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


def effect(contribution: float, probability: float | None) -> dict:
    """A contribution (log-odds) as people read it, for an account whose probability is ``probability``:
    ``probability_points`` (the points it adds or takes, ``scoring.engine.words``), ``points`` ("+12 pts")
    and ``strength`` ("strong raise"). Without a probability there are no points: only the log-odds."""
    if probability is None:
        return {"probability_points": None, "points": f"{contribution:+.2f} log-odds", "strength": ""}
    points = probability_points(probability, contribution)
    return {
        "probability_points": round(points, 2),
        "points": points_text(points),
        "strength": strength(points),
    }


def sentence(feature: str, value: float | None, contribution: float, probability: float | None = None) -> str:
    """ "<feature in words>: +12 pts (strong raise)" — the contribution as percentage points of the
    account's ``probability``; without one, as log-odds ("…: +0.12 log-odds")."""
    shown = effect(contribution, probability)
    strength_words = f" ({shown['strength']})" if shown["strength"] else ""
    return f"{describe(feature, value)}: {shown['points']}{strength_words}"


def explanation_item(
    feature: str, value: float | None, contribution: float, probability: float | None
) -> dict:
    """One contribution in words, with its log-odds (``contribution``) kept for tooltips and the API."""
    return {
        "feature": feature,
        "value": value,
        "contribution": contribution,
        **effect(contribution, probability),
        "words": sentence(feature, value, contribution, probability),
        "description": describe(feature, value),
    }


def account_explanation(score) -> list[dict]:
    """An ``AccountModelScore``'s stored top contributions, in words, each as the points it adds to the
    score's in-market probability: here, not with the scoring code, so that a page showing them imports
    no NumPy, pandas or XGBoost."""
    probability = getattr(score, "in_market", None)
    items = []
    for entry in score.contributions or []:
        try:
            feature, value, contribution = entry[0], entry[1], float(entry[2])
        except (TypeError, ValueError, IndexError, KeyError):
            continue  # a malformed stored entry: left out, not a broken page
        if not math.isfinite(contribution):
            continue
        items.append(explanation_item(str(feature), value, contribution, probability))
    return items
