"""The revenue plan's arithmetic, pure (no Django, no database): plain numbers and dates in and out.

- ``history_figures``: win rate = won / (won + lost), deal size = mean won amount, cycle = median days from
  created to close of the closed opportunities.
- ``creation_schedule``: revenue closes evenly over the period's days, and what closes on day d must be
  created a cycle earlier, so the pipeline to create falls in the period shifted back one cycle; it is
  bucketed by calendar month.
- ``channel_suggestion`` and ``allocate``: shares suggested from each channel's historical pipeline and win
  rate; the quota split by shares with every channel's capacity respected (what a full channel cannot take
  goes to the others by their shares; what nobody can take is the shortfall).
- ``forecast``: pipeline created by the period's end, from the run rate so far plus the expected pipeline of
  accounts in market (Σ probability × deal size), with a 95% cone.
"""

from __future__ import annotations

import datetime
import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Z95 = 1.959964


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_next(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def months_between(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """First days of the months from ``start``'s to ``end``'s, both included."""
    months, month = [], month_start(start)
    while month <= end:
        months.append(month)
        month = month_next(month)
    return months


# --- history ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryFigures:
    won: int
    lost: int
    win_rate: float | None
    deal_size: float | None
    cycle_days: float | None
    cycles: int  # closed opportunities with both dates (the cycle's sample)

    def as_dict(self) -> dict:
        return {
            "won": self.won,
            "lost": self.lost,
            "win_rate": self.win_rate,
            "deal_size": self.deal_size,
            "cycle_days": self.cycle_days,
            "cycles": self.cycles,
        }


def history_figures(
    *, won: int, lost: int, won_amounts: Iterable[float], cycle_days: Iterable[int]
) -> HistoryFigures:
    """The three numbers from closed opportunities; None where there is nothing to compute them from."""
    amounts = [float(a) for a in won_amounts]
    cycles = [int(d) for d in cycle_days]
    return HistoryFigures(
        won=won,
        lost=lost,
        win_rate=won / (won + lost) if won + lost else None,
        deal_size=statistics.fmean(amounts) if amounts else None,
        cycle_days=float(statistics.median(cycles)) if cycles else None,
        cycles=len(cycles),
    )


# --- from revenue to pipeline -----------------------------------------------------------------------
def pipeline_needed(revenue: float, win_rate: float) -> float:
    if not 0 < win_rate <= 1:
        raise ValueError("The win rate must be above 0 and at most 1.")
    return revenue / win_rate


def opportunities_needed(pipeline: float, deal_size: float) -> float:
    if deal_size <= 0:
        raise ValueError("The deal size must be above 0.")
    return pipeline / deal_size


def creation_schedule(
    *, period_start: datetime.date, period_end: datetime.date, amount: float, cycle_days: int
) -> dict[datetime.date, float]:
    """``amount`` (pipeline, or opportunities) to create by calendar month (its first day), in order.

    The amount closes evenly over the period's days; what closes on day d is created on d − cycle, so the
    creation window is the period shifted back ``cycle_days`` and each month gets its share of its days.
    """
    days = (period_end - period_start).days + 1
    if days <= 0:
        raise ValueError("The period ends before it starts.")
    shift = datetime.timedelta(days=max(int(round(cycle_days)), 0))
    first, last = period_start - shift, period_end - shift
    schedule: dict[datetime.date, float] = {}
    for month in months_between(first, last):
        lo = max(first, month)
        hi = min(last, month_next(month) - datetime.timedelta(days=1))
        schedule[month] = amount * ((hi - lo).days + 1) / days
    return schedule


# --- channels ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelHistory:
    pipeline: float  # pipeline created in the history window
    won: int
    lost: int


def channel_suggestion(
    history: Mapping[Hashable, ChannelHistory], *, overall_win_rate: float | None
) -> dict[Hashable, float]:
    """Suggested shares (summing to 1): each channel's historical pipeline weighted by its win rate (its
    own when it closed deals, the overall one when not), so a channel that converts better gets more.

    Without any history every channel gets the same share.
    """
    if not history:
        return {}
    fallback = overall_win_rate or 1.0
    weights = {}
    for key, h in history.items():
        rate = h.won / (h.won + h.lost) if h.won + h.lost else fallback
        weights[key] = max(h.pipeline, 0.0) * rate
    total = sum(weights.values())
    if total <= 0:
        return {key: 1 / len(history) for key in history}
    return {key: weight / total for key, weight in weights.items()}


@dataclass(frozen=True)
class Allocation:
    quota: dict[Hashable, float]  # pipeline each channel must create in the period
    capped: frozenset  # the channels held at their capacity
    shortfall: float  # pipeline no channel could take: raise a cap, add a channel or lower the target


def allocate(
    total: float, shares: Mapping[Hashable, float], capacity: Mapping[Hashable, float | None]
) -> Allocation:
    """Split ``total`` by ``shares`` with no channel above its capacity (water-filling).

    A channel whose share would exceed its capacity gets its capacity; the rest is split again among the
    others by their shares, until nobody exceeds. Channels with share 0 get nothing.
    """
    quota = {key: 0.0 for key in shares}
    open_keys = [key for key, share in shares.items() if share > 0]
    capped: set = set()
    remaining = float(total)
    while open_keys and remaining > 1e-9:
        weight = sum(shares[k] for k in open_keys)
        over = [
            k
            for k in open_keys
            if capacity.get(k) is not None and remaining * shares[k] / weight > float(capacity[k]) + 1e-9
        ]
        if not over:
            for k in open_keys:
                quota[k] = remaining * shares[k] / weight
            remaining = 0.0
            break
        for k in over:
            quota[k] = float(capacity[k])
            remaining -= quota[k]
            capped.add(k)
        open_keys = [k for k in open_keys if k not in over]
    return Allocation(quota=quota, capped=frozenset(capped), shortfall=max(remaining, 0.0))


# --- forecast ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForecastPoint:
    day: datetime.date
    expected: float
    low: float
    high: float


@dataclass(frozen=True)
class Forecast:
    created: float  # pipeline created so far
    run_rate: float  # per day, so far
    in_market: float  # expected pipeline of accounts in market without an open opportunity
    expected: float  # at the window's end
    low: float
    high: float
    cone: list[ForecastPoint] = field(default_factory=list)


def forecast(
    *,
    start: datetime.date,
    end: datetime.date,
    today: datetime.date,
    created_by_month: Mapping[datetime.date, float],
    in_market: Sequence[tuple[float, float]],
) -> Forecast:
    """Pipeline created from ``start`` to ``end`` (the creation window), forecast from ``today``.

    Expected = created so far + run rate × days left + Σ p × size over accounts in market (each a
    (probability, deal size) pair), the in-market part spread evenly over the days left. The 95% cone:
    the run rate's uncertainty from the spread of the months created so far (a month's variance, times the
    months left) and the in-market part's Bernoulli variance Σ p(1 − p) size², both growing with the days
    left. Before the window starts nothing has been created and the run rate is zero; after it ends the
    forecast is what was created.
    """
    created = sum(created_by_month.values())
    elapsed = max(min((today - start).days + 1, (end - start).days + 1), 0)
    left = max((end - max(today, start - datetime.timedelta(days=1))).days, 0)
    total_days = (end - start).days + 1
    left = min(left, total_days)
    run_rate = created / elapsed if elapsed else 0.0
    expected_in_market = sum(p * size for p, size in in_market)
    var_in_market = sum(p * (1 - p) * size * size for p, size in in_market)
    # Complete months so far (the current one is partial) give the run rate's spread.
    full_months = [v for m, v in sorted(created_by_month.items()) if month_next(m) <= today]
    var_month = statistics.variance(full_months) if len(full_months) >= 2 else (run_rate * 30.4) ** 2 / 4
    cone = [ForecastPoint(day=min(today, end), expected=created, low=created, high=created)]
    points = [d for d in (month_next(m) - datetime.timedelta(days=1) for m in months_between(today, end))]
    if not points or points[-1] != end:
        points.append(end)
    for day in points:
        if day <= today:
            continue
        days = (day - today).days
        fraction = days / left if left else 1.0
        mean = created + run_rate * days + expected_in_market * fraction
        sd = math.sqrt(var_month * days / 30.4 + var_in_market * fraction)
        cone.append(
            ForecastPoint(day=day, expected=mean, low=max(created, mean - Z95 * sd), high=mean + Z95 * sd)
        )
    last = cone[-1]
    return Forecast(
        created=created,
        run_rate=run_rate,
        in_market=expected_in_market,
        expected=last.expected,
        low=last.low,
        high=last.high,
        cone=cone,
    )
