"""Counts, figures and model effects as people read them (``scoring.engine.words``) and the engine's
explanations that use them: lifecycle reasons, buying-stage reasons, an account's rules explanation."""

import datetime
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.engine import lifecycle, stages
from scoring.engine.rules import EPOCH, ContactResult, RulesetSpec, score_account
from scoring.engine.words import (
    compared,
    lifecycle_reason,
    number,
    plural,
    points_text,
    probability_points,
    strength,
)


def p(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# --- counts and figures ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "count, words",
    [
        (0, "0 intent signals"),
        (1, "1 intent signal"),
        (1.0, "1 intent signal"),
        (2, "2 intent signals"),
        (1.5, "1.5 intent signals"),
        (1_250, "1,250 intent signals"),
    ],
)
def test_plural_agrees_with_the_count(count, words):
    assert plural(count, "intent signal") == words


def test_plural_takes_irregular_nouns_and_a_count_already_formatted():
    assert plural(1, "person", "people") == "1 person"
    assert plural(3, "person", "people") == "3 people"
    assert plural(1, "event", shown="about 1") == "about 1 events"  # "about 1" is not exactly one
    assert plural(1.0000001, "event") == "1 event"  # reads "1": agrees with what is read


@pytest.mark.parametrize(
    "value, words",
    [
        (21.4421, "21.4"),
        (20.0, "20"),
        (45, "45"),
        (-0.04, "0"),
        (12_345.67, "12,345.7"),
        (math.nan, "unknown"),
    ],
)
def test_numbers_are_rounded_for_people(value, words):
    assert number(value) == words


def test_a_comparison_keeps_the_decimals_it_needs_to_stay_true():
    assert compared(21.4421, 20) == ("21.4", "20")
    assert compared(19.96, 20) == ("19.96", "20")  # not "20 < 20"
    assert compared(20.0004, 20) == ("20.0004", "20")
    assert compared(20, 20) == ("20", "20")


# --- probability points -----------------------------------------------------------------------------------
@pytest.mark.parametrize("probability, contribution", [(0.35, 0.42), (0.5, 1.0), (0.02, 0.56), (0.9, -2.0)])
def test_points_are_the_probability_with_less_without_the_contribution(probability, contribution):
    logit = math.log(probability / (1 - probability))
    expected = 100 * (p(logit) - p(logit - contribution))
    assert probability_points(probability, contribution) == pytest.approx(expected, rel=1e-9)


def test_the_same_log_odds_are_worth_more_points_near_a_half():
    assert probability_points(0.5, 0.56) > 10 > probability_points(0.05, 0.56) > 0


@given(
    probability=st.floats(min_value=0, max_value=1, allow_nan=False),
    contribution=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_points_have_the_contributions_sign_and_stay_within_a_hundred(probability, contribution):
    points = probability_points(probability, contribution)
    assert -100 <= points <= 100
    assert math.copysign(1, points) == math.copysign(1, contribution) or contribution == 0 == points
    assert (points > 0) == (contribution > 0) and (points < 0) == (contribution < 0)
    assert strength(points).endswith(
        "raise" if contribution > 0 else "lower" if contribution < 0 else "effect"
    )


@given(
    probability=st.floats(min_value=0.001, max_value=0.999),
    small=st.floats(min_value=0, max_value=5),
    extra=st.floats(min_value=0.01, max_value=5),
)
def test_a_larger_contribution_is_worth_more_points(probability, small, extra):
    assert probability_points(probability, small + extra) > probability_points(probability, small)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "x"])
def test_points_of_a_missing_figure_are_zero(bad):
    assert probability_points(bad, 0.5) == 0.0 and probability_points(0.5, bad) == 0.0


@pytest.mark.parametrize(
    "points, text, word",
    [
        (12.4, "+12 pts", "strong raise"),
        (10.0, "+10 pts", "strong raise"),
        (-9.99, "-10 pts", "strong lower"),  # the word goes with the number shown
        (9.49, "+9 pts", "moderate raise"),
        (2.6, "+3 pts", "moderate raise"),
        (2.49, "+2 pts", "slight raise"),
        (1.5, "+2 pts", "slight raise"),  # half up, not to the even 2
        (0.5, "+1 pt", "slight raise"),
        (3.0, "+3 pts", "moderate raise"),
        (1.2, "+1 pt", "slight raise"),
        (-0.7, "-1 pt", "slight lower"),
        (0.3, "<1 pt", "slight raise"),
        (-0.01, "<1 pt", "slight lower"),
        (0.0, "<1 pt", "no effect"),
    ],
)
def test_points_and_strength_words(points, text, word):
    assert points_text(points) == text and strength(points) == word


# --- explanations of the rules engine ---------------------------------------------------------------------
def _decide(spec, **overrides):
    day = (datetime.date(2026, 11, 2) - EPOCH).days
    arrays = {
        "stage": np.array(["lead"], dtype=object),
        "since": np.array([0]),
        "excluded": np.array([""], dtype=object),
        "mql": np.array([False]),
        "fit": np.array([45.0]),
        "engagement": np.array([21.4421]),
        "fast_track": np.array([""], dtype=object),
        "fast_track_day": np.array([-1]),
        "opportunity_day": np.array([-1]),
        "won_day": np.array([-1]),
    }
    arrays.update({k: np.asarray(v, dtype=arrays[k].dtype) for k, v in overrides.items()})
    if "fast_track" in overrides:
        arrays["fast_track_day"] = np.array([day])
    return lifecycle.decide(spec, labels={"demo_request": "Demo request"}, **arrays)


def test_lifecycle_reasons_round_the_figures_and_name_the_action():
    spec = RulesetSpec(id=1, number=1, rules=(), mql_fit_min=40, mql_engagement_min=20, recycle_below=15)
    _, rule, reason = _decide(spec, mql=[True])
    assert (rule[0], reason[0]) == ("MQL definition", "fit 45 ≥ 40 and engagement 21.4 ≥ 20")
    _, rule, reason = _decide(spec, fast_track=["demo_request"])
    assert (rule[0], reason[0]) == ("fast-track", "Demo request on 2 Nov 2026")
    _, rule, reason = _decide(spec, stage=["mql"], engagement=[14.9604])
    assert (rule[0], reason[0]) == ("engagement decayed", "engagement 14.96 < 15")  # not "15 < 15"


@pytest.mark.parametrize(
    "rule, stored, words",
    [
        ("MQL definition", "fit 45 ≥ 40 and engagement 21.4421 ≥ 20", "fit 45 ≥ 40 and engagement 21.4 ≥ 20"),
        ("engagement decayed", "engagement 14.9604 < 15", "engagement 14.96 < 15"),
        ("fast-track", "demo request on 2026-11-02", "Demo request on 2 Nov 2026"),
        ("fast-track", "free trial on 2026-01-31", "Free trial on 31 Jan 2026"),
        ("exclusion", "Excluded: competitor", "Excluded: competitor"),
        ("", "Met 21.4421 ≥ 20 people: accepted", "Met 21.4421 ≥ 20 people: accepted"),  # a person's words
        ("MQL definition", "fit 45 ≥ 40 and engagement 21.4 ≥ 20", "fit 45 ≥ 40 and engagement 21.4 ≥ 20"),
    ],
)
def test_stored_lifecycle_reasons_read_in_todays_words(rule, stored, words):
    assert lifecycle_reason(rule, stored, {"demo_request": "Demo request"}) == words


def test_buying_stage_reasons_count_in_agreement():
    policy = stages.StagePolicy(
        awareness_min=0.05,
        consideration_min=0.15,
        decision_min=0.3,
        purchase_min=0.5,
        hysteresis=0.03,
        min_days=7,
    )
    stage, reason = stages.decide(
        policy,
        current=np.array([""], dtype=object),
        days_in_stage=np.array([0.0]),
        p=np.array([0.01]),
        activity_30d=np.array([5]),
        research_30d=np.array([2]),
        engaged_people_30d=np.array([3]),
        high_intent_30d=np.array([0]),
        open_opportunity=np.array([False]),
    )
    assert stage[0] == "consideration"
    assert reason[0] == (
        "first scored: 2 research-page visits (pricing, comparisons, case studies) "
        "and 3 people engaged in 30 days"
    )


def _account_explanation_names(contacts: int) -> list[str]:
    members = [
        ContactResult(
            contact_id=i,
            fit=10.0,
            engagement=5.0,
            fit_grade="C",
            engagement_grade="3",
            excluded="",
            missing="",
            mql=False,
            fast_track="",
            fast_track_day=None,
        )  # fmt: skip
        for i in range(1, contacts + 1)
    ]
    spec = RulesetSpec(id=1, number=1, rules=())
    result = score_account(spec, {"account_id": 9}, members, as_of=datetime.date(2026, 11, 2))
    return [name for _rule, name, _points in result.explanation]


def test_an_accounts_rules_explanation_counts_its_contacts_in_agreement():
    assert "Engagement of 1 known contact" in _account_explanation_names(1)
    assert "Engagement of 2 known contacts" in _account_explanation_names(2)
