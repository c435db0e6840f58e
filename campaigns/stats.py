"""The statistics of campaign measurement, pure NumPy: difference in differences and differences of
rates per account between the targeted accounts and their control, with Welch 95% intervals (Student's
t with Welch–Satterthwaite degrees of freedom), the
reproducible holdout draw, and the strata of a matched control.

Each account is one observation. For a random holdout the plain difference of per-account rates is
unbiased; the difference in differences (change from the weeks before the start to the weeks after)
also removes what the groups differed by before the campaign, which a matched control needs. A
matched control's accounts carry weights (treated per stratum / controls per stratum), so the control
looks like the targeted accounts in fit, stage and prior engagement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

Z95 = 1.959963984540054
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Estimate:
    """An effect per account with its 95% interval; ``treated_mean`` and ``control_mean`` are the two
    groups' means of what was compared (a change for a difference in differences)."""

    effect: float | None
    low: float | None
    high: float | None
    se: float | None
    treated_mean: float | None
    control_mean: float | None
    treated: int
    controls: float  # effective number of controls (Kish) when weighted

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def significant(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)


def _weighted(values: np.ndarray, weights: np.ndarray | None) -> tuple[float, float, float]:
    """Mean, variance of the mean and effective size of ``values`` under ``weights``."""
    n = len(values)
    if weights is None:
        mean = float(values.mean())
        var = float(values.var(ddof=1)) / n if n > 1 else float("nan")
        return mean, var, float(n)
    total = weights.sum()
    mean = float((weights * values).sum() / total)
    # Variance of a weighted mean of independent observations, with the small-sample n/(n-1).
    var = float((weights**2 * (values - mean) ** 2).sum() / total**2) * (
        n / (n - 1) if n > 1 else float("nan")
    )
    effective = float(total**2 / (weights**2).sum())
    return mean, var, effective


def difference(
    treated: np.ndarray, control: np.ndarray, control_weights: np.ndarray | None = None
) -> Estimate:
    """Mean of ``treated`` minus (weighted) mean of ``control``, per account, with a Welch interval."""
    treated = np.asarray(treated, dtype=float)
    control = np.asarray(control, dtype=float)
    if control_weights is not None:
        control_weights = np.asarray(control_weights, dtype=float)
        keep = control_weights > 0
        control, control_weights = control[keep], control_weights[keep]
    if len(treated) < 2 or len(control) < 2:
        return Estimate(None, None, None, None, None, None, len(treated), float(len(control)))
    mt, vt, _ = _weighted(treated, None)
    mc, vc, effective = _weighted(control, control_weights)
    effect = mt - mc
    se = float(np.sqrt(vt + vc))
    half = t95(welch_df(vt, len(treated), vc, effective)) * se
    return Estimate(effect, effect - half, effect + half, se, mt, mc, len(treated), effective)


def welch_df(var_t: float, n_t: float, var_c: float, n_c: float) -> float:
    """Welch–Satterthwaite degrees of freedom of a difference of two means (variances of the means)."""
    denominator = (var_t**2 / (n_t - 1) if n_t > 1 else 0.0) + (var_c**2 / (n_c - 1) if n_c > 1 else 0.0)
    if denominator <= 0 or not np.isfinite(denominator):
        return float("inf")
    return float((var_t + var_c) ** 2 / denominator)


def t95(df: float) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom (the normal's for large
    ``df``): a holdout of a few accounts gets the wider interval it deserves."""
    if not np.isfinite(df) or df > 1e6:
        return Z95
    from scipy.stats import t  # heavy: loaded where a measurement is computed

    return float(t.ppf(0.975, max(df, 1.0)))


def diff_in_diff(
    treated_pre: np.ndarray,
    treated_post: np.ndarray,
    control_pre: np.ndarray,
    control_post: np.ndarray,
    control_weights: np.ndarray | None = None,
) -> Estimate:
    """(post − pre) of the targeted accounts minus that of the control, each account one observation."""
    return difference(
        np.asarray(treated_post, dtype=float) - np.asarray(treated_pre, dtype=float),
        np.asarray(control_post, dtype=float) - np.asarray(control_pre, dtype=float),
        control_weights,
    )


def uniform_hash(ids: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per id that depends only on (id, seed): SplitMix64's finaliser. The same seed
    holds out the same accounts whatever the order or the other members of the segment."""
    with np.errstate(over="ignore"):
        x = np.asarray(ids, dtype=np.uint64) + np.uint64(seed % 2**64) * _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX_1
        x = (x ^ (x >> np.uint64(27))) * _MIX_2
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def holdout_mask(ids: np.ndarray, *, seed: int, share: float) -> np.ndarray:
    """Which of ``ids`` are held out: a reproducible random ``share`` of them."""
    return uniform_hash(ids, seed) < share


def engagement_bucket(weekly_rate: np.ndarray) -> np.ndarray:
    """Coarse prior engagement for matching: none, light (<1 a week), regular (<4), heavy."""
    return np.digitize(np.asarray(weekly_rate, dtype=float), [1e-9, 1.0, 4.0])


def matching_weights(treated_strata: np.ndarray, control_strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coarsened exact matching: weights for the controls (treated in its stratum / controls in it) and
    which targeted accounts found a control at all (those that did not are left out of the estimate)."""
    treated_strata = np.asarray(treated_strata)
    control_strata = np.asarray(control_strata)
    t_keys, t_counts = np.unique(treated_strata, return_counts=True)
    c_keys, c_counts = np.unique(control_strata, return_counts=True)
    t_count = dict(zip(t_keys.tolist(), t_counts.tolist(), strict=True))
    c_count = dict(zip(c_keys.tolist(), c_counts.tolist(), strict=True))
    weights = np.array([t_count.get(k, 0) / c_count[k] for k in control_strata.tolist()], dtype=float)
    matched = np.array([k in c_count for k in treated_strata.tolist()], dtype=bool)
    return weights, matched
