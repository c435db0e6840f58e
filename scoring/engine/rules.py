"""The rules engine: fit and engagement points, exclusions, fast-track, MQL — as of a date.

Pure: no Django, no database. Two implementations of one semantics:

* ``evaluate`` scores a whole population at once (NumPy/pandas): fit predicates run once per
  *distinct* value and are gathered back by code; engagement rules are masks over the activity
  rows and ``np.bincount`` per contact. Used by the batch rescore and the what-if replay.
* ``score_contact`` / ``score_account`` score one record with plain Python, for instant feedback
  (the incremental rescore after an event or an edit).

They must give the same numbers to the last bit: a hypothesis property test holds them together.
To make that possible both add in the same order (rules in rule order; activity rows sorted by
(entity, day, event type, key)), use the same predicate functions, and round each rule's points
and each total the same way (``_round``).

Semantics of an engagement rule as of day T, for one contact (or, for anonymous activity, account):
the matching activity rows are those with day ≤ T, within ``window_days`` (age = T − day < window),
of the rule's event type / URL pattern (regular expression searched in the URL path) / topic /
campaign. If their event count is below ``min_count`` the rule gives nothing. Otherwise a
repeatable rule gives ``points × Σ count × decay(age)``, a once-only rule ``points × decay(age of the
most recent match)``, where ``decay(age) = 0.5 ** (age / half_life)`` (1 without a half-life). A cap
bounds the rule's points in absolute value. Fit rules give their points when the predicate holds.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from scoring.engine.words import plural

EPOCH = datetime.date(1970, 1, 1)
CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "country",
    "persona",
)
ACCOUNT_FIELDS = ("industry", "employee_count", "annual_revenue", "country", "domain", "name", "technologies")
NUMERIC_FIELDS = {"account.employee_count", "account.annual_revenue"}


def day_ordinal(day: datetime.date) -> int:
    return (day - EPOCH).days


def _round(x):
    """The one rounding both engines use (NumPy's, on scalars and arrays alike)."""
    return np.round(x, 6)


# --- the compiled ruleset ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSpec:
    id: int
    name: str
    kind: str  # "fit" | "engagement"
    points: float
    field: str = ""
    operator: str = ""
    value: Any = None
    event_type: str = ""
    url_pattern: str = ""
    topic: str = ""
    campaign_id: int | None = None
    min_count: int = 1
    window_days: int | None = None
    repeatable: bool = False
    cap: float | None = None
    half_life_days: float | None = None

    @property
    def account_scope(self) -> bool:
        return self.field.startswith("account.")


@dataclass(frozen=True)
class RulesetSpec:
    id: int
    number: int
    rules: tuple[RuleSpec, ...]
    required_fields: tuple[str, ...] = ()
    mql_fit_min: float = 0.0
    mql_engagement_min: float = 0.0
    recycle_below: float = 0.0
    fit_a: float = 40.0
    fit_b: float = 20.0
    engagement_1: float = 60.0
    engagement_2: float = 30.0
    sal_enabled: bool = True
    exclude_free_mail: bool = True
    free_mail_domains: frozenset[str] = frozenset()
    excluded_title_pattern: str = ""
    excluded_industries: frozenset[str] = frozenset()
    excluded_countries: frozenset[str] = frozenset()
    competitor_domains: frozenset[str] = frozenset()
    fast_track: tuple[str, ...] = ()
    fast_track_days: int = 90

    @property
    def fit_rules(self) -> list[RuleSpec]:
        return [r for r in self.rules if r.kind == "fit"]

    @property
    def engagement_rules(self) -> list[RuleSpec]:
        return [r for r in self.rules if r.kind == "engagement"]

    @property
    def lookback_days(self) -> int | None:
        """How far back activity matters (None: all history)."""
        windows = [r.window_days for r in self.engagement_rules]
        if any(w is None for w in windows):
            return None
        return max([*windows, self.fast_track_days])

    @property
    def campaign_ids(self) -> set[int]:
        return {r.campaign_id for r in self.engagement_rules if r.campaign_id is not None}


# --- predicates (shared by both engines) -------------------------------------------------------------
def _text(value: Any) -> str | None:
    """A value as comparable text: trimmed, lower case; 200.0 → "200"; missing → None."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    return text or None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


def _email_domain(value: str) -> str:
    return value.rsplit("@", 1)[-1]


def fit_predicate(rule: RuleSpec) -> Callable[[Any], bool]:
    """``value → bool`` for a fit rule; list values (technologies, custom lists) match if any element does.

    What the rule compares with is made comparable once (its text, its set of texts, its bounds), and a
    list's elements are each tested once per predicate: the same technology appears in thousands of
    accounts' lists, and the engine asks once per distinct list (``_gather``)."""
    op, target = rule.operator, rule.value
    if op == "range":
        bounds = target or {}
        low, high = _number(bounds.get("min")), _number(bounds.get("max"))
    elif op in ("in", "email_domain"):
        wanted = {_text(v) for v in (target or [])}
    elif op in ("equals", "contains"):
        needle = _text(target)

    def scalar(value: Any) -> bool:
        if op == "range":
            number = _number(value)
            return number is not None and (low is None or number >= low) and (high is None or number <= high)
        text = _text(value)
        if text is None:
            return False
        if op == "equals":
            return text == needle
        if op == "in":
            return text in wanted
        if op == "contains":
            return needle is not None and needle in text
        if op == "regex":
            return bool(_regex(str(target)).search(text))
        if op == "email_domain":
            return _email_domain(text) in wanted
        raise ValueError(f"unknown operator {op!r}")

    elements: dict[tuple[type, Any], bool] = {}  # a list element's answer, by its type and value (1 ≠ True)

    def element(value: Any) -> bool:
        key = (type(value), value)
        try:
            return elements[key]
        except KeyError:
            answer = elements[key] = scalar(value)
            return answer
        except TypeError:  # not hashable: asked each time
            return scalar(value)

    def predicate(value: Any) -> bool:
        if isinstance(value, list | tuple):
            return any(element(v) for v in value)
        return scalar(value)

    return predicate


def field_value(record: dict, path: str) -> Any:
    """A rule's field of a contact record (``custom.x``, ``account.y``, ``account.custom.z``)."""
    if path.startswith("account.custom."):
        return _hashable((record.get("account.custom") or {}).get(path[len("account.custom.") :]))
    if path.startswith("custom."):
        return _hashable((record.get("custom") or {}).get(path[len("custom.") :]))
    return record.get(path)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return None  # nested objects are not comparable values
    return value


def exclusion_reason(spec: RulesetSpec, record: dict) -> str:
    """Why a contact is disqualified whatever its points ("" if not)."""
    email = _text(record.get("email")) or ""
    domain = _email_domain(email) if "@" in email else ""
    account_domain = _text(record.get("account.domain")) or ""
    if spec.competitor_domains and (
        domain in spec.competitor_domains or account_domain in spec.competitor_domains
    ):
        return "competitor"
    if spec.exclude_free_mail and domain in spec.free_mail_domains:
        return f"free-mail address ({domain})"
    title = _text(record.get("title"))
    if spec.excluded_title_pattern and title and _regex(spec.excluded_title_pattern).search(title):
        return f"title excluded ({record.get('title')})"
    industry = _text(record.get("account.industry"))
    if industry and industry in spec.excluded_industries:
        return f"industry outside the ICP ({record.get('account.industry')})"
    for key in ("country", "account.country"):
        country = (_text(record.get(key)) or "").upper()
        if country and country in spec.excluded_countries:
            return f"country outside the ICP ({country})"
    return ""


def missing_fields(spec: RulesetSpec, record: dict) -> str:
    missing = []
    for name in spec.required_fields:
        value = record.get("account_id") if name == "account" else field_value(record, name)
        if name == "account":
            if value is None or (isinstance(value, float) and math.isnan(value)):
                missing.append(name)
        elif _text(value) is None:
            missing.append(name)
    return ",".join(missing)


def fit_grade(spec: RulesetSpec, fit: float) -> str:
    return "A" if fit >= spec.fit_a else "B" if fit >= spec.fit_b else "C"


def engagement_grade(spec: RulesetSpec, engagement: float) -> str:
    return "1" if engagement >= spec.engagement_1 else "2" if engagement >= spec.engagement_2 else "3"


def activity_matcher(rule: RuleSpec) -> Callable[[str, str], bool]:
    """``(event_type, key) → bool`` for an engagement rule (campaign and window checked elsewhere)."""
    topic = (rule.topic or "").strip().lower()
    pattern = _regex(rule.url_pattern) if rule.url_pattern else None

    def match(event_type: str, key: str) -> bool:
        if rule.event_type and event_type != rule.event_type:
            return False
        if topic and key != topic:
            return False
        return not (pattern is not None and not pattern.search(key))

    return match


def _decay(rule: RuleSpec, age):
    if not rule.half_life_days:
        return 1.0 if np.isscalar(age) else np.ones(len(age))
    return np.power(0.5, np.asarray(age, dtype=np.float64) / rule.half_life_days)


def _capped(rule: RuleSpec, points):
    if rule.cap is None:
        return points
    return np.sign(points) * np.minimum(np.abs(points), rule.cap)


# --- one record at a time -------------------------------------------------------------------------------
@dataclass
class ContactResult:
    contact_id: int
    fit: float
    engagement: float
    fit_grade: str
    engagement_grade: str
    excluded: str
    missing: str
    mql: bool
    fast_track: str
    fast_track_day: int | None
    explanation: list = field(default_factory=list)


Activity = tuple  # (day ordinal, event type, key, count) or, for campaign rows, (…, count, campaign id)


def engagement_points_scalar(
    rule: RuleSpec, rows: Sequence[Activity], campaign_rows: Sequence[Activity], as_of: int
) -> float:
    """One engagement rule for one entity; ``rows`` sorted by (day, event type, key)."""
    match = activity_matcher(rule)
    source = [r for r in campaign_rows if r[4] == rule.campaign_id] if rule.campaign_id is not None else rows
    n = 0
    total = np.float64(0.0)
    newest_age = None
    for day, event_type, key, count, *_ in source:
        age = as_of - day
        if age < 0 or (rule.window_days is not None and age >= rule.window_days):
            continue
        if not match(event_type, key):
            continue
        n += count
        total = total + count * _decay(rule, age)
        newest_age = age if newest_age is None else min(newest_age, age)
    if n == 0 or n < rule.min_count:
        return 0.0
    points = rule.points * total if rule.repeatable else rule.points * _decay(rule, newest_age)
    return float(_round(_capped(rule, np.float64(points))))


def fast_track_scalar(spec: RulesetSpec, rows: Sequence[Activity], as_of: int) -> tuple[str, int | None]:
    best: tuple[int, str] | None = None
    for day, event_type, _key, _count, *_ in rows:
        if event_type not in spec.fast_track or not 0 <= as_of - day < spec.fast_track_days:
            continue
        if best is None or day > best[0] or (day == best[0] and event_type < best[1]):
            best = (day, event_type)
    return (best[1], best[0]) if best else ("", None)


def score_contact(
    spec: RulesetSpec,
    record: dict,
    activity: Sequence[Activity],
    campaign_activity: Sequence[Activity] = (),
    *,
    as_of: datetime.date,
) -> ContactResult:
    """Score one contact. ``record`` holds contact fields and ``account.*`` fields (see ``evaluate``)."""
    t = day_ordinal(as_of)
    fit = np.float64(0.0)
    engagement = np.float64(0.0)
    explanation = []
    for rule in spec.rules:
        if rule.kind == "fit":
            fired = fit_predicate(rule)(field_value(record, rule.field))
            points = float(_round(np.float64(rule.points))) if fired else 0.0
            fit = fit + points
        else:
            points = engagement_points_scalar(rule, activity, campaign_activity, t)
            engagement = engagement + points
        if points != 0.0:
            explanation.append([rule.id, rule.name, points])
    fit, engagement = float(_round(fit)), float(_round(engagement))
    excluded = exclusion_reason(spec, record)
    missing = missing_fields(spec, record)
    fast_track, fast_track_day = fast_track_scalar(spec, activity, t)
    return ContactResult(
        contact_id=int(record["contact_id"]),
        fit=fit,
        engagement=engagement,
        fit_grade=fit_grade(spec, fit),
        engagement_grade=engagement_grade(spec, engagement),
        excluded=excluded,
        missing=missing,
        mql=not excluded
        and not missing
        and fit >= spec.mql_fit_min
        and engagement >= spec.mql_engagement_min,
        fast_track=fast_track,
        fast_track_day=fast_track_day,
        explanation=explanation,
    )


@dataclass
class AccountResult:
    account_id: int
    fit: float
    engagement: float
    anonymous_engagement: float
    fit_grade: str
    engagement_grade: str
    explanation: list = field(default_factory=list)


def score_account(
    spec: RulesetSpec,
    record: dict,
    contacts: Sequence[ContactResult],
    anonymous: Sequence[Activity] = (),
    anonymous_campaign: Sequence[Activity] = (),
    *,
    as_of: datetime.date,
) -> AccountResult:
    """Roll up an account: the best fit of its account fields and of its (not excluded) contacts; the
    engagement of its contacts plus that of anonymous activity resolved to it. ``contacts`` sorted by id.
    """
    t = day_ordinal(as_of)
    own_fit = np.float64(0.0)
    for rule in spec.fit_rules:
        if fit_predicate(rule)(field_value(record, rule.field)):
            own_fit = own_fit + float(_round(np.float64(rule.points)))
    fit = float(_round(own_fit))
    anonymous_total = np.float64(0.0)
    explanation = []
    for rule in spec.engagement_rules:
        points = engagement_points_scalar(rule, anonymous, anonymous_campaign, t)
        anonymous_total = anonymous_total + points
        if points != 0.0:
            explanation.append([rule.id, f"{rule.name} (anonymous)", points])
    known = np.float64(0.0)
    counted = 0
    best = None
    for c in contacts:
        if c.excluded:
            continue
        counted += 1
        known = known + c.engagement
        if c.fit > fit:
            fit, best = c.fit, c
    anonymous_points = float(_round(anonymous_total))
    engagement = float(_round(known + anonymous_points))
    if counted:
        explanation.append([None, f"Engagement of {plural(counted, 'known contact')}", float(_round(known))])
    if best is not None:
        explanation.append([None, f"Best-fitting contact #{best.contact_id}", best.fit])
    return AccountResult(
        account_id=int(record["account_id"]),
        fit=fit,
        engagement=engagement,
        anonymous_engagement=anonymous_points,
        fit_grade=fit_grade(spec, fit),
        engagement_grade=engagement_grade(spec, engagement),
        explanation=explanation,
    )


class _Explain:
    """Per-rule points kept beside a result frame, to explain rows on demand.

    Lives in ``frame.attrs``; pandas deep-copies attrs into every derived frame, so copying returns
    the same object (it is never mutated)."""

    def __init__(self, **arrays):
        self.__dict__.update(arrays)

    def __deepcopy__(self, memo):
        return self


# --- the whole population at once ----------------------------------------------------------------------
ACTIVITY_COLUMNS = ["entity", "day", "event_type", "key", "count"]
CAMPAIGN_COLUMNS = [*ACTIVITY_COLUMNS, "campaign_id"]


@dataclass
class Population:
    """What the engine reads, as frames.

    ``contacts``: one row per contact, sorted by ``contact_id``, with ``account_id`` (NaN: none), the
    contact fields of ``CONTACT_FIELDS``, ``custom`` (dict or None) and ``account.<field>`` columns
    (``account.technologies`` a tuple of names, ``account.custom`` a dict or None).
    ``accounts``: one row per account, sorted by ``account_id``, with the ``account.*`` columns.
    ``activity``: contact rollups ``entity`` (= contact id), ``day`` (ordinal), ``event_type``, ``key``,
    ``count``, sorted by (entity, day, event_type, key); ``anonymous``: the same per account for
    activity of no known contact; ``campaign_activity``/``anonymous_campaign``: as those, per
    campaign (only what campaign rules need).
    """

    contacts: pd.DataFrame
    accounts: pd.DataFrame
    activity: pd.DataFrame
    anonymous: pd.DataFrame
    campaign_activity: pd.DataFrame | None = None
    anonymous_campaign: pd.DataFrame | None = None

    def contact_record(self, i: int) -> dict:
        return self.contacts.iloc[i].to_dict()


def empty_activity(campaign: bool = False) -> pd.DataFrame:
    columns = CAMPAIGN_COLUMNS if campaign else ACTIVITY_COLUMNS
    return pd.DataFrame(
        {
            c: pd.Series(dtype="int64" if c in {"entity", "day", "count", "campaign_id"} else object)
            for c in columns
        }
    )


def _gather(values: Iterable[Any], predicate: Callable[[Any], bool]) -> np.ndarray:
    """Evaluate ``predicate`` once per distinct value; gather the answers back for every row.

    ``values``: a Series of plain (hashable) values, or a list (already ``_hashable``)."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    answers = np.array([predicate(u) for u in uniques] + [predicate(None)], dtype=bool)
    return answers[codes]  # code -1 (missing) takes the last answer: predicate(None)


def _column(frame: pd.DataFrame, path: str) -> pd.Series | list:
    """A rule's field for every row: the column itself, or custom values made hashable."""
    for prefix, column in (("account.custom.", "account.custom"), ("custom.", "custom")):
        if path.startswith(prefix):
            key = path[len(prefix) :]
            source = frame[column] if column in frame else [None] * len(frame)
            return [_hashable(d.get(key)) if isinstance(d, dict) else None for d in source]
    if path not in frame:
        return [None] * len(frame)
    return frame[path]


def _fit_points(spec: RulesetSpec, frame: pd.DataFrame) -> list[tuple[RuleSpec, np.ndarray]]:
    out = []
    for rule in spec.fit_rules:
        fired = _gather(_column(frame, rule.field), fit_predicate(rule))
        out.append((rule, np.where(fired, _round(np.float64(rule.points)), 0.0)))
    return out


class _ActivityIndex:
    """Activity rows with the entity mapped to a row position, their age, and factorized keys."""

    def __init__(self, frame: pd.DataFrame | None, positions: pd.Index, as_of: int, campaign: bool = False):
        frame = frame if frame is not None else empty_activity(campaign)
        pos = positions.get_indexer(frame["entity"].to_numpy()) if len(frame) else np.empty(0, dtype=np.int64)
        age = as_of - frame["day"].to_numpy(dtype=np.int64)
        keep = (pos >= 0) & (age >= 0)
        self.pos = pos[keep]
        self.age = age[keep]
        self.count = frame["count"].to_numpy(dtype=np.int64)[keep]
        self.type_codes, self.types = pd.factorize(frame["event_type"].to_numpy(dtype=object)[keep])
        self.key_codes, self.keys = pd.factorize(frame["key"].to_numpy(dtype=object)[keep])
        self.campaign = frame["campaign_id"].to_numpy(dtype=np.int64)[keep] if campaign else None

    def rule_mask(self, rule: RuleSpec) -> np.ndarray:
        match = activity_matcher(rule)
        # The matcher runs once per (type, key) pair that occurs, not once per row.
        pairs = self.type_codes.astype(np.int64) * (len(self.keys) + 1) + self.key_codes
        codes, uniques = pd.factorize(pairs)
        n_keys = len(self.keys) + 1
        answers = np.array(
            [match(self.types[u // n_keys], self.keys[u % n_keys]) for u in uniques], dtype=bool
        )
        mask = answers[codes] if len(codes) else np.zeros(0, dtype=bool)
        if rule.window_days is not None:
            mask &= self.age < rule.window_days
        if self.campaign is not None:
            mask &= self.campaign == rule.campaign_id
        return mask


def _engagement_points(rule: RuleSpec, index: _ActivityIndex, n: int) -> np.ndarray:
    mask = index.rule_mask(rule)
    pos, age, count = index.pos[mask], index.age[mask], index.count[mask]
    events = np.bincount(pos, weights=count, minlength=n)
    if rule.repeatable:
        decayed = np.zeros(n, dtype=np.float64)
        weighted = count * _decay(rule, age)
        # Sequential sums in row order, as the scalar engine adds (np.add.at is unbuffered, in order).
        np.add.at(decayed, pos, weighted)
        points = rule.points * decayed
    else:
        newest = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(newest, pos, age)
        has = newest != np.iinfo(np.int64).max
        factor = np.ones(n, dtype=np.float64)
        if rule.half_life_days:
            factor[has] = _decay(rule, newest[has])
        points = rule.points * factor
    fires = (events > 0) & (events >= rule.min_count)
    return np.where(fires, _round(_capped(rule, points)), 0.0)


def _engagement_sources(
    population: Population, spec: RulesetSpec, positions: pd.Index, t: int, anonymous: bool
):
    plain = population.anonymous if anonymous else population.activity
    campaign = population.anonymous_campaign if anonymous else population.campaign_activity
    return _ActivityIndex(plain, positions, t), _ActivityIndex(campaign, positions, t, campaign=True)


def _fast_track(spec: RulesetSpec, index: _ActivityIndex, n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Most recent fast-track action per entity: (type or "", day ordinal or -1)."""
    kinds = np.full(n, "", dtype=object)
    days = np.full(n, -1, dtype=np.int64)
    if not spec.fast_track or not len(index.pos):
        return kinds, days
    types = np.asarray(index.types, dtype=object)[index.type_codes]
    mask = np.isin(types, list(spec.fast_track)) & (index.age < spec.fast_track_days)
    if not mask.any():
        return kinds, days
    frame = pd.DataFrame({"pos": index.pos[mask], "age": index.age[mask], "type": types[mask]})
    # Newest day first; on the same day the smallest type name (the scalar engine's tie-break).
    frame = frame.sort_values(["pos", "age", "type"]).drop_duplicates("pos")
    kinds[frame["pos"].to_numpy()] = frame["type"].to_numpy()
    days[frame["pos"].to_numpy()] = t - frame["age"].to_numpy()
    return kinds, days


def _isin(values: np.ndarray, options) -> np.ndarray:
    """Membership of each value (a hash lookup, as pandas does it)."""
    return pd.Series(values, dtype=object, copy=False).isin(list(options)).to_numpy()


def _exclusions(spec: RulesetSpec, frame: pd.DataFrame) -> np.ndarray:
    """``exclusion_reason`` for every row: each test once per distinct value, the first that holds
    wins (the scalar order), and its reason text built only for the rows it excludes."""
    n = len(frame)
    if not n:
        return np.empty(0, dtype=object)

    def raw(name) -> np.ndarray:
        return frame[name].to_numpy(dtype=object) if name in frame else np.full(n, None, dtype=object)

    def text(name, upper: bool = False) -> np.ndarray:
        """``_text(v) or ""`` per row (upper-cased), computed once per distinct value."""
        codes, uniques = pd.factorize(pd.Series(raw(name), dtype=object), use_na_sentinel=True)
        answers = [_text(u) or "" for u in uniques] + [""]
        return np.array([a.upper() for a in answers] if upper else answers, dtype=object)[codes]

    # E-mails are nearly all distinct: one pass of plain string methods (what ``_text`` does to text).
    domain = np.array(
        [
            e.rpartition("@")[2] if "@" in e else ""
            for e in (v.strip().lower() if isinstance(v, str) else _text(v) or "" for v in raw("email"))
        ],
        dtype=object,
    )
    account_domain = text("account.domain")
    industry, country, account_country = (
        text("account.industry"),
        text("country", True),
        text("account.country", True),
    )
    title = raw("title")
    pattern = _regex(spec.excluded_title_pattern) if spec.excluded_title_pattern else None
    competitors, free_mail = list(spec.competitor_domains), list(spec.free_mail_domains)
    tests = [  # (excluded rows, their reasons)
        (
            (_isin(domain, competitors) | _isin(account_domain, competitors)) & bool(competitors),
            lambda rows: np.full(len(rows), "competitor", dtype=object),
        ),
        (
            _isin(domain, free_mail) & spec.exclude_free_mail,
            lambda rows: "free-mail address (" + domain[rows] + ")",
        ),
        (
            _gather(
                pd.Series(title, dtype=object),
                lambda t: bool(pattern and _text(t) and pattern.search(_text(t))),
            ),
            lambda rows: np.array([f"title excluded ({t})" for t in title[rows]], dtype=object),
        ),
        (
            (industry != "") & _isin(industry, list(spec.excluded_industries)),
            lambda rows: np.array(
                [f"industry outside the ICP ({v})" for v in raw("account.industry")[rows]], dtype=object
            ),
        ),
        (
            (country != "") & _isin(country, list(spec.excluded_countries)),
            lambda rows: "country outside the ICP (" + country[rows] + ")",
        ),
        (
            (account_country != "") & _isin(account_country, list(spec.excluded_countries)),
            lambda rows: "country outside the ICP (" + account_country[rows] + ")",
        ),
    ]
    out = np.full(n, "", dtype=object)
    open_ = np.ones(n, dtype=bool)  # not excluded by an earlier test
    for excluded, reasons in tests:
        rows = np.flatnonzero(np.asarray(excluded, dtype=bool) & open_)
        if len(rows):
            out[rows] = reasons(rows)
            open_[rows] = False
    return out


def _missing(spec: RulesetSpec, frame: pd.DataFrame) -> np.ndarray:
    """``missing_fields`` for every row, column by column."""
    n = len(frame)
    out = np.full(n, "", dtype=object)
    for name in spec.required_fields:
        if name == "account":
            absent = frame["account_id"].isna().to_numpy() if n else np.zeros(0, dtype=bool)
        else:
            column = _column(frame, name)
            if isinstance(column, pd.Series) and pd.api.types.is_numeric_dtype(column.dtype):
                absent = column.isna().to_numpy()
            elif isinstance(column, pd.Series):  # text: missing or blank (what ``_text`` calls None)
                values = column.to_numpy(dtype=object)
                blank = (isinstance(v, str) and not v.strip() for v in values)  # ~3 times pandas' .str
                absent = column.isna().to_numpy() | np.fromiter(blank, dtype=bool, count=len(values))
            else:
                absent = _gather(column, lambda v: _text(v) is None)
        rows = np.flatnonzero(absent)  # names joined where they are missing only (few rows, or none)
        if len(rows):
            named = out[rows]
            out[rows] = np.where(named == "", name, named + "," + name)
    return out


def evaluate_contacts(
    spec: RulesetSpec, population: Population, *, as_of: datetime.date, scores_only: bool = False
) -> pd.DataFrame:
    """Score every contact of ``population`` as of ``as_of``.

    Returns a frame with ``contact_id, account_id, fit, engagement,
    fit_grade, engagement_grade, excluded, missing, mql, fast_track, fast_track_day`` and a
    ``points`` matrix (rules × contacts) kept in ``frame.attrs`` to build explanations on demand.
    ``scores_only``: ``contact_id, account_id, fit, engagement, excluded`` alone, what the accounts' roll-up
    needs (``evaluate_accounts``), without the rest's cost.
    """
    t = day_ordinal(as_of)
    contacts = population.contacts
    n = len(contacts)
    positions = pd.Index(contacts["contact_id"].to_numpy(dtype=np.int64))

    columns: list[tuple[RuleSpec, np.ndarray]] = []
    fit_by_rule = dict((r.id, p) for r, p in _fit_points(spec, contacts))
    plain, campaign = _engagement_sources(population, spec, positions, t, anonymous=False)
    fit = np.zeros(n)
    engagement = np.zeros(n)
    for rule in spec.rules:
        if rule.kind == "fit":
            points = fit_by_rule[rule.id]
            fit = fit + points
        else:
            points = _engagement_points(rule, campaign if rule.campaign_id is not None else plain, n)
            engagement = engagement + points
        columns.append((rule, points))
    fit, engagement = _round(fit), _round(engagement)

    excluded = _exclusions(spec, contacts)
    if scores_only:
        account_ids = contacts["account_id"].to_numpy() if n else np.empty(0)
        return pd.DataFrame(
            {"contact_id": positions.to_numpy(), "account_id": account_ids, "fit": fit,
             "engagement": engagement, "excluded": excluded}
        )  # fmt: skip
    missing = _missing(spec, contacts)
    kinds, ft_day = _fast_track(spec, plain, n, t)
    mql = (
        (excluded == "")
        & (missing == "")
        & (fit >= spec.mql_fit_min)
        & (engagement >= spec.mql_engagement_min)
    )
    result = pd.DataFrame(
        {
            "contact_id": positions.to_numpy(),
            "account_id": contacts["account_id"].to_numpy() if n else np.empty(0),
            "fit": fit,
            "engagement": engagement,
            "fit_grade": np.where(fit >= spec.fit_a, "A", np.where(fit >= spec.fit_b, "B", "C")),
            "engagement_grade": np.where(
                engagement >= spec.engagement_1, "1", np.where(engagement >= spec.engagement_2, "2", "3")
            ),
            "excluded": excluded,
            "missing": missing,
            "mql": mql.astype(bool),
            "fast_track": kinds,
            "fast_track_day": ft_day,
        }
    )
    result.attrs["explain"] = _Explain(
        rules=[r for r, _ in columns],
        points=np.vstack([p for _, p in columns]) if columns else np.zeros((0, n)),
    )
    return result


def evaluate(
    spec: RulesetSpec, population: Population, *, as_of: datetime.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contacts, then their accounts (see ``evaluate_contacts`` and ``evaluate_accounts``)."""
    contacts = evaluate_contacts(spec, population, as_of=as_of)
    return contacts, evaluate_accounts(spec, population, contacts, as_of=as_of)


def evaluate_accounts(
    spec: RulesetSpec, population: Population, contacts: pd.DataFrame, *, as_of: datetime.date
) -> pd.DataFrame:
    """Roll contacts' scores (``contact_id, account_id, fit, engagement, excluded``, sorted by contact id)
    up to ``population.accounts``, adding the account's own fit and its anonymous engagement."""
    t = day_ordinal(as_of)
    accounts = population.accounts
    m = len(accounts)
    positions = pd.Index(accounts["account_id"].to_numpy(dtype=np.int64))
    own_fit = np.zeros(m)
    for _rule, points in _fit_points(spec, accounts):
        own_fit = own_fit + points
    own_fit = _round(own_fit)
    plain, campaign = _engagement_sources(population, spec, positions, t, anonymous=True)
    anonymous = np.zeros(m)
    anonymous_points = []
    for rule in spec.engagement_rules:
        points = _engagement_points(rule, campaign if rule.campaign_id is not None else plain, m)
        anonymous = anonymous + points
        anonymous_points.append(points)
    anonymous = _round(anonymous)

    counted = contacts[(contacts["excluded"] == "") & contacts["account_id"].notna()]
    pos = positions.get_indexer(counted["account_id"].to_numpy(dtype=np.int64))
    inside = pos >= 0
    pos = pos[inside]
    known = np.zeros(m)
    np.add.at(known, pos, counted["engagement"].to_numpy()[inside])
    best = own_fit.copy()
    fits = counted["fit"].to_numpy()[inside]
    np.maximum.at(best, pos, fits)
    # The best-fitting contact: the first (by id) reaching the best fit, if that beats the account's own.
    best_contact = np.full(m, -1, dtype=np.int64)
    reaching = (fits == best[pos]) & (fits > own_fit[pos])
    if reaching.any():
        firsts = pd.DataFrame(
            {"pos": pos[reaching], "id": counted["contact_id"].to_numpy()[inside][reaching]}
        )
        firsts = firsts.drop_duplicates("pos")  # rows are in contact-id order
        best_contact[firsts["pos"].to_numpy()] = firsts["id"].to_numpy()
    frame = pd.DataFrame(
        {
            "account_id": positions.to_numpy(),
            "fit": best,
            "engagement": _round(known + anonymous),
            "anonymous_engagement": anonymous,
            "known_engagement": _round(known),
            "contacts_counted": np.bincount(pos, minlength=m),
            "fit_grade": np.where(best >= spec.fit_a, "A", np.where(best >= spec.fit_b, "B", "C")),
            "engagement_grade": np.where(
                _round(known + anonymous) >= spec.engagement_1,
                "1",
                np.where(_round(known + anonymous) >= spec.engagement_2, "2", "3"),
            ),
            "best_contact": best_contact,
        }
    )
    frame.attrs["explain"] = _Explain(
        rules=spec.engagement_rules,
        points=np.vstack(anonymous_points) if anonymous_points else np.zeros((0, m)),
        counted=frame["contacts_counted"].to_numpy(),
        known=frame["known_engagement"].to_numpy(),
        best=best_contact,
        fit=best,
    )
    return frame


def account_explanation_for(result: pd.DataFrame, j: int) -> list:
    """What made the account's score (row ``j``), in the order ``score_account`` gives it."""
    explain = result.attrs["explain"]
    rules, points = explain.rules, explain.points
    out = [
        [r.id, f"{r.name} (anonymous)", float(points[k, j])]
        for k, r in enumerate(rules)
        if points[k, j] != 0.0
    ]
    if explain.counted[j]:
        known = plural(int(explain.counted[j]), "known contact")
        out.append([None, f"Engagement of {known}", float(explain.known[j])])
    if explain.best[j] >= 0:
        out.append([None, f"Best-fitting contact #{int(explain.best[j])}", float(explain.fit[j])])
    return out


def explanation_for(result: pd.DataFrame, i: int) -> list:
    """The rules that fired for the contact in row ``i``: [[rule id, name, points], …] in rule order."""
    explain = result.attrs["explain"]
    rules, points = explain.rules, explain.points
    return [[r.id, r.name, float(points[k, i])] for k, r in enumerate(rules) if points[k, i] != 0.0]
