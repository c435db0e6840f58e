"""The model registry: champion or challenger by backtest with a margin, promote, roll back, audited."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from xgboost import Booster

from revops.models import ChangeRecord
from scoring.choices import ScoringModelStatus
from scoring.learned import backtest as B
from scoring.learned import families
from scoring.learned import registry as R
from scoring.models import ScoringModel


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", accounts=300, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def backtest_auc(monkeypatch):
    """The backtest reports the AUC the test asks for (the real one is covered by test_ml_backtest)."""
    box = {"auc": 0.80, "trees": None}

    def run(**kwargs):
        rows = kwargs["rows"]  # the training rows model_train built (bounded: ``TrainingRows``)
        return {
            "features": [
                c
                for c in rows.stats.usable(B.feature_columns(rows.store))[0]
                if c not in kwargs.get("exclude", ())
            ],
            "models": {"xgboost": {"roc_auc": box["auc"]}},
            "folds": [],
            "leakage_warnings": [],
            "xgboost_trees": box["trees"],
        }

    monkeypatch.setattr(B, "run", run)
    return box


def booster(model: ScoringModel):
    """The version's XGBoost booster, read back from its stored bytes."""
    return families.load(
        model.artefact_bytes(), columns=list(model.features), params=model.params
    ).get_booster()


def statuses() -> dict[int, str]:
    return dict(ScoringModel.objects.values_list("version", "status"))


def test_first_model_is_champion_with_its_artefact_and_checksum(
    demo, backtest_auc, revops_admin, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        model = R.model_train(user=revops_admin)
    assert model.version == 1 and model.status == ScoringModelStatus.CHAMPION
    path = Path(model.artefact_path)
    assert path == tmp_path / "models" / "in_market_v1.json"
    assert R.sha256_of(path) == model.artefact_sha256 and len(model.artefact_sha256) == 64
    booster = Booster()
    booster.load_model(str(path))
    assert booster.feature_names == model.features
    assert model.train_start < model.train_end and model.horizon_days == 90
    assert model.params["max_depth"] == families.XGB_PARAMS["max_depth"] and model.trained_by == revops_admin
    assert model.metrics["models"]["xgboost"]["roc_auc"] == 0.80
    assert model.params["top_keys"] and all(len(pair) == 2 for pair in model.params["top_keys"])
    assert ChangeRecord.objects.filter(action="create", object_id=str(model.pk)).exists()


def test_the_final_model_has_as_many_trees_as_the_backtest_chose(demo, backtest_auc, revops_admin):
    backtest_auc["trees"] = 7
    model = R.model_train(user=revops_admin)
    assert model.params["n_estimators"] == 7
    assert booster(model).num_boosted_rounds() == 7
    # Without a fold to choose from, early stopping on the newest date chooses (at most the cap).
    backtest_auc["trees"] = None
    again = R.model_train(user=revops_admin)
    assert 1 <= again.params["n_estimators"] <= families.XGB_PARAMS["n_estimators"]
    assert booster(again).num_boosted_rounds() == again.params["n_estimators"]


def test_a_retrained_model_must_beat_the_champion_by_the_margin(demo, backtest_auc, revops_admin):
    R.model_train(user=revops_admin, margin=0.01)
    backtest_auc["auc"] = 0.805  # better, but by less than the margin
    second = R.model_train(user=revops_admin, margin=0.01)
    assert second.status == ScoringModelStatus.CHALLENGER
    assert "does not beat champion v1" in second.reason
    backtest_auc["auc"] = 0.82
    third = R.model_train(user=revops_admin, margin=0.01)
    assert third.status == ScoringModelStatus.CHAMPION and "beats champion v1" in third.reason
    assert statuses() == {1: "retired", 2: "challenger", 3: "champion"}
    assert R.champion() == third


def test_promote_and_roll_back_by_hand_are_audited(demo, backtest_auc, revops_admin):
    first = R.model_train(user=revops_admin)
    backtest_auc["auc"] = 0.70
    second = R.model_train(user=revops_admin)
    assert second.status == ScoringModelStatus.CHALLENGER
    audited = ChangeRecord.objects.count()
    R.model_promote(model=second, user=revops_admin)
    assert statuses() == {1: "retired", 2: "champion"}
    assert ChangeRecord.objects.count() == audited + 2
    back = R.model_rollback(user=revops_admin)
    assert back == first and statuses() == {1: "champion", 2: "challenger"}
    assert "Rolled back to v1" in ScoringModel.objects.get(version=2).reason
    assert ChangeRecord.objects.count() == audited + 4
    assert ChangeRecord.objects.filter(actor=revops_admin, action="update", object_id=str(first.pk)).exists()
    with pytest.raises(R.RegistryError):
        R.model_rollback(user=revops_admin)  # v1 has no earlier champion


def test_train_command_registers_a_version(demo, backtest_auc, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("train", "--json", verbosity=0, stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["version"] == 1 and summary["status"] == "champion"
    assert summary["sha256"] == R.sha256_of(Path(summary["artefact"]))


def test_train_excludes_and_confirms_features_by_a_persons_decision(demo, backtest_auc):
    from django.core.management import CommandError

    from scoring.models import ColumnDecision

    first = R.model_train()
    assert "technologies" in first.features
    call_command(
        "train", "--exclude", "technologies", "--confirm", "log_revenue", verbosity=0, stdout=io.StringIO()
    )
    decided = dict(ColumnDecision.objects.filter(kind="in_market").values_list("column", "decision"))
    assert decided == {"technologies": "excluded", "log_revenue": "confirmed"}
    latest = ScoringModel.objects.filter(kind="in_market").order_by("-version").first()
    assert "technologies" not in latest.features and "log_revenue" in latest.features
    assert ChangeRecord.objects.filter(object_repr__contains="technologies").exists()
    # A name no version knows is refused, and nothing is recorded.
    with pytest.raises(CommandError, match="not an in-market feature: annual_revenue"):
        call_command("train", "--exclude", "annual_revenue", verbosity=0, stdout=io.StringIO())
    with pytest.raises(CommandError, match="both excluded and confirmed"):
        call_command(
            "train", "--exclude", "customer", "--confirm", "customer", verbosity=0, stdout=io.StringIO()
        )
    assert ColumnDecision.objects.count() == 2


def test_a_version_with_an_unresolved_warning_waits_for_a_person(demo, backtest_auc, monkeypatch):
    real = B.run

    def warned(**kwargs):
        report = real(**kwargs)
        report["leakage_warnings"] = [{"feature": "customer", "column": "customer", "auc": 0.97,
                                       "warning": "'customer': on its own …"}]  # fmt: skip
        return report

    monkeypatch.setattr(B, "run", warned)
    model = R.model_train()
    assert model.status == ScoringModelStatus.CHALLENGER and "unresolved leakage warning" in model.reason
    assert model.metrics["leakage_warnings"][0]["status"] == "unresolved"


# --- the generic registry: every kind, its own champion -------------------------------------------------
def booster_bytes(seed: int = 0) -> bytes:
    """A real (tiny) XGBoost booster's bytes, different for each seed."""
    import numpy as np
    from xgboost import XGBClassifier

    rng = np.random.default_rng(seed)
    x = rng.random((40, 3))
    y = (x[:, 0] + rng.random(40) * 0.2 > 0.6).astype(int)
    model = XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(x, y)
    return R.artefact_bytes(model)


def register(kind: str, auc: float, user=None, margin: float = 0.005, seed: int = 0, **extra) -> ScoringModel:
    metrics = {"models": {"xgboost": {"roc_auc": auc}}, "validation": "cross_validation"}
    return R.model_register(
        kind=kind,
        artefact=booster_bytes(seed),
        features=["f0", "f1", "f2"],
        params={"n_estimators": 3},
        metrics=metrics,
        user=user,
        margin=margin,
        **extra,
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_register_stores_the_artefact_with_its_checksum_and_audits(
    db, media, revops_admin, django_capture_on_commit_callbacks
):
    import hashlib

    with django_capture_on_commit_callbacks(execute=True):
        model = register("account_fit", 0.7, user=revops_admin)
    assert (model.kind, model.version, model.status) == ("account_fit", 1, ScoringModelStatus.CHAMPION)
    assert model.reason == "First model: champion by default." and model.trained_by == revops_admin
    stored = ScoringModel.objects.get(pk=model.pk)
    assert bytes(stored.artefact) == booster_bytes(0)
    assert stored.artefact_sha256 == hashlib.sha256(booster_bytes(0)).hexdigest()
    assert Path(stored.artefact_path) == media / "models" / "account_fit_v1.json"
    assert R.sha256_of(Path(stored.artefact_path)) == stored.artefact_sha256
    assert booster(stored).num_features() == 3
    record = ChangeRecord.objects.get(action="create", object_id=str(model.pk), object_repr=str(model))
    assert record.actor == revops_admin and record.after["artefact"].endswith("bytes>")
    stored.artefact = b"{}" + bytes(stored.artefact)[2:]  # tampered with
    with pytest.raises(ValueError, match="checksum"):
        stored.artefact_bytes()


def test_a_registration_rolled_back_leaves_no_artefact_file(db, media, django_capture_on_commit_callbacks):
    """The copy under MEDIA_ROOT is written once the version exists: a rollback (here the caller's
    transaction) leaves nothing behind, and the file of version 1 that stays is the committed one's."""
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        kept = register("account_fit", 0.7)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        rolled_back = register("account_fit", 0.9, seed=1)
        raise RuntimeError("the caller fails after registering")
    assert callbacks == [] and not ScoringModel.objects.filter(pk=rolled_back.pk).exists()
    assert sorted(p.name for p in (media / "models").iterdir()) == ["account_fit_v1.json"]
    assert R.sha256_of(Path(kept.artefact_path)) == kept.artefact_sha256


def test_each_kind_has_its_own_champion_and_margin(db, media):
    in_market = register("in_market", 0.90)
    fit = register("account_fit", 0.60)  # much worse, but it competes only with its own kind
    assert in_market.status == fit.status == ScoringModelStatus.CHAMPION
    close = register("account_fit", 0.603, margin=0.005)
    assert close.status == ScoringModelStatus.CHALLENGER and close.version == 2
    assert (
        "Cross-validated ROC AUC 0.6030 does not beat champion v1 (0.6000) by the margin 0.005"
        in close.reason
    )
    better = register("account_fit", 0.62, margin=0.005)
    assert better.status == ScoringModelStatus.CHAMPION and "beats champion v1" in better.reason
    assert R.champion("account_fit") == better and R.champion() == in_market
    assert dict(ScoringModel.objects.filter(kind="account_fit").values_list("version", "status")) == {
        1: "retired",
        2: "challenger",
        3: "champion",
    }
    assert ScoringModel.objects.get(pk=fit.pk).reason == "Replaced by v3."
    assert ScoringModel.objects.get(pk=in_market.pk).status == ScoringModelStatus.CHAMPION


def test_a_report_without_the_metric_never_replaces_the_champion(db, media):
    register("persona_fit", 0.8)
    other = R.model_register(
        kind="persona_fit",
        artefact=booster_bytes(1),
        features=["f0", "f1", "f2"],
        params={},
        metrics={"models": {"xgboost": {"roc_auc": None}}},
    )
    assert other.status == ScoringModelStatus.CHALLENGER and "n/a" in other.reason
    custom = R.model_register(
        kind="persona_fit",
        artefact=booster_bytes(2),
        features=["f0", "f1", "f2"],
        params={},
        metrics={"models": {"xgboost": {"roc_auc": 0.5, "pr_auc": 0.9}}},
        primary_metric_path="models.xgboost.pr_auc",
    )
    assert custom.status == ScoringModelStatus.CHALLENGER  # the champion's report has no pr_auc to beat


def test_register_refuses_an_unknown_kind_or_no_artefact(db, media):
    with pytest.raises(R.RegistryError, match="unknown model kind"):
        R.model_register(kind="mystery", artefact=booster_bytes(), features=[], params={}, metrics={})
    with pytest.raises(R.RegistryError, match="artefact"):
        R.model_register(kind="account_fit", artefact=b"", features=[], params={}, metrics={})
    assert not ScoringModel.objects.exists()


def test_promote_and_roll_back_work_per_kind(db, media, revops_admin):
    market = register("in_market", 0.8)
    first = register("persona_fit", 0.8)
    second = register("persona_fit", 0.7)
    assert second.status == ScoringModelStatus.CHALLENGER
    audited = ChangeRecord.objects.count()
    R.model_promote(model=second, user=revops_admin, reason="Sales prefer it")
    assert R.champion("persona_fit") == second and R.champion("in_market") == market
    assert ScoringModel.objects.get(pk=second.pk).reason == "Sales prefer it"
    assert ChangeRecord.objects.count() == audited + 2
    with pytest.raises(R.RegistryError):
        R.model_rollback(user=revops_admin, kind="in_market")  # nothing earlier in that kind
    back = R.model_rollback(user=revops_admin, kind="persona_fit")
    assert back == first and R.champion("persona_fit") == first
    assert ScoringModel.objects.get(pk=second.pk).status == ScoringModelStatus.CHALLENGER
    assert ScoringModel.objects.get(pk=market.pk).status == ScoringModelStatus.CHAMPION
    assert ChangeRecord.objects.count() == audited + 4


def test_a_custom_primary_metric_decides_which_version_is_champion(db, media):
    def with_metrics(seed, roc_auc, pr_auc):
        return R.model_register(
            kind="persona_fit", artefact=booster_bytes(seed), features=["f0", "f1", "f2"], params={},
            metrics={"models": {"xgboost": {"roc_auc": roc_auc, "pr_auc": pr_auc}}},
            primary_metric_path="models.xgboost.pr_auc",
        )  # fmt: skip

    first = with_metrics(0, roc_auc=0.8, pr_auc=0.3)
    # Worse ROC AUC, better PR AUC: PR AUC is the metric asked for, so it wins.
    better = with_metrics(1, roc_auc=0.5, pr_auc=0.9)
    assert better.status == ScoringModelStatus.CHAMPION and "pr_auc" in better.reason
    assert ScoringModel.objects.get(pk=first.pk).status == ScoringModelStatus.RETIRED
    # Better ROC AUC, worse PR AUC: it stays a challenger, saying which metric it lost on.
    worse = with_metrics(2, roc_auc=0.95, pr_auc=0.2)
    assert worse.status == ScoringModelStatus.CHALLENGER and "pr_auc" in worse.reason
    assert R.champion("persona_fit") == better
