"""Training and backtests as jobs: a ``JobRun`` the UI and the API follow, a Celery task that does the work.

Both tasks are idempotent per job: a redelivered message for a finished job returns its result; a job
whose worker died mid-way (``running`` with no finish) simply runs again — training writes nothing until
the final transaction that registers the version, and a backtest writes only its job row.
"""

import datetime
import json

from celery import shared_task

from revops.models import JobRun
from revops.services import (
    job_run_create_once,
    job_run_finish,
    job_run_progress,
    job_run_send,
    job_run_start,
)
from scoring.choices import ScoringModelKind
from scoring.learned.progress import BACKTEST_PHASES, STEPS, TRAIN_PHASES, Progress, as_progress

TRAIN_KIND = "train"
TRAIN_SCOPE = "models"
BACKTEST_KIND = "backtest"


def _day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def model_train_schedule(
    *, user=None, horizon_days: int = 90, margin: float = 0.005, folds: int = 3, as_of=None, reason: str = ""
) -> JobRun:
    """Queue a retrain of the in-market model (and the look-alike fit models); progress on the job."""
    params = {
        "horizon_days": int(horizon_days),
        "margin": float(margin),
        "folds": int(folds),
        "as_of": as_of.isoformat() if as_of else None,
        "reason": reason,
    }
    # One training at a time, whatever its parameters: two would register versions of the same kinds.
    job, created = job_run_create_once(
        kind=TRAIN_KIND, scope=TRAIN_SCOPE, actor=user, params=params, total=STEPS
    )
    job.existing = not created  # the views answer "already running" (409) with it
    if created:
        job_run_send(job=job, send=model_train_task.delay, args=(job.pk,), name=f"train-{job.pk}")
    return job


def backtest_schedule(*, user=None, as_of=None, horizon_days: int = 90, folds: int = 3) -> JobRun:
    """Queue a backtest report (no model registered); the report is the job's result."""
    params = {
        "as_of": as_of.isoformat() if as_of else None,
        "horizon_days": int(horizon_days),
        "folds": int(folds),
    }
    # The same backtest asked for again is the one running; other parameters are other work.
    scope = json.dumps(params, sort_keys=True, separators=(",", ":"))
    job, created = job_run_create_once(
        kind=BACKTEST_KIND, scope=scope, actor=user, params=params, total=STEPS
    )
    job.existing = not created
    if created:
        job_run_send(job=job, send=backtest_task.delay, args=(job.pk,), name=f"backtest-{job.pk}")
    return job


def _runnable(job_id: int) -> JobRun | None:
    job = JobRun.objects.get(pk=job_id)
    return None if job.finished_at is not None else job


def job_progress(job: JobRun, phases: tuple[str, ...]) -> Progress:
    """The job's fine progress: its share done out of ``STEPS``, and what it is doing, written at most
    once a second (one UPDATE of the job row)."""

    def report(fraction: float, message: str) -> None:
        job_run_progress(job=job, progress=min(STEPS, round(fraction * STEPS)), message=message)

    return Progress(phases=phases, report=report)


@shared_task(name="scoring.tasks.model_train_task")
def model_train_task(job_id: int | None = None) -> dict:
    """Train (a job's parameters, or the defaults when beat calls it without a job)."""
    from scoring.learned import (
        registry,  # scikit-learn and XGBoost: loaded by the worker that trains, not by web pages
    )

    if job_id is None:  # the periodic retrain: make a job of it so it shows in the UI
        params = {"reason": "scheduled retrain"}
        job, created = job_run_create_once(kind=TRAIN_KIND, scope=TRAIN_SCOPE, params=params, total=STEPS)
        if not created:  # a training is running already: it is this week's
            return {"skipped": f"training job {job.pk} is already {job.status}"}
    else:
        job = _runnable(job_id)
        if job is None:
            return JobRun.objects.get(pk=job_id).result
    job_run_start(job=job, total=STEPS)  # a job queued before the fine steps counted three
    params = job.params or {}
    try:
        result = models_train_all(
            user=job.created_by,
            as_of=_day(params.get("as_of")),
            horizon_days=params.get("horizon_days", 90),
            margin=params.get("margin", 0.005),
            folds=params.get("folds", 3),
            progress=job_progress(job, TRAIN_PHASES),
        )
    except registry.RegistryError as exc:
        job_run_finish(job=job, ok=False, message=str(exc))
        return {}
    except Exception as exc:
        job_run_finish(job=job, ok=False, message=f"{type(exc).__name__}: {exc}")
        raise
    job_run_finish(job=job, ok=True, message=result["in_market"]["reason"], result=result)
    return result


def models_train_all(
    *, user=None, as_of=None, horizon_days: int = 90, margin: float = 0.005, folds: int = 3, progress=None
) -> dict:
    """Train the in-market model (backtested) and the look-alike fit models; register each version.

    ``progress``: a plain ``progress(message)`` callable (the coarse lines ``manage.py train`` prints), or a
    ``progress.Progress`` over ``TRAIN_PHASES`` that also hears the fine steps."""
    from scoring.learned import (
        registry,  # scikit-learn and XGBoost: loaded by the worker that trains, not by web pages
    )

    say = as_progress(progress)
    say.prefix = f"{MODEL_NAMES[ScoringModelKind.IN_MARKET]}: "
    model = registry.model_train(
        user=user, as_of=as_of, horizon_days=horizon_days, margin=margin, folds=folds, progress=say
    )
    say.prefix = ""
    result = {"in_market": _summary(model)}
    say(f"{model_words(model.kind, model.version)}: {model.get_status_display().lower()}")
    for kind, train in _fit_trainers():
        name = MODEL_NAMES[kind]
        say.begin(kind)
        say(f"{name}: training …")
        say.prefix = f"{name}: "
        try:
            fitted = train(as_of=as_of, user=user, margin=margin, progress=say)
        except registry.RegistryError as exc:  # e.g. no buying teams yet: the in-market model still stands
            result[kind] = {"kind": kind, "skipped": str(exc)}
            say.prefix = ""
            say(f"{name}: not trained — {exc}")
            continue
        say.prefix = ""
        result[kind] = _summary(fitted)
        say(f"{model_words(fitted.kind, fitted.version)}: {fitted.get_status_display().lower()}")
    say.finish("done")
    return result


# What the pages and the job's messages call each kind of model (``ScoringModelKind``'s labels name the
# score: "In market (account)").
MODEL_NAMES = {
    ScoringModelKind.IN_MARKET: "In-market model",
    ScoringModelKind.ACCOUNT_FIT: "Account profile fit model",
    ScoringModelKind.PERSONA_FIT: "Contact profile fit model",
    ScoringModelKind.LEAD_CONVERSION: "Lead conversion model",
}


def model_words(kind: str, version: int | None = None) -> str:
    """``In-market model, version 2`` (an unknown kind: its name in words)."""
    name = MODEL_NAMES.get(kind) or f"{str(kind).replace('_', ' ').capitalize()} model"
    return f"{name}, version {version}" if version is not None else name


def _summary(model) -> dict:
    champion = (model.metrics or {}).get("champion") or {}
    auc = champion.get(
        "roc_auc", ((model.metrics or {}).get("models", {}).get("xgboost") or {}).get("roc_auc")
    )
    return {"id": model.pk, "kind": model.kind, "version": model.version, "status": model.status,
            "reason": model.reason, "family": model.family, "roc_auc": auc}  # fmt: skip


def _fit_trainers():
    """The look-alike fit models trained with the in-market model."""
    from scoring.learned import (
        lookalike,  # scikit-learn and XGBoost: loaded by the worker that trains, not by web pages
    )

    return [("account_fit", lookalike.train_account_fit), ("persona_fit", lookalike.train_persona_fit)]


@shared_task(name="scoring.tasks.backtest_task")
def backtest_task(job_id: int) -> dict:
    from scoring.learned import (
        backtest,  # scikit-learn and XGBoost: loaded by the worker that trains, not by web pages
    )

    job = _runnable(job_id)
    if job is None:
        return JobRun.objects.get(pk=job_id).result
    job_run_start(job=job, total=STEPS)
    params = job.params or {}
    progress = job_progress(job, BACKTEST_PHASES)
    try:
        report = backtest.run(
            as_of=_day(params.get("as_of")),
            horizon_days=params.get("horizon_days", 90),
            folds=params.get("folds", 3),
            progress=progress,
        )
    except Exception as exc:
        job_run_finish(job=job, ok=False, message=f"{type(exc).__name__}: {exc}")
        raise
    champion = report.get("champion") or {}
    if champion:
        message = f"champion {champion['family']}: ROC AUC {champion['roc_auc']:.3f}"
    else:
        message = "no test fold had both outcomes"
    job_run_finish(job=job, ok=True, message=message, result=report)
    return report
