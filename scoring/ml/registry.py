"""The model registry: train a version, keep it as champion or challenger, promote, roll back — audited.

A retrained model replaces the champion only if its backtest ROC AUC beats the champion's by the margin;
otherwise it stays a challenger, with the reason written down.
"""

import datetime
import hashlib
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from revops.audit import change_record_create, model_snapshot
from scoring.models import ScoringModel, ScoringModelStatus

from . import backtest as B
from . import features as F

KIND = "in_market"
PRIMARY_MODEL = "xgboost"


class RegistryError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _auc(model: ScoringModel | None) -> float | None:
    if model is None:
        return None
    return ((model.metrics or {}).get("models", {}).get(PRIMARY_MODEL) or {}).get("roc_auc")


def champion(kind: str = KIND) -> ScoringModel | None:
    return ScoringModel.objects.filter(kind=kind, status=ScoringModelStatus.CHAMPION).first()


def _audit(actor, action: str, instance: ScoringModel, before: dict | None) -> None:
    change_record_create(
        actor=actor, action=action, instance=instance, before=before, after=model_snapshot(instance)
    )


def model_train(
    *,
    user=None,
    as_of: datetime.date | None = None,
    horizon_days: int = 90,
    margin: float = 0.005,
    folds: int = 3,
    params: dict | None = None,
    progress=None,
) -> ScoringModel:
    """Train on every snapshot whose label window closed by ``as_of``, backtest, save, register."""
    say = progress or (lambda message: None)
    as_of = as_of or B.data_end()
    dates = B.labelled_dates(as_of=as_of, horizon_days=horizon_days)
    if len(dates) < 2:
        raise RegistryError(f"not enough history before {as_of} to train (need two labelled snapshots)")
    say(f"features for {len(dates)} snapshots …")
    frame = F.snapshots(dates=dates, horizon_days=horizon_days)
    report = B.run(
        as_of=as_of, horizon_days=horizon_days, folds=folds, frame=frame, params=params, progress=say
    )
    columns = B.feature_columns(frame)
    say("training the final model …")
    train = frame[frame["as_of"].isin(dates[:-1])]
    validation = frame[frame["as_of"] == dates[-1]]
    model = B.fit_xgboost(train, validation, columns, params)

    with transaction.atomic():
        current = ScoringModel.objects.select_for_update().filter(
            kind=KIND, status=ScoringModelStatus.CHAMPION
        )
        current = current.first()
        version = (ScoringModel.objects.filter(kind=KIND).aggregate(v=Max("version"))["v"] or 0) + 1
        folder = Path(settings.MEDIA_ROOT) / "models"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{KIND}_v{version}.json"
        model.get_booster().save_model(str(path))
        new_auc, old_auc = _auc_of(report), _auc(current)
        if current is None:
            status, reason = ScoringModelStatus.CHAMPION, "First model: champion by default."
        elif new_auc is not None and old_auc is not None and new_auc >= old_auc + margin:
            status = ScoringModelStatus.CHAMPION
            reason = (
                f"Backtest ROC AUC {new_auc:.4f} beats champion v{current.version} ({old_auc:.4f}) "
                f"by at least {margin}."
            )
        else:
            status = ScoringModelStatus.CHALLENGER
            shown = "n/a" if new_auc is None else f"{new_auc:.4f}"
            reason = (
                f"Backtest ROC AUC {shown} does not beat champion v{current.version} "
                f"({old_auc if old_auc is None else round(old_auc, 4)}) by the margin {margin}."
            )
        now = timezone.now()
        if status == ScoringModelStatus.CHAMPION and current is not None:
            before = model_snapshot(current)
            current.status = ScoringModelStatus.RETIRED
            current.reason = f"Replaced by v{version}."
            current.save(update_fields=["status", "reason", "updated"])
            _audit(user, "update", current, before)
        booster_params = {**B.XGB_PARAMS, **(params or {}), "n_estimators": int(model.n_estimators)}
        booster_params["top_keys"] = frame.attrs.get("top_keys", [])  # for account_features(top_keys=…)
        created = ScoringModel.objects.create(
            kind=KIND,
            version=version,
            status=status,
            features=columns,
            params=booster_params,
            train_start=dates[0],
            train_end=dates[-1],
            horizon_days=horizon_days,
            metrics=report,
            artefact_path=str(path),
            artefact_sha256=sha256_of(path),
            artefact=path.read_bytes(),
            trained_by=user if getattr(user, "is_authenticated", False) else None,
            trained_at=now,
            promoted_at=now if status == ScoringModelStatus.CHAMPION else None,
            reason=reason,
        )
        _audit(user, "create", created, None)
    return created


def _auc_of(report: dict) -> float | None:
    return (report.get("models", {}).get(PRIMARY_MODEL) or {}).get("roc_auc")


@transaction.atomic
def model_promote(*, model: ScoringModel, user, reason: str = "") -> ScoringModel:
    """Make ``model`` the champion by hand; the current champion retires."""
    model = ScoringModel.objects.select_for_update().get(pk=model.pk)
    if model.status == ScoringModelStatus.CHAMPION:
        return model
    current = ScoringModel.objects.select_for_update().filter(
        kind=model.kind, status=ScoringModelStatus.CHAMPION
    )
    current = current.first()
    if current is not None:
        before = model_snapshot(current)
        current.status = ScoringModelStatus.RETIRED
        current.reason = f"Replaced by v{model.version} (promoted by hand)."
        current.save(update_fields=["status", "reason", "updated"])
        _audit(user, "update", current, before)
    before = model_snapshot(model)
    model.status = ScoringModelStatus.CHAMPION
    model.promoted_at = timezone.now()
    model.reason = reason or "Promoted by hand."
    model.save(update_fields=["status", "promoted_at", "reason", "updated"])
    _audit(user, "update", model, before)
    return model


@transaction.atomic
def model_rollback(*, user, kind: str = KIND, reason: str = "") -> ScoringModel:
    """Give the champion's place back to the previous champion; the current one becomes a challenger."""
    current = ScoringModel.objects.select_for_update().filter(kind=kind, status=ScoringModelStatus.CHAMPION)
    current = current.first()
    if current is None:
        raise RegistryError("There is no champion to roll back.")
    previous = (
        ScoringModel.objects.select_for_update()
        .filter(kind=kind, status=ScoringModelStatus.RETIRED, promoted_at__isnull=False)
        .exclude(pk=current.pk)
        .order_by("-promoted_at", "-version")
        .first()
    )
    if previous is None:
        raise RegistryError("No earlier champion to roll back to.")
    before = model_snapshot(current)
    current.status = ScoringModelStatus.CHALLENGER
    current.reason = reason or f"Rolled back to v{previous.version}."
    current.save(update_fields=["status", "reason", "updated"])
    _audit(user, "update", current, before)
    before = model_snapshot(previous)
    previous.status = ScoringModelStatus.CHAMPION
    previous.promoted_at = timezone.now()
    previous.reason = reason or f"Champion again after rolling back v{current.version}."
    previous.save(update_fields=["status", "promoted_at", "reason", "updated"])
    _audit(user, "update", previous, before)
    return previous
