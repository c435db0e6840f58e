"""The learned-scores API: account and contact scores, stage transitions, model versions, backtests,
retraining and rescoring, policy versions — each read, each write, who may, and bad input."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revops import services
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, JobRun
from scoring import policy as policies
from scoring.choices import PolicyStatus, ScoringModelStatus
from scoring.models import AccountModelScore, QualificationPolicy, ScoringModel
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import (
    ARTEFACT,
    AccountModelScoreFactory,
    AccountModelScoreHistoryFactory,
    BacktestJobFactory,
    BuyingStageTransitionFactory,
    ContactModelScoreFactory,
    ScoringModelFactory,
    starter_policy,
    stub_callable,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def viewer(user_in):
    return user_in(TeamKind.SALES, Role.VIEWER)


@pytest.fixture
def marketer(user_in):
    return user_in(TeamKind.MARKETING, Role.MEMBER)


@pytest.fixture
def marketing_lead(user_in):
    return user_in(TeamKind.MARKETING, Role.LEAD)


@pytest.fixture
def rescores(monkeypatch):
    return stub_callable(monkeypatch, "scoring.pipeline", "full_rescore_schedule")


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def assert_no_artefact(body) -> None:
    text = str(body)
    assert 'artefact"' not in text and "'artefact'" not in text and ARTEFACT.decode() not in text


# --- who may read: every list endpoint ----------------------------------------------------------------
LISTS = [
    "/api/account-scores/",
    "/api/stage-transitions/",
    "/api/contact-model-scores/",
    "/api/models/",
    "/api/backtests/",
    "/api/policies/",
]


@pytest.mark.parametrize("url", LISTS)
def test_anonymous_and_outsiders_are_refused_viewers_read(api_client, client_for, outsider, viewer, url):
    assert api_client.get(url).status_code in (401, 403)
    assert client_for(outsider).get(url).status_code == 403
    assert client_for(viewer).get(url).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/account-scores/?stage=nowhere",
        "/api/account-scores/?in_market_min=lots",
        "/api/account-scores/?in_market_min=30",  # a percentage where a probability belongs
        "/api/account-scores/?profile_fit_min=-1",
        "/api/account-scores/?fit_band=huge",
        "/api/stage-transitions/?since=yesterday",
        "/api/stage-transitions/?to_stage=nowhere",
        "/api/contact-model-scores/?persona_fit_min=high",
        "/api/models/?kind=horoscope",
        "/api/models/?status=emperor",
        "/api/backtests/?status=dreaming",
        "/api/policies/?status=eternal",
    ],
)
def test_bad_filters_are_400_with_the_field(client_for, viewer, url):
    response = client_for(viewer).get(url)
    assert response.status_code == 400
    assert url.split("?")[1].split("=")[0] in response.json()


# --- account scores -----------------------------------------------------------------------------------
def test_account_scores_list_filters_and_orders(client_for, viewer):
    model = ScoringModelFactory(status=ScoringModelStatus.CHAMPION)
    hot = AccountModelScoreFactory(in_market=0.6, profile_fit=50, model=model)
    warm = AccountModelScoreFactory(
        in_market=0.2, in_market_band="medium", qualified=False, stage="consideration", profile_fit=90
    )
    cold = AccountModelScoreFactory(
        in_market=0.01, in_market_band="low", fit_band="low", qualified=False, stage="target", profile_fit=10
    )
    client = client_for(viewer)
    rows = results(client.get("/api/account-scores/"))
    assert [r["account"] for r in rows] == [hot.pk, warm.pk, cold.pk]  # most in market first
    assert rows[0]["account_name"] == hot.account.name
    assert (rows[0]["model"], rows[0]["model_version"], rows[0]["policy_number"]) == (
        model.pk,
        model.version,
        1,
    )
    assert "explanation" not in rows[0] and "contributions" not in rows[0]

    def ids(query):
        return [r["account"] for r in results(client.get(f"/api/account-scores/?{query}"))]

    assert ids("qualified=true") == [hot.pk]
    assert ids("stage=consideration&stage=target") == [warm.pk, cold.pk]
    assert ids("fit_band=low") == [cold.pk]
    assert ids("in_market_band=medium") == [warm.pk]
    assert ids("in_market_min=0.1") == [hot.pk, warm.pk]
    assert ids(f"account={cold.pk}") == [cold.pk]
    assert ids(f"model={model.pk}") == [hot.pk]
    assert ids(f"q={warm.account.name}") == [warm.pk]
    assert ids("ordering=-profile_fit") == [warm.pk, hot.pk, cold.pk]
    # Scored in another order than the default's: oldest first, then newest first.
    AccountModelScore.objects.filter(pk=cold.pk).update(scored_at=hot.scored_at - datetime.timedelta(days=2))
    AccountModelScore.objects.filter(pk=warm.pk).update(scored_at=hot.scored_at - datetime.timedelta(days=1))
    assert ids("ordering=scored_at") == [cold.pk, warm.pk, hot.pk]
    assert ids("ordering=-scored_at") == [hot.pk, warm.pk, cold.pk]


def test_account_scores_paginate(client_for, viewer):
    for in_market in (0.5, 0.4, 0.3):
        AccountModelScoreFactory(in_market=in_market)
    client = client_for(viewer)
    first = client.get("/api/account-scores/?page_size=2").json()
    assert [r["in_market"] for r in first["results"]] == [0.5, 0.4]
    second = client.get(first["next"]).json()
    assert [r["in_market"] for r in second["results"]] == [0.3]


def test_account_scores_query_count_does_not_grow(client_for, viewer, django_assert_max_num_queries):
    model = ScoringModelFactory()
    for _ in range(20):
        AccountModelScoreFactory(model=model)
    client = client_for(viewer)
    with django_assert_max_num_queries(8):
        assert len(results(client.get("/api/account-scores/"))) == 20


def test_account_score_explained_in_words(client_for, viewer):
    pytest.importorskip("scoring.learned.predictions")
    score = AccountModelScoreFactory(model=ScoringModelFactory())
    response = client_for(viewer).get(f"/api/account-scores/{score.account_id}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["in_market"] == 0.35 and body["stage"] == "decision"
    first = body["explanation"][0]
    assert (first["feature"], first["value"], first["contribution"]) == ("research_30d", 5.0, 0.42)
    # 0.42 log-odds take a 35% account from 26.1% to 35%: 8.9 points, "moderate" (3 to 10 points)
    assert first["probability_points"] == pytest.approx(8.87, abs=0.01)
    assert (first["points"], first["strength"]) == ("+9 pts", "moderate raise")
    assert first["words"] == (
        "5 research-page visits (pricing, comparisons, case studies) in the last 30 days: "
        "+9 pts (moderate raise)"
    )
    second = body["explanation"][1]
    assert second["contribution"] == -0.1 and second["probability_points"] < 0
    assert (second["points"], second["strength"]) == ("-2 pts", "slight lower")
    assert_no_artefact(body)


def test_the_schema_documents_the_points_beside_the_log_odds(client_for, viewer):
    schema = client_for(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    item = schema["components"]["schemas"]["ExplanationItem"]["properties"]
    assert {"contribution", "probability_points", "points", "strength", "words"} <= set(item)
    assert "percentage points" in item["probability_points"]["description"].lower()
    assert "log-odds" in item["contribution"]["description"]


def test_account_score_not_found(client_for, viewer):
    account = AccountFactory()  # never scored
    client = client_for(viewer)
    assert client.get(f"/api/account-scores/{account.pk}/").status_code == 404
    assert client.get("/api/account-scores/abc/").status_code == 404


def test_account_score_history_and_transitions(client_for, viewer, outsider):
    account = AccountFactory()
    old = AccountModelScoreHistoryFactory(account=account, scored_at=NOW - datetime.timedelta(days=8))
    new = AccountModelScoreHistoryFactory(account=account, scored_at=NOW, in_market=0.4)
    AccountModelScoreHistoryFactory()  # another account's
    first = BuyingStageTransitionFactory(
        account=account, at=NOW - datetime.timedelta(days=20), to_stage="awareness"
    )
    second = BuyingStageTransitionFactory(account=account, at=NOW)
    BuyingStageTransitionFactory()
    client = client_for(viewer)
    history = results(client.get(f"/api/account-scores/{account.pk}/history/"))
    assert [h["id"] for h in history] == [new.pk, old.pk]
    assert history[0]["in_market"] == 0.4 and history[0]["policy_number"] == 1
    page = client.get(f"/api/account-scores/{account.pk}/history/?page_size=1").json()
    assert [h["id"] for h in page["results"]] == [new.pk] and page["next"]
    transitions = results(client.get(f"/api/account-scores/{account.pk}/transitions/"))
    assert [t["id"] for t in transitions] == [second.pk, first.pk]
    assert transitions[0]["reason"] and transitions[0]["account_name"] == account.name
    # an account never scored still has a (empty) history; an unknown one is 404
    assert results(client.get(f"/api/account-scores/{AccountFactory().pk}/history/")) == []
    assert client.get("/api/account-scores/999999/history/").status_code == 404
    assert client_for(outsider).get(f"/api/account-scores/{account.pk}/history/").status_code == 403
    assert client_for(outsider).get(f"/api/account-scores/{account.pk}/transitions/").status_code == 403


# --- stage transitions --------------------------------------------------------------------------------
def test_stage_transitions_filter(client_for, viewer):
    account = AccountFactory()
    early = BuyingStageTransitionFactory(
        account=account, from_stage="target", to_stage="awareness", at=NOW - datetime.timedelta(days=40)
    )
    late = BuyingStageTransitionFactory(account=account, at=NOW)
    other = BuyingStageTransitionFactory(
        from_stage="decision", to_stage="purchase", at=NOW - datetime.timedelta(days=1)
    )
    client = client_for(viewer)

    def ids(query=""):
        return [r["id"] for r in results(client.get(f"/api/stage-transitions/?{query}"))]

    assert ids() == [late.pk, other.pk, early.pk]
    assert ids(f"account={account.pk}") == [late.pk, early.pk]
    assert ids("to_stage=purchase") == [other.pk]
    assert ids("from_stage=target&from_stage=decision") == [other.pk, early.pk]
    day = (NOW - datetime.timedelta(days=40)).astimezone(timezone.get_current_timezone()).date()
    assert ids(f"until={day.isoformat()}") == [early.pk]
    assert ids(f"since={(day + datetime.timedelta(days=1)).isoformat()}") == [late.pk, other.pk]
    response = client.get(f"/api/stage-transitions/{late.pk}/")
    assert response.status_code == 200 and response.json()["to_stage"] == "decision"


# --- contact scores -----------------------------------------------------------------------------------
def test_contact_model_scores(client_for, viewer, outsider):
    account = AccountFactory()
    fit = ContactModelScoreFactory(contact=ContactFactory(account=account), persona_fit=90)
    unfit = ContactModelScoreFactory(contact=ContactFactory(account=account), persona_fit=20, conversion=0.1)
    elsewhere = ContactModelScoreFactory(persona_fit=70)
    client = client_for(viewer)

    def ids(query=""):
        return [r["contact"] for r in results(client.get(f"/api/contact-model-scores/?{query}"))]

    assert set(ids()) == {fit.pk, unfit.pk, elsewhere.pk}
    assert sorted(ids(f"account={account.pk}")) == sorted([fit.pk, unfit.pk])
    assert ids(f"contact={unfit.pk}") == [unfit.pk]
    assert ids("persona_fit_min=60&ordering=-persona_fit") == [fit.pk, elsewhere.pk]
    body = client.get(f"/api/contact-model-scores/{unfit.pk}/").json()
    assert (body["email"], body["account"], body["conversion"]) == (unfit.contact.email, account.pk, 0.1)
    assert client.get("/api/contact-model-scores/999999/").status_code == 404
    assert client_for(outsider).get(f"/api/contact-model-scores/{unfit.pk}/").status_code == 403


# --- model versions -----------------------------------------------------------------------------------
def test_models_list_without_report_or_artefact(client_for, viewer):
    champion = ScoringModelFactory(status=ScoringModelStatus.CHAMPION)
    challenger = ScoringModelFactory(metrics={})
    fit = ScoringModelFactory(kind="account_fit")
    client = client_for(viewer)
    rows = results(client.get("/api/models/"))
    assert [r["id"] for r in rows] == [fit.pk, challenger.pk, champion.pk]
    by_id = {r["id"]: r for r in rows}
    assert by_id[champion.pk]["roc_auc"] == 0.81 and by_id[champion.pk]["pr_auc"] == 0.31
    assert by_id[challenger.pk]["roc_auc"] is None
    assert "metrics" not in rows[0] and "features" not in rows[0]
    assert_no_artefact(rows)
    assert [r["id"] for r in results(client.get("/api/models/?kind=in_market&status=champion"))] == [
        champion.pk
    ]
    detail = client.get(f"/api/models/{champion.pk}/").json()
    assert detail["metrics"]["models"]["xgboost"]["roc_auc"] == 0.81 and detail["features"]
    assert detail["artefact_sha256"] == champion.artefact_sha256
    assert_no_artefact(detail)


def test_lists_never_read_the_artefact_column(client_for, viewer):
    model = ScoringModelFactory()
    AccountModelScoreFactory(model=model)
    BuyingStageTransitionFactory(model=model)
    ContactModelScoreFactory(model=model)
    client = client_for(viewer)
    for url in [
        "/api/models/",
        "/api/account-scores/",
        "/api/stage-transitions/",
        "/api/contact-model-scores/",
    ]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        reads = [q["sql"] for q in queries.captured_queries if "scoring_scoringmodel" in q["sql"]]
        assert reads, url  # the version is read (joined) …
        assert not [sql for sql in reads if '"artefact"' in sql], url  # … without its bytes


def test_model_backtest_report(client_for, viewer):
    model = ScoringModelFactory()
    client = client_for(viewer)
    response = client.get(f"/api/models/{model.pk}/backtest/")
    assert response.status_code == 200
    assert response.json()["leakage_warnings"][0]["feature"] == "opportunities_open"
    empty = ScoringModelFactory(metrics={})
    response = client.get(f"/api/models/{empty.pk}/backtest/")
    assert response.status_code == 404 and "no backtest report" in response.json()["detail"]


def test_promote_by_revops_admins_only_audited(client_for, revops_admin, marketing_lead, viewer):
    champion = ScoringModelFactory(status=ScoringModelStatus.CHAMPION, promoted_at=NOW)
    challenger = ScoringModelFactory()
    url = f"/api/models/{challenger.pk}/promote/"
    for user in (viewer, marketing_lead):
        assert client_for(user).post(url, {"reason": "mine"}, format="json").status_code == 403
    response = client_for(revops_admin).post(url, {"reason": "better on recent data"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["reason"]) == ("champion", "better on recent data")
    assert_no_artefact(body)
    assert ScoringModel.objects.get(pk=champion.pk).status == ScoringModelStatus.RETIRED
    assert ChangeRecord.objects.filter(object_id=str(challenger.pk), actor=revops_admin).exists()


def test_promote_bad_input_changes_nothing(client_for, revops_admin):
    challenger = ScoringModelFactory()
    client = client_for(revops_admin)
    response = client.post(f"/api/models/{challenger.pk}/promote/", {"why": "x"}, format="json")
    assert response.status_code == 400 and "why" in response.json()
    response = client.post(f"/api/models/{challenger.pk}/promote/", {"reason": "x" * 2001}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert client.post("/api/models/999999/promote/", {}, format="json").status_code == 404
    assert ScoringModel.objects.get(pk=challenger.pk).status == ScoringModelStatus.CHALLENGER


def test_rollback(client_for, revops_admin, marketing_lead):
    old = ScoringModelFactory(
        status=ScoringModelStatus.RETIRED, promoted_at=NOW - datetime.timedelta(days=30)
    )
    new = ScoringModelFactory(status=ScoringModelStatus.CHAMPION, promoted_at=NOW)
    payload = {"kind": "in_market", "reason": "v2 misses recent buyers"}
    assert client_for(marketing_lead).post("/api/models/rollback/", payload, format="json").status_code == 403
    client = client_for(revops_admin)
    response = client.post("/api/models/rollback/", {"kind": "tarot"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()
    response = client.post("/api/models/rollback/", payload, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["status"]) == (old.pk, "champion")
    assert ScoringModel.objects.get(pk=new.pk).status == ScoringModelStatus.CHALLENGER
    response = client.post("/api/models/rollback/", {"kind": "persona_fit"}, format="json")
    assert response.status_code == 409 and "no champion" in response.json()["detail"].lower()


def test_train_starts_a_job(client_for, revops_admin, marketer):
    url = "/api/models/train/"
    assert client_for(marketer).post(url, {}, format="json").status_code == 403
    response = client_for(revops_admin).post(
        url, {"horizon_days": 60, "margin": 0.01, "folds": 2}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    job = JobRun.objects.get(pk=body["job"])
    assert body["url"] == f"/api/jobs/{job.pk}/" and body["status"] == "pending"
    assert job.kind == "train" and job.created_by == revops_admin
    assert (job.params["horizon_days"], job.params["margin"], job.params["folds"]) == (60, 0.01, 2)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"horizon_days": 3}, "horizon_days"),
        ({"horizon_days": 400}, "horizon_days"),
        ({"folds": 0}, "folds"),
        ({"folds": 13}, "folds"),
        ({"margin": 2}, "margin"),
        ({"as_of": "not a day"}, "as_of"),
        ({"as_of": "2999-01-01"}, "as_of"),
        ({"epochs": 10}, "epochs"),
    ],
)
def test_train_bad_input_starts_nothing(client_for, revops_admin, payload, field):
    response = client_for(revops_admin).post("/api/models/train/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not JobRun.objects.exists()


# --- backtests ----------------------------------------------------------------------------------------
def test_backtests_list_and_report(client_for, viewer):
    done = BacktestJobFactory()
    JobRun.objects.create(kind="import")  # not a backtest
    client = client_for(viewer)
    rows = results(client.get("/api/backtests/"))
    assert [r["id"] for r in rows] == [done.pk]
    assert rows[0]["roc_auc"] == 0.81 and "result" not in rows[0]
    detail = client.get(f"/api/backtests/{done.pk}/").json()
    assert detail["result"]["models"]["xgboost"]["roc_auc"] == 0.81


def test_start_a_backtest(client_for, revops_admin, marketing_lead):
    payload = {"as_of": "2024-06-30", "horizon_days": 90, "folds": 4}
    assert client_for(marketing_lead).post("/api/backtests/", payload, format="json").status_code == 403
    response = client_for(revops_admin).post("/api/backtests/", payload, format="json")
    assert response.status_code == 202, response.content
    job = JobRun.objects.get(pk=response.json()["job"])
    assert job.kind == "backtest" and job.params == {"as_of": "2024-06-30", "horizon_days": 90, "folds": 4}
    assert response.json()["url"] == f"/api/jobs/{job.pk}/"


@pytest.mark.parametrize(
    "payload, fields",
    [
        ({"horizon_days": 6}, {"horizon_days"}),
        ({"horizon_days": 366, "folds": 13}, {"horizon_days", "folds"}),
        ({"folds": "three"}, {"folds"}),
        ({"as_of": "30/06/2024"}, {"as_of"}),
        ({"as_of": "2999-12-31"}, {"as_of"}),
        ({"folds": 2, "colour": "red"}, {"colour"}),
    ],
)
def test_backtest_bad_input_starts_nothing(client_for, revops_admin, payload, fields):
    response = client_for(revops_admin).post("/api/backtests/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert not JobRun.objects.exists()


# --- account rescoring --------------------------------------------------------------------------------
def test_account_rescore_starts_the_full_rescore_job(client_for, revops_admin, marketing_lead):
    assert client_for(marketing_lead).post("/api/account-rescore/", {}, format="json").status_code == 403
    assert not JobRun.objects.exists()
    response = client_for(revops_admin).post(
        "/api/account-rescore/", {"reason": "new intent feed"}, format="json"
    )
    assert response.status_code == 202, response.content
    job = JobRun.objects.get(pk=response.json()["job"])
    assert response.json()["url"] == f"/api/jobs/{job.pk}/"
    assert job.created_by == revops_admin and job.params["reason"] == "new intent feed"
    # Asked again while it is pending: 409 and that job (at most one full rescore of the same versions).
    response = client_for(revops_admin).post("/api/account-rescore/", {}, format="json")
    assert response.status_code == 409 and response.json()["job"] == job.pk
    assert "already pending" in response.json()["detail"]
    services.job_run_finish(job=job, ok=True)
    response = client_for(revops_admin).post("/api/account-rescore/", {}, format="json")
    assert response.status_code == 202
    assert JobRun.objects.get(pk=response.json()["job"]).params["reason"] == "API request"


def test_account_rescore_bad_input(client_for, revops_admin):
    client = client_for(revops_admin)
    response = client.post("/api/account-rescore/", {"reason": "x" * 501}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post("/api/account-rescore/", {"accounts": [1]}, format="json")
    assert response.status_code == 400 and "accounts" in response.json()
    assert not JobRun.objects.exists()


def test_read_only_token_cannot_start_jobs(api_client, revops_admin):
    _, key = services.api_token_create(actor=revops_admin, user=revops_admin, name="t", scopes=["read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/models/").status_code == 200
    assert api_client.post("/api/account-rescore/", {}, format="json").status_code == 403
    assert api_client.post("/api/models/train/", {}, format="json").status_code == 403
    assert not JobRun.objects.exists()


# --- policy versions ----------------------------------------------------------------------------------
def test_policies_list_and_retrieve(client_for, viewer, marketer):
    draft = policies.policy_draft_create(user=marketer)
    client = client_for(viewer)
    rows = results(client.get("/api/policies/"))
    assert [(r["number"], r["status"], r["is_editable"]) for r in rows] == [
        (2, "draft", True),
        (1, "published", False),
    ]
    assert [r["number"] for r in results(client.get("/api/policies/?status=published"))] == [1]
    body = client.get(f"/api/policies/{draft.pk}/").json()
    assert body["awareness_min"] == 0.06 and body["created_by"] == marketer.pk


def test_members_create_drafts_viewers_do_not(client_for, viewer, marketer):
    assert client_for(viewer).post("/api/policies/", {}, format="json").status_code == 403
    response = client_for(marketer).post("/api/policies/", {}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["number"], response.json()["status"]) == (2, "draft")
    response = client_for(marketer).post(
        "/api/policies/", {"based_on": response.json()["id"], "name": "Copy"}, format="json"
    )
    assert response.status_code == 201 and response.json()["name"] == "Copy"


@pytest.mark.parametrize(
    "payload, field",
    [({"based_on": 999999}, "based_on"), ({"name": ""}, "name"), ({"colour": "red"}, "colour")],
)
def test_create_bad_input(client_for, marketer, payload, field):
    response = client_for(marketer).post("/api/policies/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert QualificationPolicy.objects.count() == 1


def test_patch_a_draft(client_for, marketer, viewer):
    draft = policies.policy_draft_create(user=marketer)
    url = f"/api/policies/{draft.pk}/"
    assert client_for(viewer).patch(url, {"icp_weight": 0.7}, format="json").status_code == 403
    response = client_for(marketer).patch(
        url, {"icp_weight": 0.7, "decision_min": 0.35}, format="json", HTTP_IF_MATCH=draft.etag
    )
    assert response.status_code == 200, response.content
    assert (response.json()["icp_weight"], response.json()["decision_min"]) == (0.7, 0.35)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"icp_weight": 1.2}, "icp_weight"),
        ({"consideration_min": 0.01}, "consideration_min"),
        ({"fit_medium_min": 90}, "fit_medium_min"),
        ({"min_days_in_stage": -3}, "min_days_in_stage"),
        ({"in_market_high_min": "high"}, "in_market_high_min"),
        ({"status": "published"}, "status"),
    ],
)
def test_patch_bad_input_is_400_by_field_and_changes_nothing(client_for, marketer, payload, field):
    draft = policies.policy_draft_create(user=marketer)
    before = policies.policy_settings(draft)
    response = client_for(marketer).patch(
        f"/api/policies/{draft.pk}/", {**payload, "name": "x"}, format="json", HTTP_IF_MATCH=draft.etag
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    draft.refresh_from_db()
    assert policies.policy_settings(draft) == before


def test_put_round_trips_the_document(client_for, marketer):
    draft = policies.policy_draft_create(user=marketer)
    client = client_for(marketer)
    read = client.get(f"/api/policies/{draft.pk}/")
    document, etag = read.json(), read.headers["ETag"]
    response = client.put(
        f"/api/policies/{draft.pk}/", {**document, "hysteresis": 0.05}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.content
    assert response.json()["hysteresis"] == 0.05
    etag = response.headers["ETag"]
    response = client.put(
        f"/api/policies/{draft.pk}/", {"icp_weight": 0.1}, format="json", HTTP_IF_MATCH=etag
    )
    assert (
        response.status_code == 400
        and "purchase_min" in response.json()
        and "icp_weight" not in response.json()
    )


def test_published_policies_are_not_edited_or_deleted(client_for, revops_admin):
    v1 = starter_policy()
    client = client_for(revops_admin)
    response = client.patch(f"/api/policies/{v1.pk}/", {"icp_weight": 0.9}, format="json")
    assert response.status_code == 409
    assert "only drafts can be edited" in response.json()["detail"]
    response = client.delete(f"/api/policies/{v1.pk}/")
    assert response.status_code == 409 and "only drafts can be deleted" in response.json()["detail"]
    assert QualificationPolicy.objects.get(pk=v1.pk).icp_weight == 0.5


def test_delete_a_draft(client_for, marketer, viewer, user_in):
    draft = policies.policy_draft_create(user=marketer)
    url = f"/api/policies/{draft.pk}/"
    assert client_for(viewer).delete(url).status_code == 403
    response = client_for(user_in(TeamKind.SALES, Role.MEMBER)).delete(url)  # not the author
    assert response.status_code == 403 and "author" in response.json()["detail"]
    assert client_for(marketer).delete(url).status_code == 204
    assert not QualificationPolicy.objects.filter(pk=draft.pk).exists()


def test_sign_off_publish_and_roll_back(
    client_for, marketer, marketing_lead, user_in, rescores, django_capture_on_commit_callbacks
):
    """A marketer proposes, a marketing lead and a sales lead approve, a lead publishes; rollback."""
    sales_lead = user_in(TeamKind.SALES, Role.LEAD)
    draft = policies.policy_draft_create(user=marketer)
    base = f"/api/policies/{draft.pk}"
    response = client_for(marketing_lead).post(f"{base}/publish/")
    assert (
        response.status_code == 409
        and "approved by both a marketing and a sales lead" in response.json()["detail"]
    )
    assert client_for(user_in(TeamKind.SALES, Role.VIEWER)).post(f"{base}/propose/").status_code == 403
    response = client_for(marketer).post(f"{base}/propose/")
    assert response.status_code == 200 and response.json()["status"] == "proposed"
    assert response.json()["proposed_by"] == marketer.pk
    assert client_for(marketer).post(f"{base}/approve/").status_code == 403  # no approve permission
    response = client_for(user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)).post(f"{base}/approve/")
    assert response.status_code == 403 and "marketing or a sales team" in response.json()["detail"]
    response = client_for(marketing_lead).post(f"{base}/approve/")
    assert response.status_code == 200, response.content
    assert [a["team_kind"] for a in response.json()["approvals"]] == ["marketing"]
    assert client_for(marketing_lead).post(f"{base}/approve/").status_code == 409  # already approved
    response = client_for(sales_lead).post(f"{base}/approve/")
    assert response.json()["status"] == "approved"
    url = f"{base}/publish/"
    assert client_for(marketer).post(url).status_code == 403
    response = client_for(user_in(TeamKind.CUSTOMER_SUCCESS, Role.LEAD)).post(url)
    assert response.status_code == 403 and "marketing or sales" in response.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(marketing_lead).post(url)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["published_by"]) == ("published", marketing_lead.pk)
    assert QualificationPolicy.objects.get(number=1).status == PolicyStatus.SUPERSEDED
    assert client_for(marketing_lead).post(url).status_code == 409  # already published
    v1 = QualificationPolicy.objects.get(number=1)
    assert client_for(marketing_lead).post(f"/api/policies/{v1.pk}/publish/").status_code == 409
    assert client_for(marketer).post(f"/api/policies/{v1.pk}/rollback/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(marketing_lead).post(f"/api/policies/{v1.pk}/rollback/")
    assert response.status_code == 200 and response.json()["number"] == 1
    assert policies.policy_published().number == 1
    assert [c["reason"] for c in rescores] == ["policy v2 published", "policy rolled back to v1"]


def test_four_eyes_reject_and_withdraw(client_for, marketer, marketing_lead, user_in):
    sales_lead = user_in(TeamKind.SALES, Role.LEAD)
    draft = policies.policy_draft_create(user=marketer)
    base = f"/api/policies/{draft.pk}"
    assert client_for(sales_lead).post(f"{base}/propose/").status_code == 200
    response = client_for(sales_lead).post(f"{base}/approve/")
    assert response.status_code == 403 and "Four eyes" in response.json()["detail"]
    assert client_for(marketing_lead).post(f"{base}/reject/", {}, format="json").status_code == 400
    assert (
        client_for(marketing_lead).post(f"{base}/reject/", {"reason": " "}, format="json").status_code == 400
    )
    response = client_for(marketing_lead).post(f"{base}/reject/", {"reason": "x", "colour": 1}, format="json")
    assert response.status_code == 400 and "colour" in response.json()
    assert client_for(marketer).post(f"{base}/reject/", {"reason": "No"}, format="json").status_code == 403
    response = client_for(marketing_lead).post(
        f"{base}/reject/", {"reason": "Hysteresis too low."}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "draft"
    assert client_for(marketer).post(f"{base}/withdraw/").status_code == 409  # a draft already
    client_for(marketer).post(f"{base}/propose/")
    response = client_for(marketer).post(f"{base}/withdraw/")
    assert response.status_code == 200 and (response.json()["status"], response.json()["proposed_by"]) == (
        "draft",
        None,
    )
    history = client_for(user_in(TeamKind.SALES, Role.VIEWER)).get(f"{base}/history/").json()["results"]
    assert [row["action"] for row in history] == [
        "created",
        "proposed",
        "rejected",
        "proposed",
        "withdrawn",
    ]
    assert history[2]["detail"]["reason"] == "Hysteresis too low."


def test_comments_on_a_policy(client_for, marketer, viewer):
    v1 = starter_policy()
    url = f"/api/policies/{v1.pk}/comments/"
    assert client_for(viewer).post(url, {"body": "Hi"}, format="json").status_code == 403
    assert client_for(marketer).post(url, {"body": ""}, format="json").status_code == 400
    assert client_for(marketer).post(url, {"body": "x", "colour": 1}, format="json").status_code == 400
    response = client_for(marketer).post(url, {"body": "  Medium fit is too generous.  "}, format="json")
    assert response.status_code == 201 and response.json()["body"] == "Medium fit is too generous."
    rows = client_for(viewer).get(url).json()["results"]
    assert [(r["author_username"], r["body"]) for r in rows] == [
        (marketer.username, "Medium fit is too generous.")
    ]


def test_put_of_a_read_document_ignores_the_workflow_keys(client_for, marketer):
    draft = policies.policy_draft_create(user=marketer)
    client = client_for(marketer)
    read = client.get(f"/api/policies/{draft.pk}/")
    document = read.json()
    assert {"approvals", "proposed_by", "based_on"} <= set(document)
    response = client.put(
        f"/api/policies/{draft.pk}/",
        {**document, "icp_weight": 0.6},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )
    assert response.status_code == 200, response.content
    assert (response.json()["icp_weight"], response.json()["revision"]) == (0.6, 2)


def test_schema_documents_the_learned_endpoints(client_for, viewer):
    response = client_for(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path, method in [
        ("/api/account-scores/", "get"),
        ("/api/account-scores/{account_id}/", "get"),
        ("/api/account-scores/{account_id}/history/", "get"),
        ("/api/account-scores/{account_id}/transitions/", "get"),
        ("/api/stage-transitions/", "get"),
        ("/api/contact-model-scores/", "get"),
        ("/api/models/", "get"),
        ("/api/models/{id}/backtest/", "get"),
        ("/api/models/{id}/promote/", "post"),
        ("/api/models/rollback/", "post"),
        ("/api/models/train/", "post"),
        ("/api/backtests/", "post"),
        ("/api/account-rescore/", "post"),
        ("/api/policies/{id}/", "patch"),
        ("/api/policies/{id}/publish/", "post"),
    ]:
        assert method in paths[path], path
    detail = response.json()["components"]["schemas"]["AccountModelScoreDetail"]["properties"]
    assert "explanation" in detail
    assert "artefact" not in response.json()["components"]["schemas"]["ScoringModelDetail"]["properties"]


def test_policy_list_queries_do_not_grow_with_versions(client_for, viewer, marketer, marketing_lead):
    def count() -> int:
        client = client_for(viewer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/policies/").status_code == 200
        return len(queries)

    few = count()
    for _ in range(4):
        draft = policies.policy_draft_create(user=marketer)
        policies.policy_propose(policy=draft, user=marketer)
        policies.policy_approve(policy=draft, user=marketing_lead)
    assert count() == few
