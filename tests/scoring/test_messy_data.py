"""Learned scores on data a customer really has: accounts with nothing but a name and a domain, columns
missing on every row or the same on every row, extreme numbers and unicode — trained, scored, explained
and stored without a crash, on SQLite and on PostgreSQL alike (CI runs this module on both). A row that
still fails is parked with its name and reason, and the other rows are scored."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, Technology
from revops.models import JobRun, JobStatus
from scoring import pipeline
from scoring.choices import ScoringModelKind, ScoringModelStatus
from scoring.learned import predictions
from scoring.learned.jobs import models_train_all
from scoring.learned.words import account_explanation
from scoring.models import AccountModelScore, ScoringModel

UNKNOWN_WORDS = {"log_revenue": "annual revenue unknown", "log_employees": "employee count unknown"}


@pytest.fixture
def world(db, settings):
    settings.SCORING_INCREMENTAL = False
    call_command("seed_demo", accounts=120, seed=5, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    call_command("rescore", rules_only=True, verbosity=0, stdout=io.StringIO())
    return Account.objects.count()


def stored_json_is_valid() -> None:
    """Every stored explanation is JSON the database itself parses (no NaN, no Infinity)."""
    table = connection.ops.quote_name(AccountModelScore._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT contributions::text FROM {table}")
        else:
            cursor.execute(f"SELECT contributions FROM {table} WHERE json_valid(contributions) = 0")
            assert cursor.fetchall() == []
            cursor.execute(f"SELECT contributions FROM {table}")
        for (text,) in cursor.fetchall():
            json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in a stored explanation"))


def test_an_account_with_only_a_name_and_a_domain_is_scored_and_explained(world, client, member, settings):
    models_train_all(folds=2)
    settings.SCORING_INCREMENTAL = True
    client.force_login(member)
    form = {"name": "Bare Ltd", "domain": "bare.example", "country": "", "parent": "", "custom": "{}"}
    with transaction.atomic():  # the save's outbox row; its after-commit drain rescores the account
        response = client.post(reverse("accounts:account_create"), form)
    assert response.status_code == 302, response.content[:500]
    bare = Account.objects.get(name="Bare Ltd")
    out, err = io.StringIO(), io.StringIO()
    call_command("rescore", stdout=out, stderr=err)  # exits 0: nothing failed
    assert "could not be scored" not in err.getvalue()
    score = AccountModelScore.objects.get(account_id=bare.pk)
    stored_json_is_valid()
    unknown = [f for f, value, _c in score.contributions if value is None]
    assert set(unknown) <= {"log_revenue", "log_employees", "company_age"}
    words = {e["feature"]: e["description"] for e in account_explanation(score)}
    for feature in unknown:
        assert words[feature] == UNKNOWN_WORDS.get(feature, "founding year unknown")
    page = client.get(reverse("accounts:account_detail", kwargs={"pk": bare.pk}))
    assert page.status_code == 200 and b"Not scored yet" not in page.content


def test_training_drops_a_column_no_account_has_and_says_so(world):
    Account.objects.update(founded_year=None)
    Account.objects.update(country="DE")  # the same on every row
    result = models_train_all(folds=2)
    model = ScoringModel.objects.get(pk=result["in_market"]["id"])
    dropped = {d["feature"]: d["reason"] for d in model.metrics["dropped_features"]}
    assert dropped["company_age"] == "missing on every row"
    assert dropped["country__de"].startswith("the same value (1)")
    assert "company_age" not in model.features and "country__de" not in model.features
    fit = ScoringModel.objects.get(kind=ScoringModelKind.ACCOUNT_FIT, status=ScoringModelStatus.CHAMPION)
    assert "company_age" not in fit.features
    out = io.StringIO()
    call_command("backtest", "--json", "--folds", "2", stdout=out, stderr=io.StringIO())
    assert {d["feature"] for d in json.loads(out.getvalue())["dropped_features"]} >= {"company_age"}
    stats = pipeline.full_rescore_local(rules=False)
    assert "failed" not in stats and stats["account_models_written"] == world


def test_a_row_that_fails_is_parked_with_its_name_and_the_rest_are_scored(
    world, monkeypatch, client, revops_admin, django_capture_on_commit_callbacks
):
    models_train_all(folds=2)
    bad = Account.objects.order_by("id")[7]
    real = predictions.in_market_predict

    def breaks_on_one_account(model, frame):
        if bad.pk in frame.index:
            raise ValueError(f"cannot read account {bad.pk}")
        return real(model, frame)

    monkeypatch.setattr(predictions, "in_market_predict", breaks_on_one_account)
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: every chunk runs now
        job = pipeline.full_rescore_schedule(reason="test")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert [(f["kind"], f["id"], f["name"]) for f in job.result["failed"]] == [("account", bad.pk, bad.name)]
    assert job.result["failed"][0]["reason"] == f"ValueError: cannot read account {bad.pk}"
    assert f"account “{bad.name}” (#{bad.pk}): ValueError" in job.message
    scored = set(AccountModelScore.objects.values_list("account_id", flat=True))
    assert bad.pk not in scored and len(scored) == world - 1
    client.force_login(revops_admin)
    page = client.get(reverse("scoring:rescore_progress", kwargs={"pk": job.pk})).content.decode()
    assert "1 row could not be scored" in page and bad.name in page and "cannot read account" in page
    # The command does the same and says so; it does not stop.
    err = io.StringIO()
    call_command("rescore", stdout=io.StringIO(), stderr=err)
    assert f"1 row could not be scored: account “{bad.name}” (#{bad.pk})" in err.getvalue()


def test_a_failure_every_row_shares_fails_the_job_with_the_reason(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    models_train_all(folds=2)

    def broken(model, frame):
        raise ValueError("the model cannot be read")

    monkeypatch.setattr(predictions, "in_market_predict", broken)
    with pytest.raises(ValueError), django_capture_on_commit_callbacks(execute=True):
        pipeline.full_rescore_schedule(reason="test")
    job = JobRun.objects.filter(kind=pipeline.KIND).latest("created")
    assert job.status == JobStatus.FAILED and "the model cannot be read" in job.message


# --- the property: any mix of missing, constant, extreme and unicode firmographics -------------------------
MODES = ("keep", "missing", "constant", "partly", "extreme")
NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip())


@settings(
    max_examples=4, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    employees=st.sampled_from(MODES), revenue=st.sampled_from(MODES), founded=st.sampled_from(MODES),
    industry=st.one_of(st.sampled_from(["", "keep"]), NAMES), tech=st.lists(NAMES, max_size=3, unique=True),
)  # fmt: skip
def test_any_mix_of_messy_firmographics_trains_scores_explains_and_stores(
    world, employees, revenue, founded, industry, tech
):
    with transaction.atomic():
        ids = list(Account.objects.order_by("id").values_list("id", flat=True))
        values = {
            "employee_count": {"constant": 50, "extreme": 2_000_000_000},
            "annual_revenue": {"constant": 1_000_000, "extreme": 10**15},
            "founded_year": {"constant": 2001, "extreme": 1000},
        }
        for field, mode in (
            ("employee_count", employees),
            ("annual_revenue", revenue),
            ("founded_year", founded),
        ):
            if mode == "missing":
                Account.objects.update(**{field: None})
            elif mode == "partly":
                Account.objects.filter(id__in=ids[::3]).update(**{field: None})
            elif mode != "keep":
                Account.objects.update(**{field: values[field][mode]})
                if mode == "extreme":  # one extreme row among ordinary ones
                    Account.objects.filter(id__in=ids[1:]).update(**{field: values[field]["constant"]})
        if industry != "keep":
            Account.objects.filter(id__in=ids[::2]).update(industry=industry[:100])
        for n, name in enumerate(tech):
            technology, _ = Technology.objects.get_or_create(name=f"{name[:80]} {n}")
            technology.accounts.add(*ids[n::4])

        result = models_train_all(folds=2)
        assert result["in_market"]["status"] == ScoringModelStatus.CHAMPION
        report = ScoringModel.objects.get(pk=result["in_market"]["id"]).metrics
        dropped = {d["feature"] for d in report["dropped_features"]}
        if employees == "missing":
            assert "log_employees" in dropped
        if founded in ("missing", "constant"):
            assert "company_age" in dropped
        stats = pipeline.full_rescore_local(rules=False)
        assert "failed" not in stats, stats["failed"]
        assert AccountModelScore.objects.count() == len(ids)
        stored_json_is_valid()
        for score in AccountModelScore.objects.all():
            for line in account_explanation(score):
                assert line["words"] and "nan" not in line["words"].lower().split()
        transaction.set_rollback(True)
