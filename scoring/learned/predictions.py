"""Learned account scores: in market (the champion XGBoost model), profile fit, qualified, buying stage.

For a chunk of accounts (an id range, or a few ids for the incremental path):

1. point-in-time features as of the day (``scoring.learned.features``), with the columns the model learnt;
2. the in-market probability; XGBoost's own SHAP contributions (``pred_contribs``) are computed only
   for the rows whose probability changed, and their top five stored with the score;
3. profile fit = (1 − w) × the look-alike model + w × the ICP criteria (the published rules' account fit,
   scaled to 0–100), bands and the qualified flag from the published ``QualificationPolicy``;
4. the buying stage (``scoring.engine.stages``), with hysteresis and a minimum time in stage;
5. write-back of changed rows only (COPY + upsert), a history row per change, a transition per move.

Everything a chunk writes commits in one transaction: run it twice and the second writes nothing; kill
it half-way and nothing of it is left.
"""

import datetime
import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from accounts.choices import CLOSED_STAGES
from accounts.models import Account, Opportunity
from accounts.routing import accounts_route
from revops.bulk import ids_condition, table_sql
from revops.instruments import MODEL_SCORED
from scoring.choices import BAND_RANK, Band, PolicyStatus, ScoringModelKind, ScoringModelStatus
from scoring.delivery import notifications
from scoring.engine import stages as stage_engine
from scoring.learned import families
from scoring.learned import features as F
from scoring.learned.words import explanation_item
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    AccountRuleScore,
    BuyingStageTransition,
    QualificationPolicy,
    ScoringModel,
)
from scoring.store import changed_mask, derived_data_commit, frame_copy, insert_or_upsert, stored_read, today

log = logging.getLogger(__name__)

TOP_CONTRIBUTIONS = 5
FIELDS = ["model_id", "fit_model_id", "policy_id", "profile_fit", "fit_band", "in_market", "in_market_band",
          "qualified", "stage"]  # fmt: skip
HISTORY_FIELDS = ["account_id", "model_id", "policy_id", "as_of", "scored_at", "profile_fit", "in_market",
                  "qualified", "stage"]  # fmt: skip


class NothingToScore(Exception):
    """No in-market champion or no published qualification policy yet."""


@dataclass
class Scorer:
    """The versions that score now: in-market and fit champions, the published policy."""

    in_market: ScoringModel
    fit_model: ScoringModel | None
    policy: QualificationPolicy

    @classmethod
    def current(cls) -> "Scorer":
        champions = {
            m.kind: m
            for m in ScoringModel.objects.filter(status=ScoringModelStatus.CHAMPION).defer("metrics")
        }
        in_market = champions.get(ScoringModelKind.IN_MARKET)
        if in_market is None:
            raise NothingToScore("No in-market champion model: run `manage.py train` first.")
        policy = QualificationPolicy.objects.filter(status=PolicyStatus.PUBLISHED).first()
        if policy is None:
            raise NothingToScore("No published qualification policy.")
        return cls(in_market=in_market, fit_model=champions.get(ScoringModelKind.ACCOUNT_FIT), policy=policy)

    @classmethod
    def of(cls, *, model_id: int, fit_model_id: int | None, policy_id: int) -> "Scorer":
        """The same versions again (a chunk of a job started earlier scores with the job's versions)."""
        return cls(
            in_market=ScoringModel.objects.defer("metrics").get(pk=model_id),
            fit_model=ScoringModel.objects.defer("metrics").get(pk=fit_model_id) if fit_model_id else None,
            policy=QualificationPolicy.objects.get(pk=policy_id),
        )

    def ids(self) -> dict:
        return {
            "model_id": self.in_market.pk,
            "fit_model_id": self.fit_model.pk if self.fit_model else None,
            "policy_id": self.policy.pk,
        }


# --- the maths ---------------------------------------------------------------------------------------------
def in_market_predict(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """The version's probability for each row, whatever its family (``families.fitted_of``)."""
    return families.fitted_of(model).predict(frame)


def in_market_contributions(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Contributions in log-odds, one column per feature plus the bias last (SHAP for XGBoost, coefficient
    × standardised value for logistic regression, their average for the blend)."""
    return families.fitted_of(model).contributions(frame)


def largest_first(magnitude: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest values, largest first and the lower column first among
    equals — what a stable sort of every column gives, by a partition instead (SHAP of every feature
    of 100,000 accounts: sorting them all is most of the explanation time)."""
    if k >= magnitude.shape[1]:
        return np.argsort(-magnitude, axis=1, kind="stable")
    kth = -np.partition(-magnitude, k - 1, axis=1)[:, k - 1 : k]  # each row's k-th largest value
    above, tied = magnitude > kth, magnitude == kth
    room = k - above.sum(axis=1, keepdims=True)  # places left for values equal to the k-th
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    top = np.nonzero(chosen)[1].reshape(len(magnitude), k)  # column order within each row
    rows = np.arange(len(magnitude))[:, None]
    return top[rows, np.argsort(-magnitude[rows, top], axis=1, kind="stable")]


def top_contributions(model: ScoringModel, frame: pd.DataFrame, contributions: np.ndarray) -> list[list]:
    """Per row: ``[[feature, value, contribution], …]`` of the largest absolute contributions."""
    names = list(model.features)
    shap = contributions[:, :-1]
    k = min(TOP_CONTRIBUTIONS, shap.shape[1])
    rows = np.arange(len(shap))[:, None]
    order = largest_first(np.abs(shap), k)
    values = frame.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
    chosen = np.round(values[rows, order], 4)
    # A value the account does not have (no revenue, no founded year: NaN) is stored as null and read
    # as "unknown"; NaN is not JSON, and one such row would fail the whole chunk's write.
    chosen_values = chosen.astype(object)
    chosen_values[~np.isfinite(chosen)] = None
    chosen_shap = np.round(np.nan_to_num(shap[rows, order].astype(float), nan=0.0), 4).tolist()
    return [
        [[names[j], v, c] for j, v, c in zip(cols, vals, cons, strict=True) if c != 0.0]
        for cols, vals, cons in zip(order.tolist(), chosen_values.tolist(), chosen_shap, strict=True)
    ]


def bands(values: np.ndarray, high: float, medium: float) -> np.ndarray:
    return np.where(
        values >= high, Band.HIGH.value, np.where(values >= medium, Band.MEDIUM.value, Band.LOW.value)
    )


def qualified(policy: QualificationPolicy, fit_band: np.ndarray, in_market_band: np.ndarray) -> np.ndarray:
    rank = np.vectorize(lambda b: BAND_RANK[b], otypes=[np.int64])
    if not len(fit_band):
        return np.zeros(0, dtype=bool)
    return (rank(fit_band) >= BAND_RANK[policy.qualified_fit_band]) & (
        rank(in_market_band) >= BAND_RANK[policy.qualified_in_market_band]
    )


def profile_fit(scorer: Scorer, frame: pd.DataFrame, rules_fit: np.ndarray) -> np.ndarray:
    """0–100: the look-alike model's and the ICP criteria's views, weighted by the policy."""
    policy = scorer.policy
    icp = np.clip(np.asarray(rules_fit, dtype=float) / max(policy.icp_fit_full, 1e-9), 0.0, 1.0)
    if scorer.fit_model is None:
        return np.round(100.0 * icp, 2)
    # scikit-learn and SciPy load only when a model scores: pages that show stored scores skip them.
    from scoring.learned.lookalike import account_fit_predict

    lookalike = np.clip(np.asarray(account_fit_predict(scorer.fit_model, frame), dtype=float), 0.0, 1.0)
    w = policy.icp_weight
    return np.round(100.0 * ((1.0 - w) * lookalike + w * icp), 2)


# --- reading -----------------------------------------------------------------------------------------------
def _rules_fit(ids) -> pd.Series:
    clause, params = ids_condition("account_id", ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT account_id, fit FROM {table_sql(AccountRuleScore)} WHERE {clause}", params)
        rows = cursor.fetchall()
    return pd.Series({int(a): float(f) for a, f in rows}, dtype=float)


def _open_opportunities(ids, as_of: datetime.date) -> set[int]:
    clause, params = ids_condition("account_id", ids)
    closed = ", ".join(["%s"] * len(CLOSED_STAGES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT account_id FROM {table_sql(Opportunity)} "
            f"WHERE {clause} AND account_id IS NOT NULL AND created_date <= %s AND stage NOT IN ({closed})",
            [*params, as_of, *[str(s) for s in CLOSED_STAGES]],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def _stored(ids) -> pd.DataFrame:
    clause, params = ids_condition("account_id", ids)
    columns = [*FIELDS, "stage_since"]
    current = stored_read(table_sql(AccountModelScore), "account_id", columns, clause, params)
    if len(current):
        current["stage_since"] = pd.to_datetime(current["stage_since"], utc=True, format="ISO8601")
    return current


# --- one chunk ---------------------------------------------------------------------------------------------
def accounts_chunk_score(*, scorer: Scorer, ids, as_of: datetime.date, now: datetime.datetime) -> dict:
    """Score the accounts ``ids`` (an id ``range`` or a collection) and write what changed. Idempotent."""
    top_keys = (scorer.in_market.params or {}).get("top_keys")
    frame = F.account_features(as_of=as_of, account_ids=ids, top_keys=top_keys)
    if frame.empty:
        return {"accounts": 0, "written": 0, "moved": 0, "qualified": 0}
    MODEL_SCORED.labels(entity="account").inc(len(frame))  # scored, whether or not the score changed
    account_ids = frame.index.to_numpy(dtype=np.int64)
    p = np.round(in_market_predict(scorer.in_market, frame).astype(float), 4)
    rules_fit = _rules_fit(ids).reindex(account_ids).fillna(0.0).to_numpy()
    fit = profile_fit(scorer, frame, rules_fit)
    policy = scorer.policy
    fit_band = bands(fit, policy.fit_high_min, policy.fit_medium_min)
    in_market_band = bands(p, policy.in_market_high_min, policy.in_market_medium_min)

    stored = _stored(ids)
    before = stored.set_index("account_id").reindex(account_ids) if len(stored) else None
    current_stage = np.full(len(frame), "", dtype=object)
    if before is not None:
        current_stage = before["stage"].fillna("").to_numpy(dtype=object)
    since = (
        before["stage_since"]
        if before is not None
        else pd.Series(pd.NaT, index=account_ids, dtype="datetime64[ns, UTC]")
    )
    days_in_stage = ((pd.Timestamp(now) - since).dt.total_seconds() / 86400.0).fillna(0.0).to_numpy()
    opened = np.isin(account_ids, list(_open_opportunities(ids, as_of)))
    col = lambda name: frame[name].to_numpy() if name in frame else np.zeros(len(frame))  # noqa: E731
    stage, reason = stage_engine.decide(
        stage_engine.StagePolicy.of(policy), current=current_stage, days_in_stage=days_in_stage, p=p,
        activity_30d=col("all_30d"), research_30d=col("research_30d"),
        engaged_people_30d=col("engaged_contacts_30d"), high_intent_30d=col("high_intent_30d"),
        open_opportunity=opened,
    )  # fmt: skip
    new = pd.DataFrame(
        {
            "account_id": account_ids, **scorer.ids(), "profile_fit": fit, "fit_band": fit_band,
            "in_market": p, "in_market_band": in_market_band,
            "qualified": qualified(policy, fit_band, in_market_band), "stage": stage,
        }
    )  # fmt: skip
    new["fit_model_id"] = new["fit_model_id"].astype("Int64")  # NULL without a fit model
    changed = np.flatnonzero(changed_mask(_comparable(new), _comparable(stored), "account_id", FIELDS))
    moved = np.flatnonzero(reason != "")
    if not len(changed):
        return {"accounts": len(new), "written": 0, "moved": 0, "qualified": int(new["qualified"].sum())}

    out = new.iloc[changed].reset_index(drop=True)
    moved_now = reason[changed] != ""
    old_since = since.to_numpy()[changed]
    out["stage_since"] = [
        now.isoformat() if m or pd.isna(s) else pd.Timestamp(s).isoformat()
        for m, s in zip(moved_now, old_since, strict=True)
    ]
    # Explanations only where the probability (or the model) changed; the rest keep theirs.
    p_changed = np.ones(len(changed), dtype=bool)
    if before is not None:
        old = before.iloc[changed]
        p_changed = (old["in_market"].to_numpy() != p[changed]) | (
            old["model_id"].to_numpy() != scorer.in_market.pk
        )
    out["contributions"] = _contributions_json(scorer, frame.iloc[changed], p_changed, out["account_id"])
    out["as_of"] = as_of.isoformat()
    out["scored_at"] = now.isoformat()
    out["qualified"] = out["qualified"].astype(bool)
    fresh = ~out["account_id"].isin(stored["account_id"]) if len(stored) else np.ones(len(out), dtype=bool)
    with transaction.atomic():
        derived_data_commit()
        insert_or_upsert(AccountModelScore, "account_id", out, np.asarray(fresh, dtype=bool))
        history = out[HISTORY_FIELDS]
        frame_copy(table_sql(AccountModelScoreHistory), history)
        if len(moved):
            transitions = pd.DataFrame(
                {
                    "account_id": account_ids[moved], "from_stage": current_stage[moved],
                    "to_stage": stage[moved], "at": now.isoformat(), "in_market": p[moved],
                    "reason": reason[moved], "model_id": scorer.in_market.pk, "policy_id": policy.pk,
                }
            )  # fmt: skip
            frame_copy(table_sql(BuyingStageTransition), transitions)
        # Newly qualified accounts without an owner get one (territory or round-robin), set-based, before
        # anyone is told: the owner hears of it.
        qualified_now = new["qualified"].to_numpy()
        if before is not None:
            qualified_now = qualified_now & ~np.asarray(
                pd.Series(before["qualified"].to_numpy()).fillna(False), dtype=bool
            )
        if qualified_now.any():
            accounts_route(account_ids=account_ids[qualified_now].tolist(), reason="qualified")
        # Newly qualified (a scored account that was not qualified before): sales hears of it. The
        # very first scoring of an account sets the baseline and notifies nobody.
        if before is not None:
            was = before["qualified"].to_numpy()
            was_scored = before["stage"].notna().to_numpy()
            newly = (
                new["qualified"].to_numpy()
                & was_scored
                & ~np.asarray(pd.Series(was).fillna(False), dtype=bool)
            )
            if newly.any():
                notifications.account_qualified_notify(account_ids=account_ids[newly].tolist(), at=now)
    return {
        "accounts": len(new),
        "written": len(out),
        "moved": len(moved),
        "qualified": int(new["qualified"].sum()),
    }


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable version ids as plain integers (−1 for none), so that stored and new rows compare."""
    if frame.empty:
        return frame
    out = frame.copy()
    for column in ("model_id", "fit_model_id"):
        out[column] = pd.to_numeric(out[column], errors="coerce").fillna(-1).astype(np.int64)
    return out


def _contributions_json(scorer: Scorer, frame: pd.DataFrame, recompute: np.ndarray, account_ids) -> list[str]:
    """Top contributions as JSON text: recomputed where asked, the stored ones elsewhere."""
    out = np.full(len(frame), "[]", dtype=object)
    where = np.flatnonzero(recompute)
    if len(where):
        sub = frame.iloc[where]
        tops = top_contributions(scorer.in_market, sub, in_market_contributions(scorer.in_market, sub))
        out[where] = [json.dumps(t) for t in tops]
    keep = np.flatnonzero(~recompute)
    if len(keep):
        ids = [int(a) for a in np.asarray(account_ids)[keep]]
        stored = dict(
            AccountModelScore.objects.filter(account_id__in=ids).values_list("account_id", "contributions")
        )
        out[keep] = [json.dumps(stored.get(a, [])) for a in ids]
    return out.tolist()


# --- the whole population and the incremental path ---------------------------------------------------------
def account_chunks(size: int) -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table_sql(Account)}")
        low, high = cursor.fetchone()
    if low is None:
        return []
    return [(lo, lo + size) for lo in range(low, high + 1, size)]


def accounts_rescore(*, account_ids, as_of: datetime.date | None = None) -> dict:
    """Rescore these accounts now with the current versions (the incremental path)."""
    ids = sorted({int(a) for a in account_ids if a is not None})
    if not ids:
        return {"accounts": 0, "written": 0, "moved": 0}
    try:
        scorer = Scorer.current()
    except NothingToScore:
        return {"accounts": 0, "written": 0, "moved": 0, "skipped": "no champion model or policy"}
    return accounts_chunk_score(scorer=scorer, ids=ids, as_of=as_of or today(), now=timezone.now())


def contacts_model_rescore(*, contact_ids, as_of: datetime.date | None = None, span: int = 20_000) -> dict:
    """Persona fit and engagement vs buyers of these contacts now (the incremental path): one chunk over
    their id span when it is narrow (a company's contacts usually are), else one per contact."""
    ids = sorted({int(c) for c in contact_ids if c is not None})
    if not ids:
        return {"contacts": 0, "written": 0}
    as_of, now = as_of or today(), timezone.now()
    spans = [(ids[0], ids[-1] + 1)] if ids[-1] - ids[0] < span else [(c, c + 1) for c in ids]
    from scoring.learned.lookalike import contacts_chunk_score  # scikit-learn: only when contacts score

    written = 0
    for low, high in spans:
        stats = contacts_chunk_score(low=low, high=high, as_of=as_of, now=now)
        if "skipped" in stats:
            return stats
        written += stats["written"]
    return {"contacts": len(ids), "written": written}


# --- reading an explanation back ----------------------------------------------------------------------------
def account_score_as_of(*, account_id: int, day: datetime.date) -> dict | None:
    """The learned score an account had on ``day`` (its last change on or before it) and the same score
    recomputed now with the model version that made it, from the data known then, with its explanation.

    The two agree unless the account's firmographics were edited since (fields keep no history)."""
    row = (
        AccountModelScoreHistory.objects.filter(account_id=account_id, as_of__lte=day)
        .select_related("policy")
        .order_by("-as_of", "-scored_at", "-id")
        .first()
    )
    if row is None:
        return None
    stored = {
        "in_market": row.in_market,
        "profile_fit": row.profile_fit,
        "qualified": row.qualified,
        "stage": row.stage,
    }
    reproduced, model = None, None
    if row.model_id is not None:
        model = ScoringModel.objects.defer("metrics").get(pk=row.model_id)
        frame = F.account_features(
            as_of=row.as_of, account_ids=[account_id], top_keys=(model.params or {}).get("top_keys")
        )
        if len(frame):
            p = round(float(in_market_predict(model, frame)[0]), 4)
            top = top_contributions(model, frame, in_market_contributions(model, frame))[0]
            reproduced = {
                "in_market": p,
                "explanation": [explanation_item(f, v, c, p) for f, v, c in top],
            }
    return {
        "account_id": account_id,
        "day": day.isoformat(),
        "as_of": row.as_of.isoformat(),
        "scored_at": row.scored_at.isoformat(),
        "model": None if model is None else {"id": model.pk, "kind": model.kind, "version": model.version},
        "policy": {"id": row.policy_id, "number": row.policy.number},
        "stored": stored,
        "reproduced": reproduced,
        "matches": reproduced is not None and abs(reproduced["in_market"] - row.in_market) < 1e-4,
    }
