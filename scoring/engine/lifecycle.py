"""Automatic lifecycle moves, decided for many contacts at once (pure: arrays in, arrays out).

Precedence, first match wins:
1. an exclusion disqualifies a Lead, MQL or Recycled contact;
2. a won opportunity (closed after the contact's last move) makes an SQL or Opportunity a Customer;
3. an opportunity opened after an SQL's last move makes it an Opportunity;
4. a fast-track action (demo request, free trial) after the last move takes a Lead, Recycled (or
   MQL) contact to SAL — to MQL when the SAL stage is switched off;
5. a Lead or Recycled contact meeting the MQL definition becomes an MQL;
6. an MQL whose engagement decayed below the recycle threshold is Recycled.
SAL → SQL and rejections are people's decisions (``scoring.lifecycle``), never automatic.
"""

import datetime

import numpy as np

from scoring.engine.rules import EPOCH, RulesetSpec

LEAD, MQL, SAL, SQL, OPPORTUNITY, CUSTOMER, RECYCLED, DISQUALIFIED = (
    "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified",
)  # fmt: skip


def _day(ordinal: int) -> str:
    return datetime.date.fromordinal(EPOCH.toordinal() + int(ordinal)).isoformat()


def decide(
    spec: RulesetSpec,
    *,
    stage: np.ndarray,
    since: np.ndarray,
    excluded: np.ndarray,
    mql: np.ndarray,
    fit: np.ndarray,
    engagement: np.ndarray,
    fast_track: np.ndarray,
    fast_track_day: np.ndarray,
    opportunity_day: np.ndarray,
    won_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(to stage or "", rule, reason) per contact. Days are ordinals (-1: none); ``since`` is the day of
    the contact's last move (or of its creation)."""
    stage = np.asarray(stage, dtype=object)
    early = np.isin(stage, [LEAD, MQL, RECYCLED])
    open_ = np.isin(stage, [LEAD, RECYCLED])
    excluded = np.asarray(excluded, dtype=object)
    ft_after = (np.asarray(fast_track, dtype=object) != "") & (fast_track_day >= since)
    conditions = [
        early & (excluded != ""),
        np.isin(stage, [SQL, OPPORTUNITY]) & (won_day >= 0) & (won_day >= since),
        (stage == SQL) & (opportunity_day >= 0) & (opportunity_day >= since),
        (open_ | ((stage == MQL) & spec.sal_enabled)) & ft_after,
        open_ & np.asarray(mql, dtype=bool),
        (stage == MQL) & (engagement < spec.recycle_below),
    ]
    fast_target = SAL if spec.sal_enabled else MQL
    to = np.select(conditions, [DISQUALIFIED, CUSTOMER, OPPORTUNITY, fast_target, MQL, RECYCLED], default="")
    rule = np.select(
        conditions,
        [
            "exclusion",
            "opportunity won",
            "opportunity opened",
            "fast-track",
            "MQL definition",
            "engagement decayed",
        ],
        default="",
    )
    reasons = np.full(len(stage), "", dtype=object)
    for i in np.flatnonzero(to != ""):
        reasons[i] = _reason(
            spec, rule[i], excluded[i], fit[i], engagement[i], fast_track[i], fast_track_day[i]
        )
    return to.astype(object), rule.astype(object), reasons


def _reason(spec, rule, excluded, fit, engagement, fast_track, fast_track_day) -> str:
    if rule == "exclusion":
        return f"Excluded: {excluded}"
    if rule == "fast-track":
        return f"{fast_track.replace('_', ' ')} on {_day(fast_track_day)}"
    if rule == "MQL definition":
        return (
            f"fit {fit:g} ≥ {spec.mql_fit_min:g} and engagement {engagement:g} ≥ {spec.mql_engagement_min:g}"
        )
    if rule == "engagement decayed":
        return f"engagement {engagement:g} < {spec.recycle_below:g}"
    return rule
