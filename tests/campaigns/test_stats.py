"""The measurement statistics: estimates recover known effects, intervals cover at their rate, the
holdout draw is reproducible and order-free, matching weights balance the strata."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import stats


def test_diff_in_diff_recovers_a_known_effect_with_an_interval_that_covers_it():
    rng = np.random.default_rng(7)
    n_t, n_c, effect = 4000, 600, 0.8
    base_t, base_c = rng.gamma(2.0, 1.0, n_t), rng.gamma(2.0, 1.5, n_c)  # groups differ before
    pre_t, pre_c = rng.poisson(base_t), rng.poisson(base_c)
    post_t, post_c = rng.poisson(base_t + effect), rng.poisson(base_c)
    estimate = stats.diff_in_diff(pre_t, post_t, pre_c, post_c)
    assert estimate.low < effect < estimate.high
    assert estimate.significant
    assert estimate.treated == n_t and estimate.controls == n_c


def test_intervals_cover_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(400):
        t, c = rng.normal(0.3, 1.0, 300), rng.normal(0.0, 1.0, 60)
        est = stats.difference(t, c)
        covered += est.low <= 0.3 <= est.high
    assert 0.92 <= covered / 400 <= 0.98


def test_no_effect_gives_an_interval_around_zero_and_too_few_accounts_give_none():
    rng = np.random.default_rng(3)
    est = stats.difference(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000))
    assert est.low < 0 < est.high and not est.significant
    assert stats.difference(np.array([1.0]), np.array([1.0, 2.0])).effect is None


@given(st.lists(st.integers(1, 10**12), min_size=1, max_size=200, unique=True), st.integers(0, 2**62))
@settings(max_examples=50, deadline=None)
def test_holdout_is_the_same_whatever_the_order_and_the_other_members(ids, seed):
    ids = np.array(ids, dtype=np.int64)
    held = dict(zip(ids.tolist(), stats.holdout_mask(ids, seed=seed, share=0.1).tolist(), strict=True))
    shuffled = ids[::-1][: max(1, len(ids) // 2)]
    again = stats.holdout_mask(shuffled, seed=seed, share=0.1)
    assert [held[i] for i in shuffled.tolist()] == again.tolist()


def test_holdout_share_is_about_the_share_asked_and_seeds_differ():
    ids = np.arange(1, 50_001)
    a = stats.holdout_mask(ids, seed=1, share=0.1)
    b = stats.holdout_mask(ids, seed=2, share=0.1)
    assert abs(a.mean() - 0.1) < 0.01
    assert (a != b).any()


def test_weighted_control_equals_the_unweighted_one_when_weights_are_equal():
    rng = np.random.default_rng(5)
    t, c = rng.normal(1, 1, 100), rng.normal(0, 1, 80)
    plain = stats.difference(t, c)
    weighted = stats.difference(t, c, np.full(80, 2.5))
    assert np.isclose(plain.effect, weighted.effect) and np.isclose(plain.se, weighted.se)


def test_matching_weights_balance_the_strata_and_flag_unmatched():
    treated = np.array(["a", "a", "a", "b", "z"])
    control = np.array(["a", "b", "b", "c"])
    weights, matched = stats.matching_weights(treated, control)
    assert weights.tolist() == [3.0, 0.5, 0.5, 0.0]
    assert matched.tolist() == [True, True, True, True, False]


def test_a_small_holdout_gets_the_wider_t_interval_and_still_covers():
    rng = np.random.default_rng(19)
    covered = 0
    for _ in range(600):
        est = stats.difference(rng.normal(0.3, 1.0, 200), rng.normal(0.0, 1.0, 4))
        covered += est.low <= 0.3 <= est.high
    assert 0.93 <= covered / 600 <= 0.975  # a normal interval covers ~85% here
    assert stats.t95(3) > 3 and abs(stats.t95(1e9) - stats.Z95) < 1e-12
