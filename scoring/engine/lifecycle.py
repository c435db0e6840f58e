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
from collections.abc import Mapping

import numpy as np

from scoring.engine.rules import EPOCH, RulesetSpec
from scoring.engine.words import compared, day, event_label

LEAD, MQL, SAL, SQL, OPPORTUNITY, CUSTOMER, RECYCLED, DISQUALIFIED = (
    "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified",
)  # fmt: skip


def _day(ordinal: int) -> str:
    return day(datetime.date.fromordinal(EPOCH.toordinal() + int(ordinal)))


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
    labels: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(to stage or "", rule, reason) per contact. Days are ordinals (-1: none); ``since`` is the day of
    the contact's last move (or of its creation); ``labels`` name the event types in the reasons
    ("Demo request on 2 Nov 2026")."""
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
            spec, rule[i], excluded[i], fit[i], engagement[i], fast_track[i], fast_track_day[i], labels
        )
    return to.astype(object), rule.astype(object), reasons


def _reason(spec, rule, excluded, fit, engagement, fast_track, fast_track_day, labels) -> str:
    # Figures rounded for people, with the decimals a comparison needs to stay true (``compared``).
    if rule == "exclusion":
        return f"Excluded: {excluded}"
    if rule == "fast-track":
        return f"{event_label(fast_track, labels)} on {_day(fast_track_day)}"
    if rule == "MQL definition":
        fit_shown, fit_min = compared(float(fit), float(spec.mql_fit_min))
        eng_shown, eng_min = compared(float(engagement), float(spec.mql_engagement_min))
        return f"fit {fit_shown} ≥ {fit_min} and engagement {eng_shown} ≥ {eng_min}"
    if rule == "engagement decayed":
        shown, below = compared(float(engagement), float(spec.recycle_below))
        return f"engagement {shown} < {below}"
    return rule
