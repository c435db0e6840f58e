"""The rules engine over a time axis: every contact's engagement, MQL state and fast-track actions as of
each of a few dates (the what-if's week ends), in one pass over the activity instead of one
``evaluate_contacts`` per date.

Pure, like ``rules``, and the same semantics to the last bit — a hypothesis property test compares the
what-if built on it with the one that calls ``evaluate_contacts`` once per week:

* what does not depend on the date (fit points, exclusions, missing fields) is ``evaluate_contacts``'s
  own, computed once;
* an engagement rule's event count in its window at date ``t`` is a difference of cumulative counts:
  each activity row counts from the first date on or after its day up to (not including) the first
  date at or beyond ``day + window``, so a row adds its count at one date index and takes it away at
  another, and a cumulative sum over the dates gives every date's count (integers: exact);
* a repeatable rule without a half-life is ``points × count``, that count;
* a repeatable rule with a half-life sums ``count × decay(age)``, and the age of a row differs at every
  date, so no difference of cumulative sums gives the engine's float sum bit for bit
  (``0.5 ** ((t − day) / h)`` factored as ``0.5 ** (t / h) × 0.5 ** (−day / h)`` rounds differently
  and overflows): each row is expanded to the (few) dates whose window holds it, and the decayed
  terms are added per (date, contact) in row order, as ``evaluate_contacts`` adds them;
* a once-only rule needs the newest matching row in the window: rows are sorted by (contact, day), so
  a row is the newest one from its own date index up to the next matching row's, within its window;
* a fast-track action at date index ``j`` is a row of a fast-track type with day in
  ``(dates[j − 1], dates[j]]`` and younger than ``fast_track_days`` — exactly when the newest fast-track
  action as of ``dates[j]`` is newer than ``dates[j − 1]``, which is what the per-week replay tests.

Rounding, capping and decay are those of ``rules`` (``np.round(x, 6)`` per rule and per total, the cap
on the absolute value, ``0.5 ** (age / half_life)``), in the same order of additions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from scoring.engine.rules import (
    Population,
    RulesetSpec,
    RuleSpec,
    activity_matcher,
    day_ordinal,
    empty_activity,
    evaluate_contacts,
)

PAIRS_PER_BLOCK = 4_000_000  # (row, date) pairs expanded at once for decayed sums: bounds the memory


def _round(x):
    return np.round(x, 6)  # rules._round


def _decay(rule: RuleSpec, age: np.ndarray) -> np.ndarray:
    return np.power(0.5, np.asarray(age, dtype=np.float64) / rule.half_life_days)  # rules._decay


def _capped(rule: RuleSpec, points: np.ndarray) -> np.ndarray:
    if rule.cap is None:
        return points
    return np.sign(points) * np.minimum(np.abs(points), rule.cap)  # rules._capped


class TimelineActivity:
    """Activity rows of a population's contacts, mapped to row positions, with factorized types and
    keys — built once and shared by every rule and every ruleset evaluated over the same dates."""

    def __init__(self, frame: pd.DataFrame | None, positions: pd.Index, campaign: bool = False):
        frame = frame if frame is not None else empty_activity(campaign)
        if len(frame):
            pos = positions.get_indexer(frame["entity"].to_numpy(dtype=np.int64))
        else:
            pos = np.empty(0, dtype=np.int64)
        keep = pos >= 0
        self.pos = pos[keep]
        self.day = frame["day"].to_numpy(dtype=np.int64)[keep]
        self.count = frame["count"].to_numpy(dtype=np.int64)[keep]
        self.type_codes, self.types = pd.factorize(frame["event_type"].to_numpy(dtype=object)[keep])
        self.key_codes, self.keys = pd.factorize(frame["key"].to_numpy(dtype=object)[keep])
        self.campaign = frame["campaign_id"].to_numpy(dtype=np.int64)[keep] if campaign else None
        self._pairs = None
        # The sums below add a contact's rows in their order and find its newest row by position: both
        # need the rows sorted by (contact, day), as Population promises.
        step, later = np.diff(self.pos), np.diff(self.day)
        if ((step < 0) | ((step == 0) & (later < 0))).any():
            raise ValueError("activity rows must be sorted by (contact, day) and contacts by id")

    def rule_rows(self, rule: RuleSpec) -> np.ndarray:
        """Indexes of the rows that match the rule's type / key / campaign (not its window)."""
        if self._pairs is None:
            n_keys = len(self.keys) + 1
            self._pairs = pd.factorize(self.type_codes.astype(np.int64) * n_keys + self.key_codes)
        codes, uniques = self._pairs
        n_keys = len(self.keys) + 1
        match = activity_matcher(rule)
        answers = np.array(
            [match(self.types[u // n_keys], self.keys[u % n_keys]) for u in uniques], dtype=bool
        )
        mask = answers[codes] if len(codes) else np.zeros(0, dtype=bool)
        if self.campaign is not None:
            mask &= self.campaign == rule.campaign_id
        return np.flatnonzero(mask)


@dataclass
class Timeline:
    """A population and the dates to evaluate it at (strictly increasing day ordinals)."""

    population: Population
    dates: np.ndarray
    positions: pd.Index
    plain: TimelineActivity
    campaign: TimelineActivity
    # A rule's points by what it means (not its id or name), and the date-free part of a ruleset by the
    # settings it reads: a draft copied from the published version shares most of it, computed once.
    points: dict = field(default_factory=dict)
    statics: dict = field(default_factory=dict)

    @classmethod
    def build(cls, population: Population, dates: list[datetime.date]) -> Timeline:
        ordinals = np.array([day_ordinal(d) for d in dates], dtype=np.int64)
        if len(ordinals) > 1 and not (np.diff(ordinals) > 0).all():
            raise ValueError("dates must be strictly increasing")
        positions = pd.Index(population.contacts["contact_id"].to_numpy(dtype=np.int64))
        return cls(
            population=population,
            dates=ordinals,
            positions=positions,
            plain=TimelineActivity(population.activity, positions),
            campaign=TimelineActivity(population.campaign_activity, positions, campaign=True),
        )


@dataclass
class TimelineScores:
    """One ruleset over a timeline: ``engagement`` and ``mql`` are (dates × contacts); ``fast`` says a
    fast-track action fell in the interval ending at each date (row 0: never); ``fit``, ``excluded``
    and ``missing`` hold at every date."""

    fit: np.ndarray
    engagement: np.ndarray
    mql: np.ndarray
    fast: np.ndarray
    excluded: np.ndarray
    missing: np.ndarray


def _spans(timeline: Timeline, day: np.ndarray, window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the date indexes whose window holds it: ``[low, high)``."""
    low = np.searchsorted(timeline.dates, day, side="left")
    if window is None:
        high = np.full(len(day), len(timeline.dates), dtype=np.int64)
    else:
        high = np.searchsorted(timeline.dates, day + window, side="left")
    return low.astype(np.int64), np.maximum(high, low).astype(np.int64)


def _per_date(values: np.ndarray, low: np.ndarray, high: np.ndarray, pos: np.ndarray, shape) -> np.ndarray:
    """Σ values over the rows whose span holds each date, per (date, contact): a difference array
    summed along the dates (exact for integer values)."""
    d, n = shape
    flat = np.concatenate([low * n + pos, high * n + pos])
    weights = np.concatenate([values, -values]).astype(np.float64)
    grid = np.bincount(flat, weights=weights, minlength=(d + 1) * n)[: (d + 1) * n]
    return np.cumsum(grid.reshape(d + 1, n), axis=0)[:d]


def _decayed_sums(rule: RuleSpec, timeline: Timeline, pos, day, count, low, high, shape) -> np.ndarray:
    """Σ count × decay(age) per (date, contact), added in row order as ``rules`` adds them: every row
    expanded to the dates of its span, in blocks of whole contacts."""
    d, n = shape
    out = np.zeros((d, n), dtype=np.float64)
    span = high - low
    total = len(span)
    start = 0
    ends = np.cumsum(span)
    while start < total:
        # Take rows up to PAIRS_PER_BLOCK pairs, then extend to the end of the last contact's rows: a
        # contact's terms must be added in one sequence (chunked sums would round differently).
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + PAIRS_PER_BLOCK, side="right"))
        stop = max(stop, start + 1)
        if stop < total:
            stop = int(np.searchsorted(pos, pos[stop - 1], side="right"))
        block = slice(start, stop)
        rows = np.repeat(np.arange(start, stop), span[block])
        if len(rows):
            offsets = np.arange(len(rows)) - np.repeat(np.cumsum(span[block]) - span[block], span[block])
            j = low[rows] + offsets
            age = timeline.dates[j] - day[rows]
            # One power per distinct age (a few hundred), gathered: the same float as per row.
            table = _decay(rule, np.arange(int(age.max()) + 1))
            weighted = count[rows] * table[age]
            first, last = int(pos[start]), int(pos[stop - 1])
            width = last - first + 1
            sums = np.bincount(j * width + (pos[rows] - first), weights=weighted, minlength=d * width)
            out[:, first : last + 1] += sums.reshape(d, width)
        start = stop
    return out


def _newest_age(timeline: Timeline, pos, day, low, high, shape) -> np.ndarray:
    """Age of the newest row in each (date, contact)'s window, or -1: rows sorted by (contact, day),
    a row is the newest from its first date until the next row of its contact starts counting."""
    d, n = shape
    out = np.full((d, n), -1, dtype=np.int64)
    if not len(pos):
        return out
    following = np.empty(len(pos), dtype=np.int64)
    following[:-1] = np.where(pos[1:] == pos[:-1], low[1:], d)
    following[-1] = d
    end = np.minimum(following, high)
    span = np.maximum(end - low, 0)
    rows = np.repeat(np.arange(len(pos)), span)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span)
    j = low[rows] + offsets
    out[j, pos[rows]] = timeline.dates[j] - day[rows]
    return out


def _engagement_points(rule: RuleSpec, timeline: Timeline, d: int) -> tuple[np.ndarray, np.ndarray]:
    """One engagement rule's points per (date, contact), as ``rules._engagement_points`` gives them at
    each date — for the contacts with a matching row only (``active``, their positions; every other
    contact gets 0.0, and adding 0.0 changes no total)."""
    source = timeline.campaign if rule.campaign_id is not None else timeline.plain
    rows = source.rule_rows(rule)
    pos, day, count = source.pos[rows], source.day[rows], source.count[rows]
    # Rows are sorted by contact: a contact's local column is the number of contacts before it.
    starts = np.ones(len(pos), dtype=bool)
    starts[1:] = pos[1:] != pos[:-1]
    active = pos[starts]
    local = np.cumsum(starts) - 1
    shape = (d, len(active))
    low, high = _spans(timeline, day, rule.window_days)
    events = _per_date(count, low, high, local, shape)
    if rule.repeatable:
        decayed = (
            _decayed_sums(rule, timeline, local, day, count, low, high, shape)
            if rule.half_life_days
            else events
        )
        points = rule.points * decayed
    else:
        factor = np.ones(shape, dtype=np.float64)
        if rule.half_life_days:
            newest = _newest_age(timeline, local, day, low, high, shape)
            has = newest >= 0
            factor[has] = _decay(rule, newest[has])
        points = rule.points * factor
    fires = (events > 0) & (events >= rule.min_count)
    return active, np.where(fires, _round(_capped(rule, points)), 0.0)


def _fast_track(spec: RulesetSpec, timeline: Timeline, shape) -> np.ndarray:
    d, n = shape
    fast = np.zeros(shape, dtype=bool)
    source = timeline.plain
    if not spec.fast_track or not len(source.pos):
        return fast
    wanted = np.isin(np.asarray(source.types, dtype=object), list(spec.fast_track))
    rows = np.flatnonzero(wanted[source.type_codes]) if len(wanted) else np.empty(0, dtype=np.int64)
    day = source.day[rows]
    j = np.searchsorted(timeline.dates, day, side="left")
    inside = j < d
    j, day, pos = j[inside], day[inside], source.pos[rows][inside]
    young = (j >= 1) & (timeline.dates[np.minimum(j, d - 1)] - day < spec.fast_track_days)
    fast[j[young], pos[young]] = True
    return fast


def _static(spec: RulesetSpec, timeline: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit points, exclusions and missing fields, which do not depend on the date: the engine's own
    (``evaluate_contacts`` with no activity), once per distinct set of what they read."""
    reads = repr(
        (
            [(r.field, r.operator, r.value, r.points) for r in spec.fit_rules],
            spec.required_fields, spec.exclude_free_mail, sorted(spec.free_mail_domains),
            spec.excluded_title_pattern, sorted(spec.excluded_industries), sorted(spec.excluded_countries),
            sorted(spec.competitor_domains),
        )
    )  # fmt: skip
    if reads not in timeline.statics:
        static = evaluate_contacts(
            replace(spec, rules=tuple(spec.fit_rules)),
            replace(timeline.population, activity=empty_activity(), campaign_activity=empty_activity(True)),
            as_of=datetime.date(1970, 1, 1),
        )
        timeline.statics[reads] = (
            static["fit"].to_numpy(dtype=np.float64),
            static["excluded"].to_numpy(dtype=object),
            static["missing"].to_numpy(dtype=object),
        )
    return timeline.statics[reads]


def evaluate_timeline(spec: RulesetSpec, timeline: Timeline) -> TimelineScores:
    """Score every contact of the timeline's population as of each of its dates."""
    population = timeline.population
    n = len(population.contacts)
    shape = (len(timeline.dates), n)
    fit, excluded, missing = _static(spec, timeline)
    engagement = np.zeros(shape)
    for rule in spec.engagement_rules:
        meaning = (
            rule.points, rule.event_type, rule.url_pattern, rule.topic, rule.campaign_id, rule.min_count,
            rule.window_days, rule.repeatable, rule.cap, rule.half_life_days,
        )  # fmt: skip
        if meaning not in timeline.points:
            timeline.points[meaning] = _engagement_points(rule, timeline, shape[0])
        active, points = timeline.points[meaning]
        engagement[:, active] = engagement[:, active] + points
    engagement = _round(engagement)
    eligible = (excluded == "") & (missing == "") & (fit >= spec.mql_fit_min)
    mql = eligible[None, :] & (engagement >= spec.mql_engagement_min)
    return TimelineScores(
        fit=fit,
        engagement=engagement,
        mql=mql,
        fast=_fast_track(spec, timeline, shape) & (excluded == "")[None, :],
        excluded=excluded,
        missing=missing,
    )
