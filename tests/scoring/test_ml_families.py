"""The model families behind one interface: each fits, predicts, explains with contributions that add up
to its log-odds, and survives the round trip through its stored bytes. The bootstrap's fast weighted ROC
AUC agrees with scikit-learn's. On a demo world the backtest names the best candidate its champion, and
training ships that family."""

import datetime
import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import roc_auc_score

from scoring import pipeline
from scoring.learned import backtest as B
from scoring.learned import families
from scoring.learned import registry as R
from scoring.models import AccountModelScore, ScoringModel


def frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Counts, a heavy-tailed amount with missing values, a flag — and a label that depends on them."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(2.0, n).astype(float)
    revenue = np.exp(rng.normal(15, 2, n))
    revenue[rng.random(n) < 0.2] = np.nan
    flag = (rng.random(n) < 0.3).astype(float)
    z = 0.6 * visits - 1.0 * flag + 0.3 * np.nan_to_num(np.log(revenue) - 15) - 1.5
    label = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return pd.DataFrame({"visits": visits, "revenue": revenue, "flag": flag, "label": label})


COLUMNS = ["visits", "revenue", "flag"]


@pytest.mark.parametrize("family", families.CANDIDATES)
def test_every_family_predicts_explains_and_round_trips_through_its_bytes(family):
    data = frame()
    train, validation, test = data.iloc[:400], data.iloc[400:500], data.iloc[500:]
    fitted = families.fit(family, train, validation, COLUMNS, {"n_estimators": 40})
    p = fitted.predict(test)
    assert p.shape == (100,) and ((p > 0) & (p < 1)).all()
    assert roc_auc_score(test["label"], p) > 0.65  # it learnt the signal
    contributions = fitted.contributions(test)
    assert contributions.shape == (100, len(COLUMNS) + 1)
    # The explanation adds up to the prediction: bias + contributions = log-odds.
    np.testing.assert_allclose(families.sigmoid(contributions.sum(axis=1)), p, rtol=1e-4, atol=1e-5)
    loaded = families.load(fitted.artefact(), columns=COLUMNS, params={"missing": 0.0})
    assert loaded.family == family
    np.testing.assert_allclose(loaded.predict(test), p, rtol=1e-6)
    np.testing.assert_allclose(loaded.contributions(test), contributions, rtol=1e-5, atol=1e-6)
    # A column the rows lack (a technology nobody scored has) reads as 0, not an error.
    assert len(loaded.predict(test.drop(columns=["flag"]))) == 100


def test_logistic_regression_reads_a_missing_value_with_its_own_indicator():
    data = frame()
    fitted = families.fit_logistic(data, data["label"].to_numpy(), COLUMNS)
    assert list(fitted.flagged) == [COLUMNS.index("revenue")]  # the only column with missing values
    row = data.iloc[:1].copy()
    row["revenue"] = np.nan
    explained = fitted.contributions(row)[0]
    assert np.isfinite(explained).all()  # the median and the indicator stand in for the unknown
    assert families.sigmoid(explained.sum()) == pytest.approx(fitted.predict(row)[0])


@pytest.mark.parametrize("binning", ["deciles", "two"])
def test_naive_bayes_bins_each_column_with_missing_apart(binning):
    data = frame(2000, seed=1)
    x, y = data[COLUMNS].to_numpy(), data["label"].to_numpy()
    model = families.BinnedNB(binning).fit(x[:1500], y[:1500])
    assert roc_auc_score(y[1500:], model.predict_proba(x[1500:])[:, 1]) > 0.65
    codes = model._codes(x[1500:])
    revenue = COLUMNS.index("revenue")
    assert (codes[np.isnan(x[1500:, revenue]), revenue] == families.NB_BINS).all()  # missing: its own bin
    widest = 10 if binning == "deciles" else 2
    assert codes[~np.isnan(x[1500:, revenue]), revenue].max() < widest


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 80),
    columns=st.integers(1, 6),
    width=st.integers(1, 5),
    weighted=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_the_counted_naive_bayes_is_scikit_learns(n, columns, width, weighted, seed):
    """Two implementations of one model: ``CountedNB`` (every column counted at once) and scikit-learn's
    ``CategoricalNB(alpha=1, min_categories=width)``, with and without weights, codes missing in training."""
    from sklearn.naive_bayes import CategoricalNB

    rng = np.random.default_rng(seed)
    codes, test = rng.integers(0, width, (n, columns)), rng.integers(0, width, (30, columns))
    y = rng.integers(0, 2, n)
    y[0], y[-1] = 0, 1
    weight = rng.uniform(0.1, 3.0, n) if weighted else None
    ours = families.CountedNB(width).fit(codes, y, weight).predict_proba(test)
    theirs = CategoricalNB(alpha=1.0, min_categories=width).fit(codes, y, sample_weight=weight)
    np.testing.assert_allclose(ours, theirs.predict_proba(test), rtol=1e-9, atol=1e-12)


def test_the_counted_naive_bayes_refuses_what_it_cannot_count():
    model = families.CountedNB(3)
    with pytest.raises(ValueError, match="both classes"):
        model.fit(np.zeros((4, 2), dtype=int), np.ones(4))
    with pytest.raises(ValueError, match="0 … 2"):
        model.fit(np.full((4, 2), 3), np.array([0, 1, 0, 1]))
    model.fit(np.zeros((4, 2), dtype=int), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="0 … 2"):
        model.predict_proba(np.full((1, 2), -1))


def _sparse_plainly(x: np.ndarray):
    """What ``sparse_of`` was: the whole matrix as float32, NaN as zero, scanned by rows."""
    from scipy import sparse

    return sparse.csr_matrix(np.nan_to_num(np.asarray(x).astype(np.float32), nan=0.0, posinf=np.inf,
                                           neginf=-np.inf))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(0, 30), st.integers(0, 8)),
        elements=st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e-50, 3.4e39, np.nan, np.inf, -np.inf, 0.1]),
    ),
    by_columns=st.booleans(),
)
def test_a_matrix_made_sparse_a_column_at_a_time_is_the_one_made_by_rows(x, by_columns):
    """A frame's column-major values and a row-major matrix both become the same float32 CSR matrix as
    converting the whole matrix and scanning it by rows: zeros (and NaN, and what float32 rounds to zero)
    left out, infinities kept."""
    given_x = np.asfortranarray(x) if by_columns else np.ascontiguousarray(x)
    fast, plain = families.sparse_of(given_x), _sparse_plainly(x)
    assert fast.shape == plain.shape and fast.dtype == plain.dtype == np.float32
    assert fast.has_sorted_indices
    np.testing.assert_array_equal(fast.indptr, plain.indptr)
    np.testing.assert_array_equal(fast.indices, plain.indices)
    np.testing.assert_array_equal(fast.data, plain.data)


def test_a_frames_sparse_input_is_its_columns_matrix():
    frame = pd.DataFrame(
        {"a": [0.0, 1.5, np.nan], "b": [2, 0, 3], "c": [np.inf, 0.0, -1.0], "d": list("xyz")}
    )
    x = families.sparse_input(frame, ["c", "a", "b"])
    assert x.toarray().tolist() == [[np.inf, 0.0, 2.0], [0.0, 1.5, 0.0], [-1.0, 0.0, 3.0]]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 60),
    seed=st.integers(0, 10_000),
    ties=st.booleans(),
)
def test_the_bootstraps_weighted_auc_is_scikit_learns(n, seed, ties):
    """Two implementations of the same figure: the O(n) weighted AUC over tie groups that the paired
    bootstrap uses, and scikit-learn's ``roc_auc_score`` with sample weights."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    score = rng.integers(0, 4, n).astype(float) if ties else rng.random(n)
    weight = rng.integers(0, 4, n).astype(float)
    if weight[y == 1].sum() == 0 or weight[y == 0].sum() == 0:
        weight[:] = 1.0
    fast = B._Ranked(score, y).auc(weight[y == 1], weight[y == 0])
    assert fast == pytest.approx(roc_auc_score(y, score, sample_weight=weight), abs=1e-12)
    # The same weights given per group (here three rows a group), as a bootstrap replicate gives them.
    groups = np.arange(n) // 3
    drawn = rng.integers(0, 4, groups.max() + 1).astype(float)
    if drawn[groups][y == 1].sum() and drawn[groups][y == 0].sum():
        by_group = B._Ranked(score, y, groups).auc_drawn(drawn)
        assert by_group == pytest.approx(roc_auc_score(y, score, sample_weight=drawn[groups]), abs=1e-12)


def test_the_paired_bootstrap_separates_a_clear_difference_from_noise():
    rng = np.random.default_rng(3)
    accounts = np.repeat(np.arange(400), 3)
    y = (rng.random(1200) < 0.3).astype(int)
    good = y + rng.normal(0, 0.6, 1200)
    same = good + rng.normal(0, 0.01, 1200)
    poor = y + rng.normal(0, 2.5, 1200)
    out = B.paired_bootstrap(y, {"good": good, "same": same, "poor": poor}, accounts, "good", replicates=300)
    assert out["poor"]["clearly_better"] and out["poor"]["ci"][0] > 0
    assert not out["same"]["clearly_better"] and out["same"]["ci"][0] <= 0 <= out["same"]["ci"][1]
    assert out["poor"]["delta"] == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, poor), abs=1e-4)


def _bootstrap_one_at_a_time(y, scores, groups, reference, replicates, seed=0):
    """The paired bootstrap's intervals, one replicate after another in one thread (what it was)."""
    _, group = np.unique(groups, return_inverse=True)
    n_groups = int(group.max()) + 1
    ranked = {name: B._Ranked(np.asarray(s, dtype=np.float64), y) for name, s in scores.items()}
    positive, negative = group[y == 1], group[y != 1]
    rng = np.random.default_rng(seed)
    deltas = {name: [] for name in scores if name != reference}
    for _ in range(replicates):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups).astype(float)
        base = ranked[reference].auc(drawn[positive], drawn[negative])
        for name in deltas:
            deltas[name].append(base - ranked[name].auc(drawn[positive], drawn[negative]))
    return {name: [round(float(v), 4) for v in np.percentile(d, [2.5, 97.5])] for name, d in deltas.items()}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), replicates=st.sampled_from([1, 49, 50, 51, 120]), ties=st.booleans())
def test_the_threaded_bootstrap_draws_and_finds_what_one_thread_does(seed, replicates, ties):
    rng = np.random.default_rng(seed)
    n = 300
    accounts = rng.integers(0, 90, n)
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    noise = (lambda: rng.integers(0, 3, n)) if ties else (lambda: rng.normal(0, 1, n))
    scores = {"a": y + noise(), "b": y + noise(), "c": noise().astype(float)}
    out = B.paired_bootstrap(y, scores, accounts, "a", replicates=replicates, seed=seed)
    expected = _bootstrap_one_at_a_time(y, scores, accounts, "a", replicates, seed=seed)
    assert {name: out[name]["ci"] for name in expected} == expected


# --- on a demo world ------------------------------------------------------------------------------------
@pytest.fixture
def demo(db, settings):
    settings.SCORING_INCREMENTAL = False
    call_command("seed_demo", accounts=300, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    call_command("rescore", rules_only=True, verbosity=0, stdout=io.StringIO())


def test_the_backtest_names_the_best_candidate_champion_beside_baselines_and_oracles(demo, settings):
    settings.SCORING_FEATURE_ABLATION, settings.SCORING_SEMI_MONTHLY_BELOW = True, 25_000  # the product's
    report = B.run(folds=2)
    # A small population: snapshots on the 15th and at the month's end; the folds test month ends.
    days = {datetime.date.fromisoformat(d).day for d in report["snapshot_dates"]}
    assert 15 in days and len(days) > 1
    assert all(B.is_month_end(datetime.date.fromisoformat(f["test_dates"][0])) for f in report["folds"])
    models = report["models"]
    champion = report["champion"]
    candidates = {m: models[m]["roc_auc"] for m in families.CANDIDATES}
    assert champion["family"] == max(candidates, key=candidates.get)
    assert champion["roc_auc"] == pytest.approx(candidates[champion["family"]], abs=1e-4)
    others = set(models) - {champion["family"]}
    assert set(champion["differences"]) == others
    for name, difference in champion["differences"].items():
        assert difference["delta"] == pytest.approx(champion["roc_auc"] - models[name]["roc_auc"], abs=2e-4)
        low, high = difference["ci"]
        assert low <= high
    assert report["oracles"] == ["observable_ceiling", "ground_truth"]
    assert models["observable_ceiling"]["roc_auc"] > 0.6
    # The plain baseline sees firmographics and per-window counts only.
    assert set(report["plain_features"]) < set(report["features"])
    assert {B.feature_group(c) for c in report["plain_features"]} == {"firmographics", "activity"}
    assert not any(c.endswith(("_trend_30d", "_days_since")) for c in report["plain_features"])
    groups = report["feature_groups"]
    assert groups["family"] == champion["family"]
    named = {g["group"] for g in groups["groups"]}
    assert {"firmographics", "buying_team", "trends", "recency", "activity"} <= named
    for g in groups["groups"]:
        assert g["earns"] == pytest.approx(groups["roc_auc"] - g["roc_auc_without"], abs=2e-4)


def test_training_ships_the_champion_family_and_scores_with_it(demo, monkeypatch):
    """Whichever family the backtest chooses is the one registered, scored with and explained."""
    real = B.run

    def logistic_wins(**kwargs):
        report = real(**kwargs, ablation=False)
        report["champion"]["family"] = "logistic_regression"
        return report

    monkeypatch.setattr(B, "run", logistic_wins)
    model = R.model_train(folds=2)
    assert model.family == "logistic_regression" and model.params["family"] == "logistic_regression"
    assert model.artefact_bytes().startswith(families.FAMILY_KEY)
    assert model.params["C"] == model.metrics["logistic_c"] in families.LOGISTIC_CS
    stats = pipeline.full_rescore_local(rules=False)
    assert "failed" not in stats
    fitted = families.fitted_of(ScoringModel.objects.get(pk=model.pk))
    score = AccountModelScore.objects.exclude(contributions=[]).first()
    assert score.model_id == model.pk
    # The stored explanation is the logistic regression's own largest contributions.
    from scoring.learned import features as F

    row = F.account_features(
        as_of=score.as_of, account_ids=[score.account_id], top_keys=model.params["top_keys"]
    )
    contributions = fitted.contributions(row)[0][:-1]
    largest = np.argsort(-np.abs(contributions), kind="stable")[:5]
    assert [f for f, _v, _c in score.contributions] == [model.features[j] for j in largest]
    assert score.in_market == pytest.approx(round(float(fitted.predict(row)[0]), 4))


@pytest.mark.parametrize("strength", [families.LOGISTIC_CS[0], max(families.LOGISTIC_CS), 100.0])
def test_the_newton_fit_is_the_optimum_a_fully_converged_lbfgs_fit_finds(strength):
    """The solver changed, not the model: with weights, a missing-value indicator and a column that nearly
    repeats another (collinear with its own log), the coefficients are those of L-BFGS run to a tight
    tolerance on the same prepared rows."""
    from sklearn.linear_model import LogisticRegression

    rows = frame(3000, seed=4)
    rows["visits_again"] = rows["visits"] * (1 + 1e-6)
    columns = [*COLUMNS, "visits_again"]
    weight = np.where(rows["label"] == 1, 1.0, 3.0)
    x, y = rows[columns].to_numpy(), rows["label"].to_numpy()
    model = families.fit_logistic(x, y, columns, C=strength, weight=weight)
    z = model.standardised(x)  # the rows as the fit saw them
    exact = LogisticRegression(C=strength, solver="lbfgs", tol=1e-10, max_iter=100_000).fit(
        z, y, sample_weight=weight
    )
    assert np.allclose(model.log_odds(x), z @ exact.coef_[0] + exact.intercept_[0], atol=2e-3)


def _collinear(rng, n: int) -> pd.DataFrame:
    x = rng.normal(size=(n, 40))
    x[:, 20:] = x[:, :20] + rng.normal(0, 0.05, (n, 20))  # near-copies: how much to regularise matters
    log_odds = x[:, :20] @ np.linspace(1.5, -1.0, 20) - 2
    frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(40)])
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    return frame


@pytest.mark.parametrize("seed", [1, 2])
def test_the_strength_chosen_is_the_one_whose_full_fit_ranks_validation_best(seed):
    """Each candidate strength is fitted for real (warm-started L-BFGS with a loose tolerance stopped at
    once for the larger ones on these rows, which then tied with a smaller one and lost)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    train, validation = _collinear(rng, 30_000), _collinear(rng, 10_000)
    columns = [f"c{i}" for i in range(40)]
    z, prep = families._preparation(train, columns)
    check = families._prepared(
        families.dense(validation, columns, dtype=np.float64).copy(),
        prep["median"], prep["flagged"], prep["logged"], prep["mean"], prep["scale"],
    )  # fmt: skip
    full = {}
    for c in families.LOGISTIC_CS:
        fitted = LogisticRegression(C=c, tol=1e-8, solver="newton-cholesky").fit(z, train["label"])
        full[c] = roc_auc_score(validation["label"], check @ fitted.coef_[0])
    assert families.logistic_strength(train, validation, columns) == max(full, key=full.get)


def test_a_logistic_fit_started_from_the_previous_folds_reaches_the_same_model():
    """The next fold's fit starts from the previous fold's model mapped into its own standardisation (the
    same function of the rows, but for clipping and imputation), and reaches the optimum a fit from zero
    reaches; a model that does not line up (other columns or strength) is not used."""
    from sklearn.linear_model import LogisticRegression

    first, second = frame(3000, seed=5), frame(3000, seed=6)
    x1, y1, x2, y2 = (first[COLUMNS].to_numpy(), first["label"].to_numpy(), second[COLUMNS].to_numpy(),
                      second["label"].to_numpy())  # fmt: skip
    previous = families.fit_logistic(x1, y1, COLUMNS, C=0.2)
    z, preparation = families._preparation(x2, COLUMNS)
    coef, intercept = previous.initial_for(preparation, columns=COLUMNS, C=0.2)
    unclipped = (np.abs(z) < families.CLIP).all(axis=1) & (
        np.abs(previous.standardised(x2)) < families.CLIP
    ).all(axis=1)
    finite = np.isfinite(x2).all(axis=1) & unclipped
    assert finite.sum() > 1000
    mapped = z[finite] @ coef[0] + intercept[0]
    assert np.allclose(mapped, previous.log_odds(x2[finite]), atol=1e-9)  # the same function
    assert previous.initial_for(preparation, columns=COLUMNS[::-1], C=0.2) is None
    assert previous.initial_for(preparation, columns=COLUMNS, C=0.05) is None

    warm = families.fit_logistic(x2, y2, COLUMNS, C=0.2, start=previous)
    exact = LogisticRegression(C=0.2, solver="lbfgs", tol=1e-10, max_iter=100_000).fit(z, y2)
    assert np.allclose(warm.log_odds(x2), z @ exact.coef_[0] + exact.intercept_[0], atol=2e-3)
