"""The plan's arithmetic: pipeline and opportunities needed, the schedule a cycle ahead, channel shares
and capacities, the forecast cone."""

import datetime
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plans import engine

D = datetime.date


def test_history_figures_are_won_over_closed_the_mean_won_amount_and_the_median_cycle():
    figures = engine.history_figures(won=3, lost=1, won_amounts=[100, 200, 600], cycle_days=[10, 40, 20, 90])
    assert figures.win_rate == 0.75 and figures.deal_size == 300 and figures.cycle_days == 30
    empty = engine.history_figures(won=0, lost=0, won_amounts=[], cycle_days=[])
    assert empty.win_rate is None and empty.deal_size is None and empty.cycle_days is None


def test_revenue_works_back_to_pipeline_and_opportunities():
    pipeline = engine.pipeline_needed(1_000_000, 0.25)
    assert pipeline == 4_000_000
    assert engine.opportunities_needed(pipeline, 20_000) == 200
    with pytest.raises(ValueError):
        engine.pipeline_needed(1, 0)
    with pytest.raises(ValueError):
        engine.opportunities_needed(1, 0)


def test_pipeline_is_created_one_cycle_ahead_of_the_period():
    # Q1 2027 (90 days), a 45-day cycle: what closes from 1 January is created from 17 November.
    schedule = engine.creation_schedule(
        period_start=D(2027, 1, 1), period_end=D(2027, 3, 31), amount=900, cycle_days=45
    )
    assert list(schedule) == [D(2026, 11, 1), D(2026, 12, 1), D(2027, 1, 1), D(2027, 2, 1)]
    assert schedule[D(2026, 11, 1)] == pytest.approx(900 * 14 / 90)  # 17–30 November
    assert schedule[D(2026, 12, 1)] == pytest.approx(900 * 31 / 90)
    assert schedule[D(2027, 2, 1)] == pytest.approx(900 * 14 / 90)  # 1–14 February
    assert sum(schedule.values()) == pytest.approx(900)
    # No cycle: created in the period itself.
    same = engine.creation_schedule(
        period_start=D(2027, 1, 1), period_end=D(2027, 1, 31), amount=31, cycle_days=0
    )
    assert same == {D(2027, 1, 1): 31}


@given(
    start=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 1, 1)),
    length=st.integers(min_value=1, max_value=400),
    cycle=st.integers(min_value=0, max_value=900),
    amount=st.floats(min_value=0, max_value=1e9),
)
def test_the_schedule_always_adds_up_to_the_amount_in_consecutive_months(start, length, cycle, amount):
    schedule = engine.creation_schedule(
        period_start=start,
        period_end=start + datetime.timedelta(days=length - 1),
        amount=amount,
        cycle_days=cycle,
    )
    assert sum(schedule.values()) == pytest.approx(amount, rel=1e-9, abs=1e-6)
    months = list(schedule)
    assert months == sorted(months) and all(engine.month_next(a) == b for a, b in itertools.pairwise(months))


def test_suggested_shares_weigh_pipeline_by_win_rate_and_split_evenly_without_history():
    history = {
        "inbound": engine.ChannelHistory(pipeline=600, won=3, lost=1),  # 600 × 0.75 = 450
        "outbound": engine.ChannelHistory(pipeline=400, won=1, lost=3),  # 400 × 0.25 = 100
        "events": engine.ChannelHistory(pipeline=0, won=0, lost=0),
    }
    shares = engine.channel_suggestion(history, overall_win_rate=0.5)
    assert shares == pytest.approx({"inbound": 450 / 550, "outbound": 100 / 550, "events": 0})
    none = {k: engine.ChannelHistory(0, 0, 0) for k in ("a", "b", "c", "d")}
    assert engine.channel_suggestion(none, overall_win_rate=None) == {k: 0.25 for k in none}


def test_a_full_channel_passes_what_it_cannot_take_to_the_others_by_their_shares():
    split = engine.allocate(1000, {"a": 0.5, "b": 0.3, "c": 0.2}, {"a": 200, "b": None, "c": None})
    assert split.quota == pytest.approx({"a": 200, "b": 480, "c": 320})
    assert split.capped == {"a"} and split.shortfall == 0
    # Every channel full: the rest is the shortfall, said out loud.
    short = engine.allocate(1000, {"a": 0.5, "b": 0.5}, {"a": 300, "b": 200})
    assert short.quota == {"a": 300, "b": 200} and short.shortfall == pytest.approx(500)


@given(
    total=st.floats(min_value=0, max_value=1e9),
    channels=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1),
            st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_allocation_never_exceeds_a_capacity_and_accounts_for_every_unit(total, channels):
    shares = {i: share for i, (share, _) in enumerate(channels)}
    caps = {i: cap for i, (_, cap) in enumerate(channels)}
    split = engine.allocate(total, shares, caps)
    for i, quota in split.quota.items():
        assert quota >= 0
        if caps[i] is not None:
            assert quota <= caps[i] * (1 + 1e-9) + 1e-6
        if shares[i] == 0:
            assert quota == 0
    if any(s > 0 for s in shares.values()):
        assert sum(split.quota.values()) + split.shortfall == pytest.approx(total, rel=1e-6, abs=1e-3)
    # Uncapped channels keep the proportions of their shares.
    free = [i for i in shares if caps[i] is None and shares[i] > 0]
    for a, b in itertools.pairwise(free):
        assert split.quota[a] * shares[b] == pytest.approx(split.quota[b] * shares[a], rel=1e-6, abs=1e-3)


def test_forecast_adds_the_run_rate_and_the_in_market_expectation_within_a_widening_cone():
    created = {D(2027, 1, 1): 3100, D(2027, 2, 1): 2800, D(2027, 3, 1): 1500}  # through 15 March
    outlook = engine.forecast(
        start=D(2027, 1, 1), end=D(2027, 4, 30), today=D(2027, 3, 15), created_by_month=created,
        in_market=[(0.5, 1000), (0.2, 1000)],
    )  # fmt: skip
    assert outlook.created == 7400
    assert outlook.run_rate == pytest.approx(7400 / 74)
    assert outlook.in_market == pytest.approx(700)
    assert outlook.expected == pytest.approx(7400 + 100 * 46 + 700)
    assert outlook.low < outlook.expected < outlook.high
    widths = [p.high - p.low for p in outlook.cone]
    assert widths == sorted(widths) and widths[0] == 0  # today is known; the cone widens
    assert outlook.cone[-1].day == D(2027, 4, 30)
    # After the window: what was created, no cone.
    done = engine.forecast(
        start=D(2027, 1, 1), end=D(2027, 4, 30), today=D(2027, 6, 1), created_by_month=created, in_market=[]
    )
    assert done.expected == done.low == done.high == 7400
