"""Lead conversion from a CRM export: cross-validated models, identifying columns dropped, a leakage
warning, contacts scored — and every bad input refused with a clear error, changing nothing."""

import datetime
import io
import json

import numpy as np
import pandas as pd
import pytest
import xgboost
from django.core.management import CommandError, call_command

from accounts.models import Account, Contact, ContactActivityDaily, Opportunity
from scoring.ml import families
from scoring.ml import leads as LD
from scoring.ml import lookalike as L
from scoring.models import ContactModelScore, ScoringModel, ScoringModelStatus
from tests.accounts.factories import ContactFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def export(rows: int = 240, seed: int = 3, leaky: bool = False) -> pd.DataFrame:
    """Leads whose industry and company size (mostly) decide whether they converted."""
    rng = np.random.default_rng(seed)
    industry = rng.choice(["software", "fintech", "retail", "mining"], rows)
    size = rng.integers(10, 5000, rows)
    likely = np.isin(industry, ["software", "fintech"]) & (size > 300)
    converted = np.where(likely, rng.random(rows) < 0.8, rng.random(rows) < 0.1)
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{1000 + i}" for i in range(rows)],
            "Email": [f"lead{i}@corp{i}.com" for i in range(rows)],
            "first_name": rng.choice(["Ada", "Bob", "Cy", "Di"], rows),
            "company_size": size,
            "industry": industry,
            "source": rng.choice(["webinar", "ads", "referral", ""], rows),
            "notes": [f"called on day {i}, left a message about {rng.integers(1e6)}" for i in range(rows)],
            "region": "EMEA",
            "converted": np.where(converted, "Yes", "No"),
        }
    )
    if leaky:  # filled in by sales once the lead converted, with a few typos
        frame["deal_stage"] = np.where(converted ^ (rng.random(rows) < 0.02), "closed", "")
    return frame


def write(tmp_path, frame: pd.DataFrame, name: str = "leads.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def run(path, *args) -> dict:
    out = io.StringIO()
    call_command("train_leads", str(path), *args, "--json", verbosity=0, stdout=out)
    return json.loads(out.getvalue())


def test_the_command_trains_reports_registers_and_scores_contacts(db, tmp_path):
    frame = export()
    path = write(tmp_path, frame)
    known = [ContactFactory(email=frame["Email"][i]) for i in (0, 1, 2)]
    scored = ContactModelScore.objects.create(
        contact=known[2],
        persona_fit=55,
        engagement_vs_buyers=12,
        scored_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    bystander = ContactFactory(email="someone@else.com")

    summary = run(path, "--target", "converted", "--id-column", "lead_id", "--folds", "4")
    model = ScoringModel.objects.get()
    assert (summary["kind"], summary["version"], summary["status"]) == ("lead_conversion", 1, "champion")
    assert model.kind == "lead_conversion" and model.status == ScoringModelStatus.CHAMPION
    report = summary["report"]
    assert report["models"] == model.metrics["models"]
    assert set(report["models"]) == set(L.CV_MODELS) and report["champion"]["family"] in families.CANDIDATES
    for values in report["models"].values():
        assert values["roc_auc"] > 0.7 and 0 <= values["brier"] <= 1
    assert len(report["folds"]) == 4 and report["rows"] == 240
    dropped = {d["column"]: d["reason"] for d in report["dropped"]}
    assert dropped["lead_id"] == "the id column"
    assert "e-mail" in dropped["Email"] and "identifies a person" in dropped["first_name"]
    assert dropped["notes"].startswith("free text") and dropped["region"].startswith("constant")
    assert report["columns_used"] == {"numeric": ["company_size"], "categorical": ["industry", "source"]}
    assert "num__company_size" in model.features and "cat__industry__software" in model.features
    assert "cat__source__blank" in model.features
    assert not report["leakage_warnings"]
    assert model.params["encoding"]["email_column"] == "Email"

    assert report["contacts"] == {"email_column": "Email", "matched": 3, "written": 3}
    rows = {s.contact_id: s for s in ContactModelScore.objects.all()}
    assert set(rows) == {c.pk for c in known} and bystander.pk not in rows
    # Each contact gets the final model's probability for its own export row (the booster straight from
    # the artefact, on the export encoded as the model was).
    booster = xgboost.Booster()
    booster.load_model(bytearray(model.artefact))
    encoded = LD.prepare(LD.read_export(path), target="converted", id_column="lead_id").frame
    matrix = xgboost.DMatrix(
        encoded[list(model.features)].to_numpy(dtype=np.float32),
        missing=model.params.get("missing", np.nan),
        feature_names=list(model.features),
    )
    expected = booster.predict(matrix)
    assert len(set(np.round(expected[:3], 3))) == 3  # three different probabilities: a mix-up shows
    for i, contact in enumerate(known):
        assert rows[contact.pk].conversion_model_id == model.pk
        assert rows[contact.pk].conversion == pytest.approx(float(expected[i]), abs=1e-5)
    assert rows[known[0].pk].model_id is None and rows[known[0].pk].persona_fit == 0
    assert (rows[scored.pk].persona_fit, rows[scored.pk].engagement_vs_buyers) == (55, 12)  # left alone

    # A retrain that does not beat the champion is a challenger and leaves the contacts' scores alone.
    before = sorted(ContactModelScore.objects.values_list("contact_id", "conversion", "conversion_model_id"))
    again = run(path, "--target", "converted", "--id-column", "lead_id", "--folds", "4")
    assert again["status"] == "challenger" and "does not beat champion v1" in again["reason"]
    assert again["report"]["contacts"]["written"] == 0 and "challenger" in again["report"]["contacts"]["note"]
    assert (
        sorted(ContactModelScore.objects.values_list("contact_id", "conversion", "conversion_model_id"))
        == before
    )


def test_a_column_that_knows_the_answer_is_flagged(db, tmp_path):
    path = write(tmp_path, export(leaky=True))
    report = run(path, "--target", "converted")["report"]
    flagged = {w["column"] for w in report["leakage_warnings"]}
    assert flagged == {"deal_stage"}
    assert all(w["auc"] > 0.95 and "predicts the flag" in w["warning"] for w in report["leakage_warnings"])
    # Without --id-column the unique ids are dropped as free text all the same.
    assert {d["column"] for d in report["dropped"]} >= {"lead_id", "Email", "first_name", "notes"}


@pytest.mark.parametrize(
    "values",
    [
        ("1", "0"),
        ("true", "false"),
        ("TRUE", "False"),
        ("yes", "no"),
        ("converted", "not converted"),
        ("Y", "N"),
    ],
)
def test_accepted_flags(values):
    parsed = LD.parse_target(pd.Series([values[0], values[1], values[0]]), "converted")
    assert parsed.tolist() == [1, 0, 1]


def bad_inputs(tmp_path) -> dict:
    good = export()
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("email,converted\n")
    (tmp_path / "blank_lines.csv").write_text("\n\n\n")
    return {
        "missing file": (tmp_path / "nope.csv", ["--target", "converted"], "no such file"),
        "empty file": (tmp_path / "empty.csv", ["--target", "converted"], "empty"),
        "blank lines": (tmp_path / "blank_lines.csv", ["--target", "converted"], "empty"),
        "header only": (tmp_path / "header.csv", ["--target", "converted"], "no rows"),
        "missing target": (
            write(tmp_path, good, "a.csv"),
            ["--target", "won"],
            "target column 'won' is not in the file; its columns are: lead_id, Email, first_name",
        ),
        "missing id column": (
            write(tmp_path, good, "b.csv"),
            ["--target", "converted", "--id-column", "uid"],
            "id column 'uid'",
        ),
        "not binary": (
            write(tmp_path, good.assign(converted=np.where(np.arange(240) % 3, "yes", "maybe")), "c.csv"),
            ["--target", "converted"],
            "not a yes/no flag: 1 other value(s) ('maybe')",
        ),
        "blank target": (
            write(
                tmp_path, good.assign(converted=np.where(np.arange(240) == 5, "", good["converted"])), "d.csv"
            ),
            ["--target", "converted"],
            "empty on 1 line(s): 7",
        ),
        "one class": (
            write(tmp_path, good.assign(converted="no"), "e.csv"),
            ["--target", "converted"],
            "one class only",
        ),
        "too few rows": (
            write(tmp_path, good.head(49), "f.csv"),
            ["--target", "converted"],
            "too few rows to learn from: 49",
        ),
        "only identifying columns": (
            write(tmp_path, good[["lead_id", "Email", "converted"]], "g.csv"),
            ["--target", "converted"],
            "no usable attribute",
        ),
    }


CASES = [
    "missing file",
    "empty file",
    "blank lines",
    "header only",
    "missing target",
    "missing id column",
    "not binary",
    "blank target",
    "one class",
    "too few rows",
    "only identifying columns",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_and_changes_nothing(db, tmp_path, case):
    path, args, message = bad_inputs(tmp_path)[case]
    ContactFactory(email="lead0@corp0.com")
    with pytest.raises(CommandError) as raised:
        run(path, *args)
    assert message in str(raised.value) and "nothing was written" in str(raised.value)
    assert not ScoringModel.objects.exists() and not ContactModelScore.objects.exists()


# --- the demo export -----------------------------------------------------------------------------------
END = datetime.date(2026, 6, 30)


def demo_world(n: int = 70, seed: int = 5) -> dict:
    """Contacts with a first activity; half of their accounts open an opportunity 30 days later."""
    rng = np.random.default_rng(seed)
    accounts = Account.objects.bulk_create(
        [
            Account(
                name=f"Co {i}",
                domain=f"co{i}.com",
                industry=["software", "retail"][i % 2],
                employee_count=100 + i,
                custom={"tier": "gold" if i % 2 == 0 else "silver"},
            )
            for i in range(n)
        ]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                account=a,
                email=f"ann@{a.domain}",
                first_name="Ann",
                last_name=f"Lee{i}",
                title="VP Marketing",
                seniority="vp",
                department="marketing",
                custom={"Lead Source": "webinar"},
            )
            for i, a in enumerate(accounts)
        ]
        + [Contact(email="late@gmail.com", title="Student")]
    )
    first = [END - datetime.timedelta(days=int(d)) for d in rng.integers(100, 300, n)]
    ContactActivityDaily.objects.bulk_create(
        [
            ContactActivityDaily(
                contact=c,
                account_id=c.account_id,
                day=d,
                event_type=["demo_request", "page_view"][i % 2],
                count=1,
            )
            for i, (c, d) in enumerate(zip(contacts, first, strict=False))
        ]
        + [
            ContactActivityDaily(
                contact=contacts[-1], day=END - datetime.timedelta(days=10), event_type="page_view", count=1
            )
        ]
    )
    opens = [i for i in range(n) if i % 2 == 0]
    Opportunity.objects.bulk_create(
        [
            Opportunity(account=accounts[i], name="Deal", created_date=first[i] + datetime.timedelta(days=30))
            for i in opens
        ]
        # an opportunity long after the window does not count
        + [
            Opportunity(
                account=accounts[1], name="Later", created_date=first[1] + datetime.timedelta(days=95)
            )
        ]
    )
    return {"contacts": contacts, "opens": opens}


def test_demo_leads_export_defines_converted_honestly_and_trains(db, tmp_path, monkeypatch):
    world = demo_world()
    monkeypatch.setattr(LD.B, "data_end", lambda: END)
    out = tmp_path / "demo.csv"
    stdout = io.StringIO()
    call_command("export_demo_leads", str(out), "--seed", "4", stdout=stdout)
    assert "70 leads (35 converted)" in stdout.getvalue()
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(frame) == 70  # the contact first seen 10 days ago: too recent to know
    assert {
        "lead_id",
        "email",
        "title",
        "industry",
        "employees",
        "first_touch",
        "custom_lead_source",
        "account_custom_tier",
        "converted",
    } <= set(frame.columns)
    assert frame["lead_id"].is_unique and set(frame["converted"]) == {"true", "false"}
    expected = {f"ann@co{i}.com" for i in world["opens"]}
    assert set(frame.loc[frame["converted"] == "true", "email"]) == expected
    assert frame.set_index("email").loc["ann@co0.com", "first_touch"] == "demo_request"
    again = tmp_path / "again.csv"
    call_command("export_demo_leads", str(again), "--seed", "4", stdout=io.StringIO())
    assert again.read_text() == out.read_text()  # deterministic for a seed

    summary = run(out, "--target", "converted", "--id-column", "lead_id", "--folds", "3")
    assert summary["status"] == "champion" and summary["report"]["contacts"]["matched"] == 70
    assert ContactModelScore.objects.filter(conversion__isnull=False).count() == 70


def test_the_command_prints_a_readable_report(db, tmp_path):
    out = io.StringIO()
    call_command("train_leads", str(write(tmp_path, export(leaky=True))), "--target", "converted", stdout=out)
    text = out.getvalue()
    assert "lead_conversion v1 (champion)" in text and "xgboost" in text and "naive_bayes" in text
    assert "LEAKAGE? cat__deal_stage__closed" in text and "dropped Email: e-mail addresses" in text
    assert "contacts: 0 matched by Email, 0 written" in text
