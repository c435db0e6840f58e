"""The SHAP tables of small trees (``scoring.engine.treeshap``) against XGBoost's own ``pred_contribs``: the
same values for any data, missing values and repeated features included, and XGBoost's path kept for what
the tables do not cover."""

import json

import numpy as np
import pandas as pd
import pytest
import xgboost
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import treeshap
from scoring.learned import families


def _booster(x, y, *, depth=3, trees=20, missing=0.0, base_score=None):
    params = {"max_depth": depth, "eta": 0.3, "min_child_weight": 0, "nthread": 1,
              "objective": "binary:logistic"}  # fmt: skip
    if base_score is not None:  # else XGBoost estimates it from the labels
        params["base_score"] = base_score
    return xgboost.train(params, xgboost.DMatrix(x, y, missing=missing), trees)


def _document(booster) -> dict:
    return json.loads(bytes(booster.save_raw(raw_format="json")))


@st.composite
def _data(draw):
    """A few rows over few features (so that one path splits on a feature twice), with zeros, NaN and
    repeated values; labels of both classes."""
    rows = draw(st.integers(20, 120))
    features = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.choice([0.0, 0.5, 1.0, 2.5, -1.0, 7.0], size=(rows, features)) + rng.normal(
        0, 1, (rows, features)
    )
    x = np.round(x, draw(st.integers(0, 3))).astype(np.float32)
    x[rng.random((rows, features)) < draw(st.floats(0, 0.4))] = 0.0
    x[rng.random((rows, features)) < draw(st.floats(0, 0.3))] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(0, 1, rows) > 0.3).astype(int)
    y[:2] = [0, 1]
    return x, y


@settings(max_examples=60, deadline=None)
@given(
    data=_data(),
    depth=st.integers(1, 3),
    trees=st.integers(1, 12),
    missing=st.sampled_from([0.0, None]),
    base_score=st.sampled_from([None, 0.2, 0.9]),
)
def test_the_tables_give_xgboosts_shap_values(data, depth, trees, missing, base_score):
    x, y = data
    nan_missing = np.nan if missing is None else missing
    booster = _booster(x, y, depth=depth, trees=trees, missing=nan_missing, base_score=base_score)
    explainer = treeshap.explainer_of(_document(booster))
    assert explainer is not None
    # The training rows, the same shifted (rows it never saw) and rows of zeros (missing, where zero is).
    fresh = np.concatenate([x, x[::-1] + np.float32(0.25), np.zeros((3, x.shape[1]), np.float32)])
    expected = booster.predict(xgboost.DMatrix(fresh, missing=nan_missing), pred_contribs=True)
    got = explainer.contributions(fresh, missing=missing)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5)
    margin = booster.predict(xgboost.DMatrix(fresh, missing=nan_missing), output_margin=True)
    np.testing.assert_allclose(got.sum(axis=1), margin, rtol=1e-5, atol=2e-5)


def test_thresholds_compare_as_xgboost_does_in_float32():
    """A value equal to a split's threshold goes right, one float32 step below it left."""
    x = np.array([[1.0], [2.0], [3.0], [4.0]] * 10, dtype=np.float32)
    y = np.array([0, 0, 1, 1] * 10)
    booster = _booster(x, y, depth=1, trees=1, missing=np.nan)
    document = _document(booster)
    threshold = np.float32(
        document["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"][0]
    )
    rows = np.array([[threshold], [np.nextafter(threshold, np.float32(-np.inf))]], dtype=np.float32)
    expected = booster.predict(xgboost.DMatrix(rows, missing=np.nan), pred_contribs=True)
    got = treeshap.explainer_of(document).contributions(rows, missing=None)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert got[0, 0] != got[1, 0]


def test_trees_without_a_split_add_only_to_the_bias():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = (rng.random(50) < 0.3).astype(int)
    booster = xgboost.train(
        {"objective": "binary:logistic", "min_split_loss": 1e9, "nthread": 1}, xgboost.DMatrix(x, y), 3
    )
    got = treeshap.explainer_of(_document(booster)).contributions(x)
    expected = booster.predict(xgboost.DMatrix(x), pred_contribs=True)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert not got[:, :-1].any()


def test_what_the_tables_do_not_cover_is_left_to_xgboost():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    deep = _booster(x, y, depth=6, trees=3)  # more than MAX_SPLITS split nodes in a tree
    assert treeshap.explainer_of(_document(deep)) is None
    three = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        xgboost.DMatrix(x, rng.integers(0, 3, len(x))),
        2,
    )
    assert treeshap.explainer_of(_document(three)) is None
    linear = xgboost.train({"booster": "gblinear", "objective": "binary:logistic"}, xgboost.DMatrix(x, y), 2)
    assert treeshap.explainer_of(_document(linear)) is None
    assert treeshap.explainer_of({"learner": {}}) is None  # a document it does not know

    explainer = treeshap.explainer_of(_document(_booster(x, y, depth=2, trees=2)))
    with pytest.raises(ValueError, match="6 features"):
        explainer.contributions(x[:, :4])
    assert explainer.contributions(x[:0]).shape == (0, 7)


def test_a_fitted_xgboost_explains_with_the_tables_and_with_xgboost_alike():
    """``Boosted.contributions`` (tables for a frame, XGBoost for a sparse matrix) against the booster."""
    rng = np.random.default_rng(3)
    columns = [f"c{i}" for i in range(8)]
    frame = pd.DataFrame(rng.poisson(0.7, size=(600, 8)).astype(float), columns=columns)
    frame.iloc[::7, 2] = np.nan
    frame["label"] = (frame["c0"].fillna(0) + frame["c1"] + rng.normal(0, 1, len(frame)) > 1.5).astype(int)
    params = {"n_estimators": 40, "n_jobs": 1}
    fitted = families.fit_xgboost(frame, None, columns, params)
    expected = fitted.booster.predict(
        families.dmatrix(families.dense(frame, columns), params=fitted.params, feature_names=columns),
        pred_contribs=True,
    )
    np.testing.assert_allclose(fitted.contributions(frame), expected, rtol=1e-5, atol=2e-5)
    assert fitted.explainer is not None  # the tables explained it
    sparse = families.sparse_input(frame, columns)
    np.testing.assert_allclose(fitted.contributions(sparse), expected, rtol=1e-5, atol=2e-5)
