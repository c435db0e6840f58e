"""The in-market backtest on a small seeded demo world: every metric for every model, a time-ordered
split, better than chance, and a warning for a feature that knows the answer."""

import datetime
import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scoring.learned import backtest as B
from scoring.learned import families
from scoring.learned import features as F

METRICS = (
    "roc_auc", "pr_auc", "top_decile_lift", "top_decile_capture", "precision_at_100", "precision_at_5pct",
    "brier", "calibration", "base_rate", "rows", "positives",
)  # fmt: skip


@pytest.fixture
def demo(db):
    call_command("seed_demo", accounts=300, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


def test_report_compares_every_model_on_a_time_ordered_split(demo):
    report = B.run(folds=2)
    assert set(report["models"]) == set(B.MODELS)
    for name, values in report["models"].items():
        assert set(METRICS) <= set(values), name
        assert values["roc_auc"] is not None and values["pr_auc"] is not None
        assert values["top_decile_lift"] is not None and values["precision_at_100"] is not None
        if name == "rules":  # a points total, not a probability
            assert values["brier"] is None
        else:
            assert 0 <= values["brier"] <= 1
            assert len(values["calibration"]["predicted"]) == len(values["calibration"]["observed"]) <= 10
        # The curves the model page draws, pooled over the test folds.
        roc = values["roc_curve"]
        assert 2 <= len(roc["fpr"]) == len(roc["tpr"]) <= B.ROC_POINTS + 2
        assert roc["fpr"][0] == roc["tpr"][0] == 0 and roc["fpr"][-1] == roc["tpr"][-1] == 1
        assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"])
        assert len(values["deciles"]["lift"]) == len(values["deciles"]["cumulative_capture"]) == 10
        assert values["deciles"]["lift"][0] == pytest.approx(values["top_decile_lift"], abs=1e-4)
        assert values["deciles"]["cumulative_capture"][-1] == 1.0
        hist = values["score_histogram"]
        assert (
            len(hist["edges"])
            == B.HISTOGRAM_BINS + 1
            == len(hist["positives"]) + 1
            == len(hist["negatives"]) + 1
        )
        assert sum(hist["positives"]) == values["positives"]
        assert sum(hist["positives"]) + sum(hist["negatives"]) == values["rows"]
        if name != "rules":
            assert (hist["edges"][0], hist["edges"][-1]) == (0.0, 1.0)
    assert len(report["folds"]) == 2
    horizon = datetime.timedelta(days=report["horizon_days"])
    for fold in report["folds"]:
        test = datetime.date.fromisoformat(fold["test_dates"][0])
        seen = [datetime.date.fromisoformat(d) for d in fold["train_dates"] + fold["validation_dates"]]
        assert max(seen) < test
        assert max(seen) + horizon <= test  # no training label window reaches into the test period
        assert fold["validation_dates"][0] > fold["train_dates"][-1]
        assert set(fold["models"]) == set(B.MODELS)
        assert "roc_curve" not in fold["models"]["xgboost"]  # folds keep the figures, not the curves
    tests = [f["test_dates"][0] for f in report["folds"]]
    assert tests == sorted(tests)
    # Better than a random ranking, and the ground truth is the ceiling it is measured against.
    assert report["models"]["xgboost"]["roc_auc"] > 0.6
    assert report["models"]["xgboost"]["top_decile_lift"] > 1.5
    assert report["models"]["ground_truth"]["roc_auc"] > 0.6
    assert report["leakage_warnings"] == []
    trees = sorted(f["xgboost_trees"] for f in report["folds"])
    assert all(1 <= t <= families.XGB_PARAMS["n_estimators"] for t in trees)
    assert report["xgboost_trees"] == int(sum(trees) / 2)  # the median of the two folds' choices
    json.dumps(report)  # serialisable as it stands


def test_a_feature_that_knows_the_outcome_is_flagged(demo):
    as_of = B.data_end()
    frame = F.snapshots(dates=B.labelled_dates(as_of=as_of, horizon_days=90))
    rng = np.random.default_rng(0)
    frame["opportunity_next_quarter"] = frame["label"] + rng.normal(0, 0.05, len(frame))
    report = B.run(as_of=as_of, folds=1, frame=frame)
    flagged = {w["feature"] for w in report["leakage_warnings"]}
    assert flagged == {"opportunity_next_quarter"}


def test_metrics_on_a_known_ranking():
    y = np.array([1] * 10 + [0] * 90)
    perfect = B.metrics(y, np.linspace(1, 0, 100))
    assert perfect["roc_auc"] == 1.0 and perfect["top_decile_capture"] == 1.0
    assert perfect["top_decile_lift"] == pytest.approx(10.0) and perfect["precision_at_5pct"] == 1.0
    assert perfect["precision_at_100"] == pytest.approx(0.1)
    constant = B.metrics(y, np.full(100, 0.1))
    assert constant["roc_auc"] == 0.5 and constant["brier"] == pytest.approx(0.09)


def test_metrics_carry_the_curves_the_model_page_draws():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    score = np.clip(0.1 + 0.3 * y + rng.normal(0, 0.2, 5000), 0, 1)
    figures = B.metrics(y, score)
    roc = figures["roc_curve"]
    assert len(roc["fpr"]) == len(roc["tpr"]) <= B.ROC_POINTS + 2  # downsampled from thousands
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(figures["roc_auc"], abs=0.01)
    deciles = figures["deciles"]
    assert deciles["lift"][0] == pytest.approx(figures["top_decile_lift"], abs=1e-4)
    assert deciles["cumulative_capture"][0] == pytest.approx(figures["top_decile_capture"], abs=1e-4)
    assert deciles["lift"][0] > deciles["lift"][-1]
    assert deciles["cumulative_capture"] == sorted(deciles["cumulative_capture"])
    assert deciles["cumulative_capture"][-1] == 1.0
    hist = figures["score_histogram"]
    assert hist["edges"] == pytest.approx(np.linspace(0, 1, B.HISTOGRAM_BINS + 1))
    assert sum(hist["positives"]) == y.sum() and sum(hist["negatives"]) == len(y) - y.sum()
    # A points total is binned over its own range.
    points = B.metrics(y, score * 150 + 20, probability=False)["score_histogram"]
    assert points["edges"][0] == pytest.approx(score.min() * 150 + 20)
    assert points["edges"][-1] == pytest.approx(score.max() * 150 + 20)
    assert sum(points["positives"]) == y.sum()
    # Figures only, when asked (per fold).
    assert "roc_curve" not in B.metrics(y, score, curves=False)
    # One class only: no ROC, but deciles and histogram still describe the scores.
    single = B.metrics(np.zeros(50, dtype=int), np.linspace(0, 1, 50))
    assert single["roc_curve"] is None and len(single["score_histogram"]["negatives"]) == B.HISTOGRAM_BINS


def test_splits_roll_the_origin_forward():
    dates = [datetime.date(2026, m, 28) for m in range(1, 10)]
    folds = B.splits(dates, folds=2, horizon_days=90)
    assert [f["test"] for f in folds] == [[dates[-2]], [dates[-1]]]
    for fold in folds:
        assert all(
            d + datetime.timedelta(days=90) <= fold["test"][0] for d in fold["train"] + fold["validation"]
        )


def test_backtest_command_prints_the_report_as_json(demo):
    out = io.StringIO()
    call_command("backtest", "--json", "--folds", "1", verbosity=0, stdout=out)
    report = json.loads(out.getvalue())
    assert report["kind"] == "in_market" and len(report["folds"]) == 1
    assert set(report["models"]) == set(B.MODELS)


def test_a_model_scores_dense_rows_as_it_was_trained_on_sparse_ones(demo):
    """Training drops the zeros (XGBoost's missing value); scoring a dense matrix must say so too."""
    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)
    frame = F.snapshots(dates=dates[-3:], horizon_days=90)
    columns = B.feature_columns(frame)
    sparse = families.sparse_input(frame, columns)
    assert sparse.nnz == int(np.count_nonzero(np.nan_to_num(frame[columns].to_numpy())))
    model = families.fit_xgboost(frame, None, columns, {"n_estimators": 40})
    booster = model.get_booster()
    assert booster.feature_names == columns
    x = frame[columns].to_numpy(dtype=np.float32)
    trained = model.predict_proba(sparse)[:, 1]
    scored = booster.predict(families.dmatrix(x, params=families.XGB_PARAMS, feature_names=columns))
    np.testing.assert_allclose(scored, trained, rtol=1e-6)
    # A matrix that took zeros for values would score other numbers: the setting matters.
    assert not np.allclose(booster.predict(families.dmatrix(x, params={}, feature_names=columns)), trained)


def test_the_refit_on_stacked_parts_is_the_refit_on_the_concatenated_rows(demo):
    """``fit_xgboost`` stops early on the validation rows, then refits on training + validation rows by
    stacking the two sparse matrices it already built: the same model as the concatenated frame gives."""
    import pandas as pd

    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-4:]
    frame = F.snapshots(dates=dates, horizon_days=90)
    columns = B.feature_columns(frame)
    train, validation = frame[frame["as_of"].isin(dates[:-1])], frame[frame["as_of"] == dates[-1]]
    params = {**families.XGB_PARAMS, "n_estimators": 60}
    model = families.fit_xgboost(train, validation, columns, params)
    trees = families.early_stopping_trees(train, validation, columns, params)
    both = pd.concat([train, validation], ignore_index=True)
    x_both, y_both = families.sparse_input(both, columns), both["label"].to_numpy()
    plain = families._boost(x_both, y_both, {**params, "n_estimators": trees})
    assert model.n_estimators == trees == plain.num_boosted_rounds()
    plain.feature_names = columns
    x = families.dmatrix(frame[columns].to_numpy(dtype=np.float32), params=params, feature_names=columns)
    np.testing.assert_array_equal(model.get_booster().predict(x), plain.predict(x))


def _reference_prepared(z, median, flagged, logged, mean=None, scale=None):
    """The logistic preparation written plainly (as it was before it was made to work in place)."""
    z = z.copy()
    missing = ~np.isfinite(z)
    indicators = missing[:, flagged].astype(np.float64)
    z[missing] = np.broadcast_to(median, z.shape)[missing]
    logs = np.nan_to_num(np.sign(z[:, logged]) * np.log1p(np.abs(z[:, logged])), nan=0.0)
    z = np.hstack([z, logs, indicators])
    return z if mean is None else np.clip((z - mean) / scale, -families.CLIP, families.CLIP)


def _reference_preparation(x):
    finite = np.isfinite(x)
    with np.errstate(all="ignore"):
        median = np.nan_to_num(np.nanmedian(np.where(finite, x, np.nan), axis=0), nan=0.0)
    flagged = np.flatnonzero(~finite.all(axis=0) & finite.any(axis=0))
    binary = ((x == 0) | (x == 1) | ~finite).all(axis=0)
    logged = np.flatnonzero(~binary)
    z = _reference_prepared(x, median, flagged, logged)
    scaled = np.concatenate([~binary, np.ones(len(logged), dtype=bool), np.zeros(len(flagged), dtype=bool)])
    mean = np.where(scaled, z.mean(axis=0), 0.0)
    scale = np.where(scaled, z.std(axis=0), 1.0)
    scale[scale == 0] = 1.0
    prep = {"median": median, "flagged": flagged, "logged": logged, "mean": mean, "scale": scale}
    return np.clip((z - mean) / scale, -families.CLIP, families.CLIP), prep


@st.composite
def _feature_matrices(draw):
    """Columns of amounts, counts and 0/1 flags, with unknowns (NaN, ±inf) and -0 among them."""
    rows, cols = draw(st.integers(1, 30)), draw(st.integers(1, 6))
    value = st.floats(min_value=-1e9, max_value=1e9) | st.sampled_from([np.nan, np.inf, -np.inf, -0.0])
    flag = st.sampled_from([0.0, 1.0, np.nan])
    columns = [
        draw(arrays(np.float64, rows, elements=flag if draw(st.booleans()) else value)) for _ in range(cols)
    ]
    return np.column_stack(columns)


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # a column with no known value: its median is 0
@settings(max_examples=150, deadline=None)
@given(_feature_matrices(), _feature_matrices())
def test_the_preparation_in_place_is_the_plain_one(train, other):
    """``_preparation`` (and ``_prepared`` with its result, as a stored model predicts) agree with the plain
    reference: the same median, flags, logs, centring, scale and clipping; the input is left unchanged."""
    columns = [f"c{i}" for i in range(train.shape[1])]
    before = train.copy()
    z, prep = families._preparation(train, columns)
    expected, reference = _reference_preparation(train)
    np.testing.assert_array_equal(train, before)
    for key in ("median", "flagged", "logged", "mean"):
        np.testing.assert_array_equal(prep[key], reference[key])
    np.testing.assert_allclose(prep["scale"], reference["scale"], rtol=1e-9)
    np.testing.assert_allclose(z, expected, rtol=1e-7, atol=1e-9)
    if other.shape[1] >= train.shape[1]:
        other = other[:, : train.shape[1]]
        args = (prep["median"], prep["flagged"], prep["logged"], prep["mean"], prep["scale"])
        np.testing.assert_allclose(
            families._prepared(other, *args), _reference_prepared(other, *args), rtol=1e-7, atol=1e-9
        )


def test_a_pool_process_predicts_on_its_share_of_the_cores(monkeypatch):
    import os

    import xgboost

    from config.celery import _share_cores

    monkeypatch.delenv("REVOPS_XGB_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    _share_cores(options={"concurrency": 4})  # a worker of four processes on eight cores: two each
    assert os.environ["REVOPS_XGB_THREADS"] == "2"
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    booster = xgboost.train({"nthread": 8}, xgboost.DMatrix(x, label=np.arange(20) % 2), 2)
    config = json.loads(families.loaded(booster).save_config())
    assert config["learner"]["generic_param"]["nthread"] == "2"


def test_accounts_with_unknown_size_revenue_or_age_do_not_break_the_backtest(demo):
    """Firmographics are often missing in real data (an import without revenue): every model still runs,
    and XGBoost, logistic regression and naive Bayes all read unknown as 0."""
    from accounts.models import Account

    some = list(Account.objects.order_by("id").values_list("id", flat=True)[:40])
    Account.objects.filter(id__in=some[:20]).update(annual_revenue=None)
    Account.objects.filter(id__in=some[10:30]).update(employee_count=None, founded_year=None)
    report = B.run(folds=2)
    assert set(report["models"]) == set(B.MODELS)
    assert all(values["roc_auc"] is not None for values in report["models"].values())


def test_snapshots_built_a_chunk_of_accounts_at_a_time_are_the_whole_populations(demo):
    """Training builds features a chunk of accounts × a date at a time: the same rows, columns and labels
    as one read of every account (the top keys and one-hot columns are the whole population's)."""
    import pandas as pd

    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-3:]
    whole = F.snapshots(dates=dates, horizon_days=90)
    chunks = list(F.snapshot_chunks(dates=dates, horizon_days=90, chunk_accounts=70))
    assert len(chunks) > len(dates) and all(list(c.columns) == list(whole.columns) for c in chunks)
    parts = pd.concat(chunks, ignore_index=True)
    parts = parts.sort_values(["as_of", "account_id"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(parts, whole, check_like=False)


def test_training_rows_beyond_the_bound_are_a_weighted_sample_that_restores_the_base_rate(demo, monkeypatch):
    """Above ``SAMPLE_NEGATIVES`` negative rows training keeps a fixed sample of them, each weighing
    1 / the rate: the weighted rows stand for every row (the base rate), test dates keep every row, the
    columns' ranges are every row's, and the backtest still ranks and says how it sampled."""
    import os

    import pandas as pd

    dates = B.labelled_dates(as_of=B.data_end(), horizon_days=90)
    full = F.snapshots(dates=dates, horizon_days=90)
    monkeypatch.setattr(B, "SAMPLE_NEGATIVES", len(full) // 4)
    with B.TrainingRows.build(dates=dates, horizon_days=90, test_dates=dates[-1:]) as rows:
        store = rows.store
        assert rows.sampling["positives"] == 1.0 and rows.sampling["negatives"] < 0.5
        assert len(store) < len(full) / 2
        negatives, positives = store[store["label"] == 0], store[store["label"] == 1]
        assert (positives["weight"] == 1.0).all() and len(positives) == full["label"].sum()
        assert negatives["weight"].sum() == pytest.approx((full["label"] == 0).sum(), rel=0.1)
        weighted_rate = positives["weight"].sum() / store["weight"].sum()
        assert weighted_rate == pytest.approx(full["label"].mean(), rel=0.1)
        test = pd.concat(list(rows.test_chunks(dates[-1:])), ignore_index=True)
        assert len(test) == (full["as_of"] == dates[-1]).sum()
        columns = B.feature_columns(full)
        assert rows.stats.usable(columns) == B.columns_usable(full, columns)
        directory = rows.directory.name
    assert not os.path.exists(directory)  # the test rows' files are gone
    report = B.run(folds=2, ablation=False)
    assert report["sampling"]["weighted"] and report["sampling"]["negative_rate"] < 0.5
    assert "restore the base rate" in report["sampling"]["note"]
    assert report["champion"]["roc_auc"] > 0.6
    assert all(f["train_rows_weighted"] > f["train_rows"] for f in report["folds"])


def test_the_feature_group_refits_side_by_side_are_the_refits_in_turn(db, monkeypatch):
    """The refits run ``ABLATION_THREADS`` at a time, each on one core; what each group earns is the same
    as with one refit after another."""
    import pandas as pd

    rng = np.random.default_rng(5)
    dates = B.month_ends(datetime.date(2026, 1, 1), datetime.date(2026, 5, 31))
    n = 240
    parts = []
    for day in dates:
        x = rng.standard_normal((n, 4))
        label = (x[:, 0] + x[:, 1] + rng.standard_normal(n) > 0.5).astype(np.int64)
        parts.append(
            pd.DataFrame(
                {"as_of": day, "account_id": np.arange(1, n + 1), "log_employees": x[:, 0],
                 "all_30d": np.abs(x[:, 1]) * 3, "all_days_since": np.abs(x[:, 2]) * 10,
                 "technologies": np.abs(x[:, 3]).round(), "label": label}
            )
        )  # fmt: skip
    frame = pd.concat(parts, ignore_index=True)
    columns = ["log_employees", "all_30d", "all_days_since", "technologies"]
    split = B.splits(dates, folds=1, horizon_days=28)[0]
    params = {"C": 0.05, "n_estimators": 30}
    monkeypatch.setattr(B, "ABLATION_THREADS", 1)
    in_turn = B.group_ablation(frame, split, columns, "blend", params)
    monkeypatch.setattr(B, "ABLATION_THREADS", 3)
    side_by_side = B.group_ablation(frame, split, columns, "blend", params)
    assert side_by_side == in_turn
    assert {g["group"] for g in in_turn["groups"]} == {
        "firmographics",
        "activity",
        "recency",
        "technographics",
    }
    firmographics = next(g for g in in_turn["groups"] if g["group"] == "firmographics")
    assert firmographics["earns"] > 0.05  # the label is made of it


def test_the_rules_baseline_of_several_days_reads_the_contacts_once_and_scores_each_day_alone(
    demo, monkeypatch
):
    """The contacts' and accounts' fields do not depend on the day: the baseline of the test dates reads
    them once, and each day's scores are those of that day computed on its own (the activity differs)."""
    from scoring import population

    days = B.labelled_dates(as_of=B.data_end(), horizon_days=90)[-3:]
    alone = {day: B.rules_scores(day) for day in days}
    reads = []
    for name in ("contacts_frame", "accounts_frame"):
        original = getattr(population, name)
        monkeypatch.setattr(
            population, name, lambda *a, _o=original, _n=name, **k: reads.append(_n) or _o(*a, **k)
        )
    together = B.rules_scores_of(days)
    assert sorted(reads) == ["accounts_frame", "contacts_frame"]
    for day in days:
        assert (together[day] > 0).any()
        pd.testing.assert_series_equal(together[day], alone[day])
    assert not together[days[0]].equals(together[days[-1]])  # the days' activity differs


def test_the_contacts_scores_alone_are_the_full_evaluations(demo):
    from scoring.engine.rules import evaluate_contacts
    from scoring.population import contacts_by_range, spec_for
    from scoring.rescore import published

    spec, day = spec_for(published()), B.data_end()
    population = contacts_by_range(spec, day, 0, 2**62)
    full = evaluate_contacts(spec, population, as_of=day)
    alone = evaluate_contacts(spec, population, as_of=day, scores_only=True)
    assert len(alone) > 100 and (alone["excluded"] != "").any() and (alone["engagement"] > 0).any()
    pd.testing.assert_frame_equal(alone, full[["contact_id", "account_id", "fit", "engagement", "excluded"]])
