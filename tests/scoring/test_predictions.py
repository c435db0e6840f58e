"""Learned account scores end to end on a small demo world: the champion's probability and its SHAP
explanation, profile fit and the qualified flag under the published policy, buying stages, write-back
of changed rows only, the full rescore as chunk tasks (eager here; a real worker in
test_worker_pipeline), resuming a stalled job, the command and the incremental path."""

import datetime
import io
import json

import numpy as np
import pandas as pd
import pytest
import xgboost
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from prometheus_client import REGISTRY

from accounts.models import Account, Territory
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord, JobRun, Team
from scoring import pipeline
from scoring.choices import PolicyStatus
from scoring.learned import features as F
from scoring.learned import lookalike as L
from scoring.learned import predictions
from scoring.learned.backtest import data_end
from scoring.learned.words import account_explanation
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    AccountRuleScore,
    BuyingStageTransition,
    Notification,
    QualificationPolicy,
)
from tests.scoring.factories import champion_in_market


@pytest.fixture
def world(db, settings):
    settings.SCORING_INCREMENTAL = False
    call_command("seed_demo", accounts=150, seed=11, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    call_command("rescore", rules_only=True, verbosity=0, stdout=io.StringIO())
    as_of = data_end()
    model = champion_in_market(as_of=as_of)
    return {"as_of": as_of, "model": model}


def score_all(world, now=None):
    scorer = predictions.Scorer.current()
    return predictions.accounts_chunk_score(
        scorer=scorer, ids=range(0, 10**12), as_of=world["as_of"], now=now or timezone.now()
    )


def independent_booster(model):
    """The champion's artefact loaded straight into XGBoost: predictions that owe nothing to the code under
    test. The frame's columns are picked by name, in the model's feature order."""
    booster = xgboost.Booster()
    booster.load_model(bytearray(model.artefact))

    def matrix(frame):
        return xgboost.DMatrix(
            frame[list(model.features)].to_numpy(dtype=np.float32), feature_names=model.features
        )

    return booster, matrix


def test_every_account_gets_the_champions_probability_and_a_faithful_explanation(world):
    stats = score_all(world)
    assert stats["accounts"] == stats["written"] == AccountModelScore.objects.count() == 150
    policy = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    frame = F.account_features(
        as_of=world["as_of"], account_ids=None, top_keys=world["model"].params["top_keys"]
    )
    booster, matrix = independent_booster(world["model"])
    expected = booster.predict(matrix(frame))
    assert expected.std() > 0.01  # the accounts differ, so a wrong column order shows
    stored = dict(AccountModelScore.objects.values_list("account_id", "in_market"))
    assert np.allclose([stored[a] for a in frame.index], expected, atol=1e-4)
    contributions = booster.predict(matrix(frame), pred_contribs=True)[:, :-1]
    top = AccountModelScore.objects.order_by("-in_market").first()
    assert top.model_id == world["model"].pk and top.policy_id == policy.pk
    # The stored explanation is the row's largest SHAP values, each with the feature's value, largest first.
    row = contributions[list(frame.index).index(top.account_id)]
    largest = np.argsort(-np.abs(row), kind="stable")[: predictions.TOP_CONTRIBUTIONS]
    names = list(world["model"].features)
    assert [[f, pytest.approx(v, abs=1e-4), pytest.approx(c, abs=1e-3)] for f, v, c in top.contributions] == [
        [names[j], frame.loc[top.account_id, names[j]], row[j]]
        for j in largest
        if round(float(row[j]), 4) != 0
    ]
    explanation = account_explanation(top)
    assert [e["feature"] for e in explanation] == [f for f, _, _ in top.contributions]
    # each as the points it adds to the stored probability, the log-odds kept beside them
    assert all(
        e["words"] == f"{e['description']}: {e['points']} ({e['strength']})" and "_" not in e["description"]
        for e in explanation
    )
    assert all(
        (e["probability_points"] > 0) == (e["contribution"] > 0) and abs(e["probability_points"]) <= 100
        for e in explanation
    )


def band(value, high_min, medium_min):
    return "high" if value >= high_min else "medium" if value >= medium_min else "low"


RANK = {"low": 0, "medium": 1, "high": 2}


def icp_share(policy, rules_fit: float) -> float:
    return min(max(rules_fit / policy.icp_fit_full, 0.0), 1.0)


def test_bands_and_qualified_follow_the_published_policy(world):
    score_all(world)
    policy = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    rules_fit = dict(AccountRuleScore.objects.values_list("account_id", "fit"))
    for row in AccountModelScore.objects.all():
        # No look-alike champion: profile fit is the ICP criteria's share alone.
        assert row.profile_fit == pytest.approx(
            round(100 * icp_share(policy, rules_fit.get(row.account_id, 0)), 2)
        )
        assert row.fit_band == band(row.profile_fit, policy.fit_high_min, policy.fit_medium_min)
        assert row.in_market_band == band(
            row.in_market, policy.in_market_high_min, policy.in_market_medium_min
        )
        assert row.qualified == (
            RANK[row.fit_band] >= RANK[policy.qualified_fit_band]
            and RANK[row.in_market_band] >= RANK[policy.qualified_in_market_band]
        )
    # A new version: every account is in market, only high fit qualifies — exactly the high-fit accounts
    # do, and every row names the version.
    policy.status = PolicyStatus.SUPERSEDED
    policy.save()
    stricter = QualificationPolicy.objects.create(
        number=2, name="high fit only", status=PolicyStatus.PUBLISHED, in_market_high_min=0.0,
        in_market_medium_min=0.0, qualified_fit_band="high", qualified_in_market_band="high",
    )  # fmt: skip
    score_all(world)
    rows = list(AccountModelScore.objects.all())
    high_fit = {r.account_id for r in rows if r.fit_band == "high"}
    assert 0 < len(high_fit) < len(rows)
    assert {r.account_id for r in rows if r.qualified} == high_fit
    assert {r.in_market_band for r in rows} == {"high"}
    assert {r.policy_id for r in rows} == {stricter.pk}


def test_profile_fit_blends_the_lookalike_model_and_the_icp_criteria_by_the_policys_weight(world):
    fit_model = L.train_account_fit(as_of=world["as_of"])
    policy = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    policy.icp_weight = 0.3
    policy.save()
    score_all(world)
    frame = L.account_fit_frame(as_of=world["as_of"])
    lookalike = dict(zip(frame.index, L.account_fit_predict(fit_model, frame), strict=True))
    rules_fit = dict(AccountRuleScore.objects.values_list("account_id", "fit"))
    rows = list(AccountModelScore.objects.all())
    assert len(rows) == 150 and {r.fit_model_id for r in rows} == {fit_model.pk}
    for row in rows:
        icp = icp_share(policy, rules_fit.get(row.account_id, 0))
        assert row.profile_fit == pytest.approx(round(100 * (0.7 * lookalike[row.account_id] + 0.3 * icp), 2))
    assert (
        len({round(r.profile_fit - 30 * icp_share(policy, rules_fit.get(r.account_id, 0)), 2) for r in rows})
        > 10
    )


def test_every_scored_account_is_counted_for_the_operators_metrics(world):
    before = REGISTRY.get_sample_value("revops_model_scored_total", {"entity": "account"}) or 0.0
    score_all(world)
    score_all(world)  # scored again, nothing written: still scored
    assert REGISTRY.get_sample_value("revops_model_scored_total", {"entity": "account"}) == before + 300


def test_a_second_run_writes_nothing_and_history_keeps_every_change(world):
    now = timezone.now()
    score_all(world, now)
    history, transitions = AccountModelScoreHistory.objects.count(), BuyingStageTransition.objects.count()
    assert history == 150 and transitions == 150  # first placement of every account is a transition
    assert score_all(world, now + datetime.timedelta(hours=1))["written"] == 0
    assert AccountModelScoreHistory.objects.count() == history
    assert BuyingStageTransition.objects.count() == transitions
    first = BuyingStageTransition.objects.order_by("id").first()
    assert first.from_stage == "" and first.reason and first.model_id == world["model"].pk


def test_stages_wait_the_minimum_time_then_move_with_a_reason(world):
    now = timezone.now()
    score_all(world, now)
    target = AccountModelScore.objects.order_by("in_market").first()
    # Pretend it was in decision; a day later it may not move, eight days later it regresses.
    AccountModelScore.objects.filter(pk=target.pk).update(stage="decision", stage_since=now)
    score_all(world, now + datetime.timedelta(days=1))
    assert AccountModelScore.objects.get(pk=target.pk).stage == "decision"
    score_all(world, now + datetime.timedelta(days=8))
    moved = AccountModelScore.objects.get(pk=target.pk)
    assert moved.stage != "decision"
    last = BuyingStageTransition.objects.filter(account_id=target.pk).order_by("-at", "-id").first()
    assert last.from_stage == "decision" and last.to_stage == moved.stage and "fell below" in last.reason
    assert moved.stage_since == now + datetime.timedelta(days=8)


def test_full_rescore_job_runs_every_phase_in_chunks(world, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(pipeline, "MODEL_ACCOUNT_CHUNK", 40)
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline.full_rescore_schedule(reason="test")  # eager: the chunks run now, phase after phase
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    phases = dict(job.params["phases"])
    assert len(phases["account_models"]) >= 4 and job.progress == job.total
    assert AccountModelScore.objects.count() == 150
    assert "accounts qualified" in job.message
    # A redelivered chunk of a finished job does nothing.
    assert pipeline.rescore_chunk_task(job.pk, "account_models", 0) == {"skipped": "account_models:0"}


def test_a_stalled_job_resumes_its_missing_chunks(world, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(pipeline, "MODEL_ACCOUNT_CHUNK", 50)
    sent = []
    monkeypatch.setattr(pipeline.rescore_chunk_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline.full_rescore_schedule(reason="test")
    assert [s[1] for s in sent] == ["contacts"] * len(dict(job.params["phases"])["contacts"])
    monkeypatch.undo()
    # The worker that took the messages died; nothing was done. Resume re-sends and the job finishes.
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.full_rescore_resume(stale_after=datetime.timedelta(0)) == [job.pk]
    job.refresh_from_db()
    assert job.status == "succeeded" and job.progress == job.total
    assert AccountModelScore.objects.count() == 150


def test_the_command_rescores_learned_scores_and_single_accounts(world):
    out = io.StringIO()
    call_command("rescore", json=True, stdout=out)
    result = json.loads(out.getvalue())
    assert result["learned"]["account_models_accounts"] == 150
    account_id = AccountModelScore.objects.values_list("account_id", flat=True).first()
    out = io.StringIO()
    call_command("rescore", accounts=[account_id], json=True, stdout=out)
    assert json.loads(out.getvalue())["learned"]["accounts"] == 1


def test_without_a_champion_the_learned_phases_are_skipped_with_the_reason(
    db, django_capture_on_commit_callbacks
):
    call_command("seed_demo", accounts=20, seed=3, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    with django_capture_on_commit_callbacks(execute=True):
        job = pipeline.full_rescore_schedule()
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert "No in-market champion" in job.params["models_skipped"]
    assert predictions.accounts_rescore(account_ids=[1])["skipped"]


def test_events_rescore_the_touched_accounts_learned_scores(
    world, settings, revops_admin, django_capture_on_commit_callbacks
):
    score_all(world)
    settings.SCORING_INCREMENTAL = True
    row = AccountModelScore.objects.select_related("account").order_by("in_market").first()
    contact = row.account.contacts.first()
    before = AccountModelScoreHistory.objects.filter(account_id=row.pk).count()
    from accounts.ingest import events_ingest

    moment = timezone.now() - datetime.timedelta(minutes=5)
    events = [
        {"message_id": f"m-{k}", "type": "demo_request", "contact_id": contact.pk,
         "occurred_at": (moment + datetime.timedelta(seconds=k)).isoformat(), "url": "https://example.com/demo"}
        for k in range(3)
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(items=events, actor=revops_admin)
    after = AccountModelScore.objects.get(pk=row.pk)
    assert after.scored_at > row.scored_at and after.in_market != row.in_market
    assert AccountModelScoreHistory.objects.filter(account_id=row.pk).count() == before + 1
    assert not JobRun.objects.filter(kind=pipeline.KIND).exists()  # no full rescore: just this account


def test_a_past_score_is_reproduced_with_the_model_that_made_it(world, client_for, viewer, outsider):
    score_all(world)
    row = AccountModelScore.objects.order_by("-in_market").first()
    # A newer, different champion since: the past score is reproduced with version 1, not with it.
    newer = champion_in_market(as_of=world["as_of"], trees=3)
    assert newer.version == 2 and newer.status == "champion"
    client = client_for(viewer)
    response = client.get(f"/api/account-scores/{row.pk}/as-of/", {"date": world["as_of"].isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["matches"] and body["model"]["version"] == world["model"].version == 1
    assert body["reproduced"]["in_market"] == pytest.approx(row.in_market, abs=1e-4)
    assert body["reproduced"]["explanation"][0]["words"]
    earlier = (world["as_of"] - datetime.timedelta(days=400)).isoformat()
    assert client.get(f"/api/account-scores/{row.pk}/as-of/", {"date": earlier}).status_code == 404
    assert client.get(f"/api/account-scores/{row.pk}/as-of/", {"date": "soon"}).status_code == 400
    denied = client_for(outsider).get(f"/api/account-scores/{row.pk}/as-of/", {"date": earlier})
    assert denied.status_code == 403


def test_accounts_that_become_qualified_notify_sales_and_send_a_webhook(world, user_in):
    from accounts.models import Account
    from revops.choices import Role, TeamKind
    from scoring.delivery.notifications import SUMMARY_THRESHOLD
    from scoring.models import Notification, WebhookDelivery, WebhookEndpoint

    seller = user_in(TeamKind.SALES, Role.LEAD)
    team = seller.memberships.first().team
    # Nobody owns an account and nothing routes them: the teams hear of them all.
    Account.objects.update(owner=None, owner_team=None)
    Territory.objects.all().delete()
    WebhookEndpoint.objects.create(team=team, name="crm", url="https://crm.example.com/hook", secret="s" * 32,
                                   event_types=["account.qualified"])  # fmt: skip
    now = timezone.now()
    score_all(world, now)
    assert not Notification.objects.filter(kind__startswith="account.qualified").exists()  # the baseline
    # Lower the bar: accounts that were not qualified become so.
    policy = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    policy.status = PolicyStatus.SUPERSEDED
    policy.save()
    QualificationPolicy.objects.create(number=2, name="looser", status=PolicyStatus.PUBLISHED,
                                       in_market_high_min=0.0, in_market_medium_min=0.0)  # fmt: skip
    newly = set(
        AccountModelScore.objects.filter(qualified=False, fit_band__in=["medium", "high"]).values_list(
            "account_id", flat=True
        )
    )
    assert len(newly) > SUMMARY_THRESHOLD  # so the team gets one summary, not one note per account
    assert not Account.objects.filter(pk__in=newly, owner__isnull=False).exists()  # all go to sales teams
    score_all(world, now + datetime.timedelta(hours=1))
    assert set(AccountModelScore.objects.filter(qualified=True).values_list("account_id", flat=True)) >= newly
    notes = Notification.objects.filter(team=team, kind__startswith="account.qualified")
    assert [(n.kind, n.title) for n in notes] == [
        ("account.qualified.summary", f"{len(newly):,} accounts became qualified")
    ]
    deliveries = WebhookDelivery.objects.filter(event_type="account.qualified")
    payloads = {d.payload["data"]["account"]["id"]: d.payload["data"] for d in deliveries}
    assert deliveries.count() == len(payloads) and set(payloads) == newly
    stored = dict(
        AccountModelScore.objects.filter(account_id__in=newly).values_list("account_id", "in_market")
    )
    for account_id, data in payloads.items():
        assert data["scores"]["in_market"] == round(stored[account_id], 4)
        assert data["policy_version"] == 2 and data["reasons"]


def test_events_refresh_the_contacts_persona_fit_and_engagement_vs_buyers(
    world, settings, revops_admin, django_capture_on_commit_callbacks
):
    from django.db.models import Sum

    from accounts.ingest import events_ingest
    from accounts.models import Contact, ContactActivityDaily
    from scoring.models import ContactModelScore

    model = L.train_persona_fit(as_of=world["as_of"])
    settings.SCORING_INCREMENTAL = True
    # Someone with no activity yet: this event is all the engagement there is.
    contact = (
        Contact.objects.filter(account__isnull=False)
        .exclude(pk__in=ContactActivityDaily.objects.values("contact_id"))
        .order_by("id")
        .first()
    )
    assert not ContactModelScore.objects.filter(pk=contact.pk).exists()
    moment = timezone.now() - datetime.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(items=[{"message_id": "p-1", "type": "page_view", "contact_id": contact.pk,
                              "occurred_at": moment.isoformat(), "url": "https://example.com/pricing"}],
                      actor=revops_admin)  # fmt: skip
    row = ContactModelScore.objects.get(pk=contact.pk)
    # Scored today, with the event counted: the model's percentiles of this person's profile and activity.
    days = model.params.get("engagement_window_days", L.TEAM_WINDOW_DAYS)
    today = predictions.today()
    activity = ContactActivityDaily.objects.filter(
        contact=contact, day__gt=today - datetime.timedelta(days=days), day__lte=today
    ).aggregate(n=Sum("count"))["n"]
    assert activity == 1
    profile = pd.DataFrame(
        {"persona": [contact.persona.name if contact.persona else ""], "seniority": [contact.seniority],
         "department": [contact.department], "title": [contact.title]}
    )  # fmt: skip
    assert row.model_id == model.pk
    assert row.persona_fit == pytest.approx(round(float(L.persona_fit_predict(model, profile)[0]), 2))
    assert row.engagement_vs_buyers == pytest.approx(
        round(float(L.engagement_vs_buyers(model, [activity])[0]), 2)
    )
    assert row.engagement_vs_buyers > 0


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]),  # few values: many ties at every boundary
    ),
    st.integers(min_value=1, max_value=14),
)
def test_largest_first_agrees_with_a_stable_sort_of_every_column(magnitude, k):
    k = min(k, magnitude.shape[1])
    expected = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(predictions.largest_first(magnitude, k)[:, :k], expected)


def run_rescore(*args) -> dict:
    out = io.StringIO()
    call_command("rescore", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_a_backfill_dates_scores_and_stage_moves_at_past_month_ends(world):
    day = world["as_of"]
    result = run_rescore("--backfill-months", "3", "--as-of", day.isoformat())
    ends = [e["as_of"] for e in result["backfill"]]
    assert len(ends) == 3 and ends == sorted(ends)
    for end in ends:  # each a month end before the scoring day's month
        end_day = datetime.date.fromisoformat(end)
        assert (end_day + datetime.timedelta(days=1)).day == 1 and end_day < day.replace(day=1)
    # Every account has a score as of each month end and as of the day, each dated then.
    history = AccountModelScoreHistory.objects.values_list("as_of", "scored_at")
    assert {a.isoformat() for a, _ in history} == {*ends, day.isoformat()}
    assert all(s.date() == a and s.hour == 12 for a, s in history if a != day)
    assert AccountModelScoreHistory.objects.filter(as_of=ends[0]).count() == 150
    # The first placement happened at the first month end; later moves at later ones, never before it.
    first = BuyingStageTransition.objects.order_by("at").first()
    assert first.at.date().isoformat() == ends[0] and first.from_stage == ""
    assert BuyingStageTransition.objects.filter(from_stage="").count() == 150
    # The current score of each account is its latest: the day's where it changed, else the last month end's.
    latest = {}
    for account_id, p in AccountModelScoreHistory.objects.order_by("as_of", "id").values_list(
        "account_id", "in_market"
    ):
        latest[account_id] = p
    assert dict(AccountModelScore.objects.values_list("account_id", "in_market")) == latest
    # Once scores exist a backfill is skipped, with the reason; nothing else changes.
    rows = AccountModelScoreHistory.objects.count()
    again = run_rescore("--backfill-months", "3", "--as-of", day.isoformat())
    assert again["backfill"] == {
        "skipped": "learned scores exist already: a backfill only fills an empty history"
    }
    assert AccountModelScoreHistory.objects.count() == rows


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backfill-months", "0"], "between 1 and 36"),
        (["--backfill-months", "40"], "between 1 and 36"),
        (["--backfill-months", "2", "--rules-only"], "drop --rules-only"),
        (["--backfill-months", "2", "--accounts", "1"], "drop --rules-only, --contacts and --accounts"),
    ],
)
def test_a_backfill_refuses_what_it_cannot_do_and_changes_nothing(world, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rescore", *args, stdout=io.StringIO())
    assert not AccountModelScore.objects.exists()


def test_a_backfill_needs_a_champion(db):
    call_command("seed_demo", accounts=20, seed=3, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="needs an in-market champion"):
        call_command("rescore", "--backfill-months", "2", stdout=io.StringIO())
    assert not AccountModelScore.objects.exists()


def test_accounts_that_become_qualified_without_an_owner_are_routed_and_their_owner_told(world, user_in):
    sellers = [user_in(TeamKind.SALES, Role.MEMBER) for _ in range(2)]
    team = Team.objects.get(kind=TeamKind.SALES)
    Account.objects.update(owner=None, owner_team=None)
    Territory.objects.all().delete()  # the demo's
    Territory.objects.create(name="Everything", team=team)
    now = timezone.now()
    score_all(world, now)
    first = set(AccountModelScore.objects.filter(qualified=True).values_list("account_id", flat=True))
    assert set(Account.objects.filter(owner__isnull=False).values_list("pk", flat=True)) == first
    policy = QualificationPolicy.objects.get(status=PolicyStatus.PUBLISHED)
    policy.status = PolicyStatus.SUPERSEDED
    policy.save()
    QualificationPolicy.objects.create(number=2, name="looser", status=PolicyStatus.PUBLISHED,
                                       in_market_high_min=0.0, in_market_medium_min=0.0)  # fmt: skip

    score_all(world, now + datetime.timedelta(hours=1))

    qualified = set(AccountModelScore.objects.filter(qualified=True).values_list("account_id", flat=True))
    newly = qualified - first
    assert newly
    owned = Account.objects.filter(pk__in=newly)
    assert not owned.filter(owner__isnull=True).exists() and set(
        owned.values_list("owner_team", flat=True)
    ) == {team.pk}
    counts = sorted(owned.filter(owner=s).count() for s in sellers)
    assert counts[1] - counts[0] <= 1  # round-robin
    assert not Account.objects.exclude(pk__in=qualified).filter(owner__isnull=False).exists()
    record = ChangeRecord.objects.filter(object_repr__contains="(qualified)").latest("id")
    assert record.after["routed"] == len(newly)
    # Each owner hears of their own accounts, addressed to them.
    for seller in sellers:
        notes = Notification.objects.filter(user=seller, kind__startswith="account.qualified")
        assert {i for n in notes for i in n.account_ids} == set(
            owned.filter(owner=seller).values_list("pk", flat=True)
        )
