"""Exact SHAP values of small XGBoost trees, by table lookup.

XGBoost's ``pred_contribs`` walks every tree's paths for every row (TreeSHAP, Lundberg et al. 2020): 7.1 s
of a 100,000-account rescore's 32 s in one process, for the in-market model's 300 trees of depth 3. The
same values, computed another way:

A tree's SHAP values for a row depend only on which way the row goes at each of the tree's split nodes.
A tree with ``m`` split nodes has ``2**m`` such patterns (128 at depth 3), so each tree's values are
computed once per pattern, from the model alone, into a table; a row's values are then ``m`` comparisons
and one lookup per feature the tree splits on. Each leaf adds, to each feature ``j`` on its path
(path-dependent TreeSHAP: features off the path are dummies of that leaf's game)::

    v_leaf × Σ_{S ⊆ U∖{j}} |S|! (u−|S|−1)! / u! × Π_{k∈S} o_k × Π_{k∈U∖S∖{j}} z_k × (o_j − z_j)

where ``U`` (``u`` of them) are the path's features, ``z_k`` the share of the training cover that follows
the path at its splits on ``k`` and ``o_k`` whether the row follows it there. The sum over subsets is the
elementary symmetric polynomial of the ``(z_k + o_k t)`` weighted by size. The expected value (the bias
column) is each leaf's value weighted by its cover, plus the base margin.

Pure: NumPy and the booster's JSON document (``Booster.save_raw("json")``). ``explainer_of`` returns None
for what it does not cover (another objective or booster, several outputs, categorical splits, a tree
with more than ``MAX_SPLITS`` split nodes): the caller asks XGBoost then.
"""

import math
from dataclasses import dataclass

import numpy as np

MAX_SPLITS = 8  # a tree's table holds 2**MAX_SPLITS rows at most (depth 3: 7 split nodes)
BLOCK = 8192  # rows at a time: a block's columns and sums stay in the cache while the trees pass


@dataclass(frozen=True)
class _Tree:
    split_features: np.ndarray  # per split node: its feature's column
    thresholds: np.ndarray  # float32, as XGBoost compares: x < threshold goes left ("yes")
    missing_left: np.ndarray  # bool: where a missing value goes
    features: np.ndarray  # the distinct features the tree splits on
    table: np.ndarray  # (len(features), 2**splits): each feature's SHAP value for each pattern of directions


@dataclass(frozen=True)
class Explainer:
    trees: list[_Tree]
    bias: float  # base margin + every tree's expected value
    n_features: int

    def contributions(self, x: np.ndarray, *, missing: float | None = 0.0) -> np.ndarray:
        """SHAP values of each row of ``x`` (its columns in the model's order) in log-odds, the bias last:
        what ``Booster.predict(DMatrix(x, missing=missing), pred_contribs=True)`` returns (to float32's
        precision: XGBoost sums in float32, this in float64). NaN is missing, as is ``missing``."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        n = len(x)
        out = np.empty((n, self.n_features + 1))
        out[:, -1] = self.bias
        for low in range(0, n, BLOCK):
            out[low : low + BLOCK, :-1] = self._block(x[low : low + BLOCK], missing).T
        return out

    def _block(self, x: np.ndarray, missing: float | None) -> np.ndarray:
        columns = np.ascontiguousarray(x.T)  # one feature's values contiguous: each split reads one row
        present = ~np.isnan(columns)
        if missing is not None and not math.isnan(missing):
            present &= columns != np.float32(missing)
        sums = np.zeros(columns.shape)
        pattern = np.empty(columns.shape[1], dtype=np.intp)
        left = np.empty(columns.shape[1], dtype=bool)
        for tree in self.trees:
            pattern[:] = 0
            for bit, (f, threshold, missing_left) in enumerate(
                zip(tree.split_features, tree.thresholds, tree.missing_left, strict=True)
            ):
                np.less(columns[f], threshold, out=left)  # NaN compares False: set by ``present`` below
                if missing_left:
                    left |= ~present[f]
                else:
                    left &= present[f]
                pattern |= left.astype(np.intp) << bit
            for f, values in zip(tree.features, tree.table, strict=True):
                sums[f] += values[pattern]
        return sums


def explainer_of(model: dict) -> Explainer | None:
    """The explainer of a booster's JSON document, or None where XGBoost's own must be used (a document
    this does not know, too)."""
    try:
        return _explainer_of(model)
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _explainer_of(model: dict) -> Explainer | None:
    learner = model.get("learner", {})
    booster = learner.get("gradient_booster", {})
    params = learner.get("learner_model_param", {})
    if learner.get("objective", {}).get("name") != "binary:logistic" or booster.get("name") != "gbtree":
        return None
    if int(params.get("num_target", 1)) != 1 or int(params.get("num_class", 0)) > 1:
        return None
    trees = booster["model"]["trees"]
    if int(booster["model"]["gbtree_model_param"].get("num_parallel_tree", 1)) != 1:
        return None
    base_score = float(str(params["base_score"]).strip("[]"))
    if not 0.0 < base_score < 1.0:
        return None
    n_features = int(params["num_feature"])
    out, bias = [], math.log(base_score) - math.log1p(-base_score)
    for tree in trees:
        built = _tree_of(tree)
        if built is None:
            return None
        out.append(built[0])
        bias += built[1]
    return Explainer(trees=out, bias=bias, n_features=n_features)


def _tree_of(tree: dict) -> tuple[_Tree, float] | None:
    left, right = tree["left_children"], tree["right_children"]
    if any(t != 0 for t in tree.get("split_type", [])):  # categorical splits
        return None
    splits = [i for i in range(len(left)) if left[i] != -1]
    if len(splits) > MAX_SPLITS:
        return None
    cover = np.asarray(tree["sum_hessian"], dtype=np.float64)
    values = tree["split_conditions"]  # a leaf's value, at a leaf
    bit = {node: b for b, node in enumerate(splits)}
    feature = {node: int(tree["split_indices"][node]) for node in splits}
    features = sorted(set(feature.values()))
    slot = {f: s for s, f in enumerate(features)}
    patterns = np.arange(2 ** len(splits))
    table = np.zeros((len(patterns), len(features)))
    expected = 0.0
    # Each leaf with its path: (split node, whether the path goes left there).
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if left[node] != -1:
            stack.append((left[node], [*path, (node, True)]))
            stack.append((right[node], [*path, (node, False)]))
            continue
        value = float(values[node])
        expected += value * cover[node] / cover[0] if cover[0] > 0 else 0.0
        zero: dict[int, float] = {}
        one: dict[int, np.ndarray] = {}
        children = [n for n, _l in path[1:]] + [node] if path else []
        for (split, went_left), child in zip(path, children, strict=True):
            f = feature[split]
            share = cover[child] / cover[split] if cover[split] > 0 else 0.0
            zero[f] = zero.get(f, 1.0) * share
            follows = ((patterns >> bit[split]) & 1).astype(bool) == went_left
            one[f] = one.get(f, np.ones(len(patterns), dtype=bool)) & follows
        _leaf_add(table, slot, value, zero, {f: o.astype(np.float64) for f, o in one.items()})
    return _Tree(
        split_features=np.asarray([feature[n] for n in splits], dtype=np.intp),
        thresholds=np.asarray([values[n] for n in splits], dtype=np.float32),
        missing_left=np.asarray([bool(tree["default_left"][n]) for n in splits], dtype=bool),
        features=np.asarray(features, dtype=np.intp),
        table=np.ascontiguousarray(table.T),
    ), expected


def _leaf_add(table: np.ndarray, slot: dict, value: float, zero: dict, one: dict) -> None:
    """Add one leaf's term to each of its path's features, for every pattern (``one``'s rows)."""
    path = list(zero)
    u = len(path)
    weights = [math.factorial(s) * math.factorial(u - s - 1) / math.factorial(u) for s in range(u)]
    for j in path:
        # Coefficients of Π_{k≠j} (z_k + o_k t): poly[s] sums the subsets S of size s.
        poly = [np.ones_like(one[j])]
        for k in path:
            if k == j:
                continue
            grown = [poly[0] * zero[k]]
            grown += [poly[s] * zero[k] + poly[s - 1] * one[k] for s in range(1, len(poly))]
            grown.append(poly[-1] * one[k])
            poly = grown
        weighted = sum(w * p for w, p in zip(weights, poly, strict=True))
        table[:, slot[j]] += value * weighted * (one[j] - zero[j])
