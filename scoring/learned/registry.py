"""The model registry: register a version, keep it as champion or challenger, promote, roll back — audited.

Every learned score (``ScoringModelKind``: in market, account fit, persona fit, lead conversion) goes
through ``model_register``: a retrained model replaces the champion of its kind only if its primary
backtest metric (ROC AUC of the XGBoost model by default) beats the champion's by the margin; otherwise
it stays a challenger, with the reason written down. Kinds never compete with each other.
"""

import datetime
import hashlib
import logging
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from revops.audit import change_record_create, model_snapshot
from revops.jsonsafe import json_safe
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.learned import backtest as B
from scoring.learned import families
from scoring.learned.decisions import (
    PRIMARY_METRIC_PATH,
    champion_decision,
    column_decisions,
    excluded_columns,
    unresolved,
    warnings_resolved,
)
from scoring.learned.progress import as_progress
from scoring.models import ScoringModel

log = logging.getLogger(__name__)

KIND = ScoringModelKind.IN_MARKET.value


class RegistryError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def champion(kind: str = KIND) -> ScoringModel | None:
    """The champion of ``kind`` (the version that scores), if any."""
    return ScoringModel.objects.filter(kind=kind, status=ScoringModelStatus.CHAMPION).first()


def _audit(actor, action: str, instance: ScoringModel, before: dict | None) -> None:
    change_record_create(
        actor=actor, action=action, instance=instance, before=before, after=model_snapshot(instance)
    )


def _path(primary_metric_path) -> tuple[str, ...]:
    if isinstance(primary_metric_path, str):
        return tuple(primary_metric_path.split("."))
    return tuple(primary_metric_path)


def model_register(
    *,
    kind: str,
    artefact: bytes,
    features: list[str],
    params: dict,
    metrics: dict,
    primary_metric_path: tuple[str, ...] | str = PRIMARY_METRIC_PATH,
    train_start: datetime.date | None = None,
    train_end: datetime.date | None = None,
    horizon_days: int = 90,
    user=None,
    margin: float = 0.005,
) -> ScoringModel:
    """Register a trained version of a learned score of ``kind``: the next version number, its artefact
    (an XGBoost booster's bytes; also written under ``MEDIA_ROOT/models`` for inspection) with its
    SHA-256, features, parameters, training window and report — all audited.

    It becomes champion if it is the first of its kind or if its primary metric (``primary_metric_path``
    into ``metrics``, e.g. ``("champion", "roc_auc")``; higher is better) beats the champion's
    by ``margin``; the champion it replaces retires. Otherwise it stays a challenger, with the reason."""
    if kind not in ScoringModelKind.values:
        raise RegistryError(f"unknown model kind {kind!r} (one of {', '.join(ScoringModelKind.values)})")
    path_keys = _path(primary_metric_path)
    data = bytes(artefact)
    if not data:
        raise RegistryError("refusing to register a model without its artefact")
    with transaction.atomic():
        current = ScoringModel.objects.select_for_update().filter(
            kind=kind, status=ScoringModelStatus.CHAMPION
        )
        current = current.first()
        version = (ScoringModel.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0) + 1
        path = Path(settings.MEDIA_ROOT) / "models" / f"{kind}_v{version}.json"
        # The copy for inspection once the version exists: a registration rolled back leaves no file
        # behind (nor overwrites the file of a version that another registration numbered the same).
        transaction.on_commit(partial(_artefact_file_write, path, data))
        decisions = column_decisions(kind)
        metrics = {
            **metrics,
            "leakage_warnings": warnings_resolved(metrics.get("leakage_warnings"), decisions),
        }
        current_blocking = [] if current is None else unresolved(
            warnings_resolved((current.metrics or {}).get("leakage_warnings"), decisions)
        )  # fmt: skip
        wins, reason = champion_decision(
            metrics=metrics,
            blocking=unresolved(metrics["leakage_warnings"]),
            current_version=None if current is None else current.version,
            current_metrics=None if current is None else current.metrics,
            current_blocking=current_blocking,
            path_keys=path_keys,
            margin=margin,
        )
        status = ScoringModelStatus.CHAMPION if wins else ScoringModelStatus.CHALLENGER
        now = timezone.now()
        if status == ScoringModelStatus.CHAMPION and current is not None:
            before = model_snapshot(current)
            current.status = ScoringModelStatus.RETIRED
            current.reason = f"Replaced by v{version}."
            current.save(update_fields=["status", "reason", "updated"])
            _audit(user, "update", current, before)
        created = ScoringModel.objects.create(
            kind=kind,
            version=version,
            status=status,
            features=list(features),
            params=json_safe(params),
            train_start=train_start,
            train_end=train_end,
            horizon_days=horizon_days,
            metrics=json_safe(metrics),
            artefact_path=str(path),
            artefact_sha256=hashlib.sha256(data).hexdigest(),
            artefact=data,
            trained_by=user if getattr(user, "is_authenticated", False) else None,
            trained_at=now,
            promoted_at=now if status == ScoringModelStatus.CHAMPION else None,
            reason=reason,
        )
        _audit(user, "create", created, None)
    return created


def _artefact_file_write(path: Path, data: bytes) -> None:
    """The artefact's copy under ``MEDIA_ROOT/models``; the stored bytes are what scoring loads, so a
    file that cannot be written is logged, not fatal."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError:
        log.exception("could not write the model artefact copy %s", path)


def artefact_bytes(model) -> bytes:
    """A fitted model (``families``: its own artefact) or a bare XGBoost booster or scikit-learn wrapper
    as the bytes a version stores and ``families.load`` reads."""
    if hasattr(model, "artefact"):
        return model.artefact()
    if hasattr(model, "get_booster"):
        model = model.get_booster()
    return bytes(model.save_raw(raw_format="json"))


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
    """Train on every snapshot whose label window closed by ``as_of``, backtest, save, register.
    ``progress``: a plain ``progress(message)`` callable, or a ``progress.Progress`` that also hears the
    fine steps (each snapshot date's features, each fold's fits, the refits, the final fit)."""
    say = as_progress(progress)
    as_of = as_of or B.data_end()
    dates = B.labelled_dates(as_of=as_of, horizon_days=horizon_days)
    if len(dates) < 2:
        raise RegistryError(f"not enough history before {as_of} to train (need two labelled snapshots)")
    say(f"features for {len(dates)} snapshots …")
    tests = [d for split in B.splits(dates, folds=folds, horizon_days=horizon_days) for d in split["test"]]
    # Bounded whatever the population: features built a chunk of accounts at a time, training on every
    # row or a weighted sample of each class, test dates scored from files (``TrainingRows``).
    with B.TrainingRows.build(dates=dates, horizon_days=horizon_days, test_dates=tests, progress=say) as rows:
        report = B.run(
            as_of=as_of, horizon_days=horizon_days, folds=folds, rows=rows, params=params, progress=say,
            exclude=excluded_columns(KIND),
        )  # fmt: skip
        columns = report["features"]  # without the columns no row tells anything about (the report says why)
        family = (report.get("champion") or {}).get("family", "xgboost")
        say(f"training the final model ({family}) …")
        say.begin("final_fit")
        chosen = {**(params or {}), **({"C": report["logistic_c"]} if report.get("logistic_c") else {})}
        model = final_fit(
            rows.store, dates, columns, chosen, trees=report.get("xgboost_trees"), family=family,
            start=rows.last_logistic,
        )  # fmt: skip
    used = {**families.XGB_PARAMS, **chosen, "family": family}
    if hasattr(model, "n_estimators"):
        used["n_estimators"] = int(model.n_estimators)
    used["top_keys"] = rows.top_keys  # for account_features(top_keys=…)
    return model_register(
        kind=KIND,
        artefact=artefact_bytes(model),
        features=columns,
        params=used,
        metrics=report,
        train_start=dates[0],
        train_end=dates[-1],
        horizon_days=horizon_days,
        user=user,
        margin=margin,
    )


def final_fit(
    frame, dates: list[datetime.date], columns: list[str], params: dict | None, *, trees: int | None,
    family: str = "xgboost", start=None,
):  # fmt: skip
    """The model to register, of the backtest's champion ``family``: one fit on every snapshot, XGBoost
    with the number of trees the backtest's early stopping chose (``trees``); without a backtest, early
    stopping on the newest date, then a refit. Logistic regression starts from ``start`` (the backtest's
    newest fold's) where it lines up."""
    if trees:
        fixed = {**(params or {}), "n_estimators": int(trees)}
        return families.fit(family, frame, None, columns, fixed, start=start)
    train = frame[frame["as_of"].isin(dates[:-1])]
    validation = frame[frame["as_of"] == dates[-1]]
    return families.fit(family, train, validation, columns, params)


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
