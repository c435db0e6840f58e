"""Look-alike fit models on a small synthetic world where fit is learnable: account profile fit from
firmographics, persona fit from past buying teams, and contact scoring that writes only what changed."""

import datetime

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from accounts.models import Account, Contact, ContactActivityDaily, Opportunity, Persona
from scoring.choices import ScoringModelStatus
from scoring.learned import families
from scoring.learned import lookalike as L
from scoring.learned import registry as R
from scoring.models import ContactModelScore, ScoringModel
from tests.accounts.factories import TechnologyFactory

AS_OF = datetime.date(2026, 6, 30)
OPENED = AS_OF - datetime.timedelta(days=120)  # buying accounts opened theirs (their team engaged before)
BUYING_INDUSTRIES = ("software", "fintech")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def accounts_world(n: int = 160, seed: int = 1) -> dict:
    """Accounts whose industry, size and stack decide (mostly) whether they ever opened an opportunity."""
    rng = np.random.default_rng(seed)
    industries = np.array(["software", "fintech", "retail", "mining"])[rng.integers(0, 4, n)]
    employees = rng.integers(20, 5000, n)
    accounts = Account.objects.bulk_create(
        [
            Account(
                name=f"Co {i}",
                domain=f"co{i}.com",
                industry=industries[i],
                employee_count=int(employees[i]),
                annual_revenue=int(employees[i]) * 100_000,
                founded_year=1990 + i % 30,
                country="US",
            )
            for i in range(n)
        ]
    )
    crm = TechnologyFactory(name="Salesforce")
    buyer_like = np.isin(industries, BUYING_INDUSTRIES) & (employees > 200)
    for account, like in zip(accounts, buyer_like, strict=True):
        if like:
            account.technologies.add(crm)
    # Mostly, not always: buyer-like accounts opened one with 85% chance, the others with 10%.
    opened = np.where(buyer_like, rng.random(n) < 0.85, rng.random(n) < 0.10)
    Opportunity.objects.bulk_create(
        [
            Opportunity(account=a, name=f"Deal {a.pk}", created_date=OPENED)
            for a, o in zip(accounts, opened, strict=True)
            if o
        ]
    )
    return {"accounts": accounts, "buyer_like": buyer_like, "opened": opened}


def test_account_fit_learns_who_bought_and_predicts_on_any_frame(db, revops_admin):
    world = accounts_world()
    model = L.train_account_fit(as_of=AS_OF, user=revops_admin)
    assert (model.kind, model.status, model.version) == ("account_fit", ScoringModelStatus.CHAMPION, 1)
    report = model.metrics
    assert set(report["models"]) == set(L.CV_MODELS) and report["champion"]["family"] in families.CANDIDATES
    assert report["validation"] == "cross_validation" and len(report["folds"]) == L.FOLDS
    assert report["models"]["xgboost"]["roc_auc"] > 0.75  # learnable: well above chance
    assert report["rows"] == 160 and report["positives"] == int(world["opened"].sum())
    assert "industry__software" in model.features and "tech__salesforce" in model.features
    assert not any(f.startswith(("all_", "intent", "engaged")) for f in model.features)  # no engagement
    assert len(model.params["score_quantiles"]) == L.QUANTILES and model.trained_by == revops_admin
    assert report["scale"]["median_buyer"] > report["scale"]["median_other"]

    frame = L.account_fit_frame(as_of=AS_OF)
    fit = L.account_fit_predict(model, frame)
    assert fit.shape == (160,) and fit.min() >= 0 and fit.max() <= 1
    like = world["buyer_like"]
    assert fit[like].mean() > fit[~like].mean() + 0.3
    # Columns in another order, one missing (as 0), an unknown one: aligned to the model's features.
    shuffled = frame[frame.columns[::-1]].drop(columns=["company_age"]).assign(unknown=1.0)
    expected = L.account_fit_predict(model, frame.assign(company_age=0.0))
    assert np.allclose(L.account_fit_predict(model, shuffled), expected)


def test_a_large_population_trains_on_a_stratified_sample(db, monkeypatch):
    world = accounts_world()
    monkeypatch.setattr(L, "MAX_TRAIN_ROWS", 100)
    model = L.train_account_fit(as_of=AS_OF)
    assert (model.metrics["rows"], model.metrics["population"]) == (100, 160)
    share = world["opened"].mean()
    assert abs(model.metrics["positives"] / 100 - share) < 0.02  # stratified
    assert model.metrics["models"]["xgboost"]["roc_auc"] > 0.7


def test_account_fit_needs_both_outcomes(db):
    Account.objects.bulk_create([Account(name=f"Co {i}", domain=f"x{i}.com") for i in range(20)])
    with pytest.raises(R.RegistryError, match="not enough data"):
        L.train_account_fit(as_of=AS_OF)
    assert not ScoringModel.objects.exists()


# --- persona fit -------------------------------------------------------------------------------------------
def persona_world(n_accounts: int = 70, seed: int = 2) -> dict:
    """Buying accounts whose champions (RevOps directors) usually engaged before the opportunity and whose
    bystanders (IT engineers) rarely did; account-less students never are on a buying team."""
    rng = np.random.default_rng(seed)
    champion = Persona.objects.create(name="RevOps Champion")
    bystander = Persona.objects.create(name="IT Bystander")
    accounts = Account.objects.bulk_create(
        [Account(name=f"Buyer {i}", domain=f"buyer{i}.com") for i in range(n_accounts)]
    )
    Opportunity.objects.bulk_create(
        [Opportunity(account=a, name="Deal", created_date=OPENED) for a in accounts]
    )
    contacts = []
    for a in accounts:
        for k in range(3):
            contacts.append(
                Contact(
                    account=a,
                    email=f"champ{k}@{a.domain}",
                    title="Director of Revenue Operations",
                    seniority="director",
                    department="operations",
                    persona=champion,
                )
            )
            contacts.append(
                Contact(
                    account=a,
                    email=f"eng{k}@{a.domain}",
                    title="Software Engineer",
                    seniority="individual",
                    department="it",
                    persona=bystander,
                )
            )
    contacts += [
        Contact(email=f"student{i}@mail.com", title="Student", seniority="entry", department="other")
        for i in range(60)
    ]
    contacts = Contact.objects.bulk_create(contacts)
    rows = []
    for c in contacts:
        if c.account_id is None:
            engaged = False
        else:
            engaged = rng.random() < (0.9 if c.persona_id == champion.pk else 0.1)
        if engaged:  # in the 90 days before the opportunity
            for d in rng.choice(np.arange(1, 90), size=int(rng.integers(1, 4)), replace=False):
                rows.append(
                    ContactActivityDaily(
                        contact=c,
                        account_id=c.account_id,
                        day=OPENED - datetime.timedelta(days=int(d)),
                        event_type="page_view",
                        key="/pricing",
                        count=int(rng.integers(1, 4)),
                    )
                )
        elif c.account_id is None and rng.random() < 0.5:  # students browse the careers page
            rows.append(
                ContactActivityDaily(
                    contact=c,
                    day=AS_OF - datetime.timedelta(days=5),
                    event_type="page_view",
                    key="/careers",
                    count=2,
                )
            )
    # Activity data starts long before, so the opportunities' 90-day windows are observable.
    rows.append(
        ContactActivityDaily(
            contact=contacts[0],
            account_id=contacts[0].account_id,
            day=OPENED - datetime.timedelta(days=300),
            event_type="email_open",
            count=1,
        )
    )
    ContactActivityDaily.objects.bulk_create(rows)
    return {"champion": champion, "bystander": bystander, "contacts": contacts}


def scores() -> pd.DataFrame:
    return (
        pd.DataFrame.from_records(
            ContactModelScore.objects.values_list(
                "contact_id", "model_id", "persona_fit", "engagement_vs_buyers", "conversion", "scored_at"
            ),
            columns=[
                "contact_id",
                "model_id",
                "persona_fit",
                "engagement_vs_buyers",
                "conversion",
                "scored_at",
            ],
        )
        .set_index("contact_id")
        .sort_index()
    )


def test_persona_fit_learns_buying_teams_and_the_buyers_engagement(db):
    world = persona_world()
    model = L.train_persona_fit(as_of=AS_OF)
    assert (model.kind, model.status) == ("persona_fit", ScoringModelStatus.CHAMPION)
    report = model.metrics
    assert set(report["models"]) == set(L.CV_MODELS) and report["champion"]["family"] in families.CANDIDATES
    assert report["models"]["xgboost"]["roc_auc"] > 0.8
    assert report["rows"] == len(world["contacts"])  # the buying accounts' contacts and the account-less
    assert "persona__revops_champion" in model.features and "title__revenue" in model.features
    assert any(f.startswith("dept_seniority__operations__director") for f in model.features)
    engagement = model.params["engagement_quantiles"]
    assert len(engagement) == L.QUANTILES and engagement == sorted(engagement) and engagement[0] >= 1
    assert model.params["engagement_window_days"] == 90 and model.train_end == AS_OF

    people = pd.DataFrame(
        {
            "persona": ["RevOps Champion", "IT Bystander", None],
            "seniority": ["director", "individual", "entry"],
            "department": ["operations", "it", "other"],
            "title": ["Head of Revenue Operations", "Engineer", "Student"],
        }
    )
    fit = L.persona_fit_predict(model, people)
    assert fit[0] >= fit[1] >= fit[2] and fit[0] > fit[2] and fit.min() >= 0 and fit.max() <= 100
    # The model itself ranks the three strictly (the percentile scale may put two between the same
    # quantiles of the training contacts).
    profiles, codes = L.persona_profiles(people, model.params["spec"])
    probability = families.fitted_of(model).predict(profiles)[codes]
    assert probability[0] > probability[1] > probability[2]
    assert list(L.engagement_vs_buyers(model, [0, 1, 10_000])) == [
        0.0,
        pytest.approx(L.percentile_in([1], engagement)[0] * 100),
        100.0,
    ]


def test_contacts_chunk_score_is_idempotent_and_writes_only_changes(db):
    world = persona_world()
    now = timezone.now()
    ids = [c.pk for c in world["contacts"]]
    low, high = min(ids), max(ids) + 1
    assert L.contacts_chunk_score(low=low, high=high, as_of=AS_OF, now=now)["skipped"]  # no champion yet
    assert not ContactModelScore.objects.exists()

    model = L.train_persona_fit(as_of=AS_OF)
    first = L.contacts_chunk_score(low=low, high=high, as_of=AS_OF, now=now)
    assert first["contacts"] == first["written"] == len(ids) and first["model"] == model.pk
    before = scores()
    assert len(before) == len(ids) and (before["model_id"] == model.pk).all()
    assert (
        before["persona_fit"].between(0, 100).all() and before["engagement_vs_buyers"].between(0, 100).all()
    )
    by_persona = before.join(pd.Series({c.pk: c.persona_id for c in world["contacts"]}, name="persona"))
    means = by_persona.groupby(by_persona["persona"].fillna(0))["persona_fit"].mean()
    assert means[world["champion"].pk] > means[world["bystander"].pk] > means[0]
    # Nobody engaged in the 90 days up to AS_OF but the students: buyers' engagement then was before.
    students = [c.pk for c in world["contacts"] if c.account_id is None]
    assert before.drop(index=students)["engagement_vs_buyers"].eq(0).all()

    again = L.contacts_chunk_score(low=low, high=high, as_of=AS_OF, now=timezone.now())
    assert again["written"] == 0
    pd.testing.assert_frame_equal(scores(), before)  # same rows, same scored_at

    # A lead-conversion score on one row is not the persona scorer's to touch.
    ContactModelScore.objects.filter(contact_id=ids[0]).update(conversion=0.42)
    engineer = next(c for c in world["contacts"] if c.persona_id == world["bystander"].pk)
    Contact.objects.filter(pk=engineer.pk).update(persona=world["champion"], title="VP Revenue Operations")
    active = next(c for c in world["contacts"] if c.persona_id == world["champion"].pk and c.pk != ids[0])
    ContactActivityDaily.objects.create(
        contact=active, account_id=active.account_id, day=AS_OF, event_type="page_view", count=5
    )
    later = timezone.now()
    third = L.contacts_chunk_score(low=low, high=high, as_of=AS_OF, now=later)
    assert third["written"] == 2
    after = scores()
    changed = after.index[(after["scored_at"] != before["scored_at"]).to_numpy()].tolist()
    assert sorted(changed) == sorted([engineer.pk, active.pk])
    assert after.loc[engineer.pk, "persona_fit"] > before.loc[engineer.pk, "persona_fit"]
    assert after.loc[active.pk, "engagement_vs_buyers"] > 0
    assert after.loc[ids[0], "conversion"] == 0.42

    # A new champion rewrites every row with its version.
    newer = L.train_persona_fit(as_of=AS_OF, margin=-1.0)
    assert newer.status == ScoringModelStatus.CHAMPION
    assert L.contacts_chunk_score(low=low, high=high, as_of=AS_OF, now=later)["written"] == len(ids)
    assert (scores()["model_id"] == newer.pk).all()


def test_persona_fit_needs_observable_buying_teams(db):
    with pytest.raises(R.RegistryError, match="no contact activity"):
        L.train_persona_fit(as_of=AS_OF)
    assert not ScoringModel.objects.exists()


def test_percentile_scale():
    q = [1, 1, 2, 3, 10]
    assert list(L.percentile_in([0, 1, 2, 5, 10, 11], q)) == [0.0, 0.2, 0.5, 0.8, 0.9, 1.0]
    assert L.quantiles_of(np.arange(101))[50] == 50 and L.quantiles_of([]) == []


def _cv_frame(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.standard_normal(n) > 0.3).astype(np.int64)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(label=y)
    return frame, ["a", "b", "c", "d"]


def test_cross_validation_folds_in_threads_give_the_report_of_folds_in_turn(monkeypatch):
    """The folds run ``CV_THREADS`` at a time; the report (every fold's figures, the pooled metrics, the
    champion and its bootstrap, the trees) is the same as with one fold after another."""
    frame, columns = _cv_frame()
    monkeypatch.setattr(L, "CV_THREADS", 1)
    in_turn, trees_in_turn = L.cross_validate(frame, columns)
    monkeypatch.setattr(L, "CV_THREADS", 3)
    in_threads, trees = L.cross_validate(frame, columns)
    assert trees == trees_in_turn and in_threads == in_turn
    assert [f["fold"] for f in in_threads["folds"]] == [1, 2, 3, 4, 5]


def test_a_failing_cross_validation_fold_fails_the_training(monkeypatch):
    frame, columns = _cv_frame()
    monkeypatch.setattr(L, "CV_THREADS", 2)
    real = families.fit_plain_xgboost
    calls = []

    def third_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("a fold broke")
        return real(*args, **kwargs)

    monkeypatch.setattr(families, "fit_plain_xgboost", third_fails)
    with pytest.raises(ValueError, match="a fold broke"):
        L.cross_validate(frame, columns)
