"""The model registry: champion or challenger by backtest with a margin, promote, roll back, audited."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from xgboost import Booster

from revops.models import ChangeRecord
from scoring.ml import backtest as B
from scoring.ml import registry as R
from scoring.models import ScoringModel, ScoringModelStatus


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", accounts=300, seed=7, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def backtest_auc(monkeypatch):
    """The backtest reports the AUC the test asks for (the real one is covered by test_ml_backtest)."""
    box = {"auc": 0.80}

    def run(**kwargs):
        return {"models": {"xgboost": {"roc_auc": box["auc"]}}, "folds": [], "leakage_warnings": []}

    monkeypatch.setattr(B, "run", run)
    return box


def statuses() -> dict[int, str]:
    return dict(ScoringModel.objects.values_list("version", "status"))


def test_first_model_is_champion_with_its_artefact_and_checksum(demo, backtest_auc, revops_admin, tmp_path):
    model = R.model_train(user=revops_admin)
    assert model.version == 1 and model.status == ScoringModelStatus.CHAMPION
    path = Path(model.artefact_path)
    assert path == tmp_path / "models" / "in_market_v1.json"
    assert R.sha256_of(path) == model.artefact_sha256 and len(model.artefact_sha256) == 64
    booster = Booster()
    booster.load_model(str(path))
    assert booster.feature_names == model.features
    assert model.train_start < model.train_end and model.horizon_days == 90
    assert model.params["max_depth"] == B.XGB_PARAMS["max_depth"] and model.trained_by == revops_admin
    assert model.metrics["models"]["xgboost"]["roc_auc"] == 0.80
    assert model.params["top_keys"] and all(len(pair) == 2 for pair in model.params["top_keys"])
    assert ChangeRecord.objects.filter(action="create", object_id=str(model.pk)).exists()


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


def test_train_command_registers_a_version(demo, backtest_auc):
    out = io.StringIO()
    call_command("train", "--json", verbosity=0, stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["version"] == 1 and summary["status"] == "champion"
    assert summary["sha256"] == R.sha256_of(Path(summary["artefact"]))
