"""Reads of the learned scores for pages and the API: model versions, their jobs and status history, the
in-market accounts, and an account's learned scores. Each is a bounded query: a version's artefact bytes
are never loaded, lists are capped, and rows follow the reader's scoping (``for_user``)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Account
from revops.models import ChangeRecord, JobRun
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.filtersets import without_heavy_model_fields
from scoring.learned.jobs import BACKTEST_KIND, TRAIN_KIND
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    BuyingStageTransition,
    QualificationPolicy,
    ScoringModel,
)

RESCORE_KIND = "rescore"  # the full rescore's jobs (``pipeline.KIND``), followed from the models page
JOB_KINDS = (TRAIN_KIND, BACKTEST_KIND, RESCORE_KIND)


def model_get(*, user, pk: int, without: tuple[str, ...] = ("artefact",)) -> ScoringModel:
    """A version ``user`` may see (404 otherwise), without the ``without`` columns."""
    return get_object_or_404(
        ScoringModel.objects.for_user(user).defer(*without).select_related("trained_by"), pk=pk
    )


def champions_by_kind(*, user) -> dict[str, ScoringModel]:
    """The champion of each kind ``user`` may see (light columns only)."""
    champions = (
        ScoringModel.objects.for_user(user)
        .filter(status=ScoringModelStatus.CHAMPION)
        .only("id", "kind", "version", "promoted_at", "trained_at")
    )
    return {m.kind: m for m in champions}


def champion_other(model: ScoringModel) -> ScoringModel | None:
    """The champion of ``model``'s kind, when it is another version."""
    if model.status == ScoringModelStatus.CHAMPION:
        return None
    return (
        ScoringModel.objects.filter(kind=model.kind, status=ScoringModelStatus.CHAMPION)
        .only("id", "version")
        .first()
    )


def model_has_predecessor(model: ScoringModel) -> bool:
    """Whether an earlier champion of ``model``'s kind exists to give the place back to (a roll back)."""
    return (
        ScoringModel.objects.filter(
            kind=model.kind, status=ScoringModelStatus.RETIRED, promoted_at__isnull=False
        )
        .exclude(pk=model.pk)
        .exists()
    )


def model_changes(model: ScoringModel, *, limit: int) -> list[ChangeRecord]:
    """The audit log's newest ``limit`` records of this version, with their actors."""
    return list(
        ChangeRecord.objects.filter(
            object_type=ContentType.objects.get_for_model(ScoringModel), object_id=str(model.pk)
        )
        .select_related("actor")
        .order_by("-time", "-id")[:limit]
    )


def in_market_versions() -> QuerySet[ScoringModel]:
    """The in-market model's versions, newest first (for filter choices)."""
    return (
        ScoringModel.objects.filter(kind=ScoringModelKind.IN_MARKET)
        .order_by("-version")
        .only("version", "status")
    )


def policy_versions() -> QuerySet[QualificationPolicy]:
    """The qualification policy's versions, newest first (for filter choices)."""
    return QualificationPolicy.objects.order_by("-number").only("number", "name", "status")


# --- jobs --------------------------------------------------------------------------------------------------
def learned_jobs_recent(*, user, limit: int) -> list[JobRun]:
    """The newest retrain, backtest and rescore jobs ``user`` may see (without their payloads)."""
    return list(
        JobRun.objects.for_user(user)
        .filter(kind__in=JOB_KINDS)
        .select_related("created_by")
        .defer("result", "params")
        .order_by("-created", "-id")[:limit]
    )


def learned_job_get(*, user, pk: int) -> JobRun:
    """A retrain, backtest or rescore job ``user`` may see (404 otherwise)."""
    return get_object_or_404(
        JobRun.objects.for_user(user).filter(kind__in=JOB_KINDS).select_related("created_by"), pk=pk
    )


# --- accounts' learned scores ------------------------------------------------------------------------------
def account_model_scores(*, user) -> QuerySet[AccountModelScore]:
    """Learned account scores ``user`` may see: they follow the scoping of the accounts they are about
    (all rows or none today)."""
    scores = AccountModelScore.objects.select_related("account")
    return scores.none() if Account.objects.for_user(user).query.is_empty() else scores


def account_get(*, user, pk: int) -> Account:
    """An account ``user`` may see (404 otherwise), with the columns its scores section shows."""
    return get_object_or_404(Account.objects.for_user(user).only("id", "name", "domain"), pk=pk)


def account_score(account_id: int) -> AccountModelScore | None:
    """The account's learned scores with their policy (the model versions without their heavy columns)."""
    scores = without_heavy_model_fields(
        AccountModelScore.objects.select_related("policy"), "model", "fit_model"
    )
    return scores.filter(account_id=account_id).first()


def account_transitions(account_id: int, *, limit: int) -> list[BuyingStageTransition]:
    """The account's newest ``limit`` buying-stage moves, newest first."""
    transitions = without_heavy_model_fields(BuyingStageTransition.objects.select_related("policy"), "model")
    return list(transitions.filter(account_id=account_id).order_by("-at", "-id")[:limit])


def account_score_history(account_id: int, *, limit: int) -> list[tuple]:
    """``(scored_at, in_market, profile_fit)`` of the account's newest ``limit`` score changes, oldest
    first."""
    rows = list(
        AccountModelScoreHistory.objects.filter(account_id=account_id)
        .order_by("-scored_at", "-id")
        .values_list("scored_at", "in_market", "profile_fit")[:limit]
    )
    rows.reverse()
    return rows


def challenger_newest(model: ScoringModel) -> ScoringModel | None:
    """The newest challenger of ``model``'s kind (light columns only), if any."""
    return (
        ScoringModel.objects.filter(kind=model.kind, status=ScoringModelStatus.CHALLENGER)
        .only("id", "version")
        .order_by("-version")
        .first()
    )


def champion_of_kind(*, user, kind: str) -> ScoringModel | None:
    """The champion of ``kind`` that ``user`` may see, with its report (not its artefact)."""
    return (
        ScoringModel.objects.for_user(user)
        .filter(kind=kind, status=ScoringModelStatus.CHAMPION)
        .defer("artefact")
        .select_related("trained_by")
        .first()
    )
