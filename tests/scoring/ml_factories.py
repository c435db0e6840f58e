"""Trained models for tests: a small real XGBoost booster on the world's own point-in-time snapshots,
registered as the champion with its artefact bytes and checksum (no backtest: that is tested apart)."""

import datetime
import hashlib

from django.utils import timezone

from scoring.ml import backtest as B
from scoring.ml import features as F
from scoring.models import ScoringModel, ScoringModelKind, ScoringModelStatus


def champion_in_market(*, as_of: datetime.date, snapshots: int = 3, trees: int = 25) -> ScoringModel:
    """Train on month-spaced snapshots ending ``horizon`` days before ``as_of`` and register a champion."""
    from xgboost import XGBClassifier

    last = as_of - datetime.timedelta(days=90)
    dates = [last - datetime.timedelta(days=30 * k) for k in range(snapshots)][::-1]
    frame = F.snapshots(dates=dates, horizon_days=90)
    columns = B.feature_columns(frame)
    y = frame["label"].to_numpy()
    if y.min() == y.max():  # a degenerate world: make both classes exist so the booster is a classifier
        y = y.copy()
        y[0] = 1 - y[0]
    model = XGBClassifier(n_estimators=trees, max_depth=3, learning_rate=0.2, n_jobs=1, random_state=0)
    model.fit(frame[columns], y)
    data = bytes(model.get_booster().save_raw("json"))
    version = (ScoringModel.objects.filter(kind=ScoringModelKind.IN_MARKET).count() or 0) + 1
    ScoringModel.objects.filter(kind=ScoringModelKind.IN_MARKET, status=ScoringModelStatus.CHAMPION).update(
        status=ScoringModelStatus.RETIRED
    )
    return ScoringModel.objects.create(
        kind=ScoringModelKind.IN_MARKET,
        version=version,
        status=ScoringModelStatus.CHAMPION,
        features=columns,
        params={"n_estimators": trees, "top_keys": frame.attrs.get("top_keys", [])},
        train_start=dates[0],
        train_end=dates[-1],
        metrics={"models": {}},
        artefact=data,
        artefact_sha256=hashlib.sha256(data).hexdigest(),
        trained_at=timezone.now(),
        promoted_at=timezone.now(),
        reason="test champion",
    )
