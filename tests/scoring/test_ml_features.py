"""Point-in-time features and labels of the in-market model, on a tiny hand-made world."""

import datetime

import pandas as pd
import pytest

from accounts.choices import OpportunityStage
from accounts.ingest import events_ingest
from scoring.learned import features as F
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory, PersonaFactory

AS_OF = datetime.date(2026, 6, 30)


def event(
    n: int, day: datetime.date, *, kind="page_view", url="https://acme.com/blog", topic="", **who
) -> dict:
    item = {"message_id": f"m-{n}", "type": kind, "occurred_at": f"{day.isoformat()}T12:00:00Z", "url": url}
    if topic:
        item["topic"] = topic
    item.update(who)
    return item


@pytest.fixture
def world(member):
    persona = PersonaFactory(name="Marketing leader", required_in_buying_team=True)
    acme = AccountFactory(domain="acme.com", employee_count=500)
    quiet = AccountFactory(domain="quiet.com")
    ada = ContactFactory(account=acme, email="ada@acme.com", persona=persona)
    bob = ContactFactory(account=acme, email="bob@acme.com", seniority="individual")
    day = AS_OF
    items = [
        event(1, day, url="https://acme.com/pricing", contact_email=ada.email),  # age 0
        event(2, day - datetime.timedelta(days=3), url="https://acme.com/pricing", account_domain="acme.com"),
        event(3, day - datetime.timedelta(days=10), kind="intent", topic="revops", account_domain="acme.com"),
        event(4, day - datetime.timedelta(days=40), contact_email=bob.email),  # previous 30 days
        event(5, day - datetime.timedelta(days=40), contact_email=bob.email, url="https://acme.com/about"),
        event(6, day - datetime.timedelta(days=100), kind="demo_request", contact_email=ada.email),
    ]
    events_ingest(actor=member, items=items)
    OpportunityFactory(
        account=acme,
        stage=OpportunityStage.WON,
        created_date=datetime.date(2025, 9, 1),
        close_date=datetime.date(2025, 12, 1),
    )
    return {"acme": acme, "quiet": quiet, "ada": ada, "bob": bob, "member": member}


def test_windows_trends_team_and_history(world):
    frame = F.account_features(as_of=AS_OF)
    acme = frame.loc[world["acme"].pk]
    assert acme["all_7d"] == 2 and acme["all_30d"] == 3 and acme["all_90d"] == 5
    assert acme["intent_30d"] == 1 and acme["intent_topics_30d"] == 1
    assert acme["research_30d"] == 2  # the pricing page twice
    assert acme["known_30d"] == 1  # only Ada's view was by a known contact
    assert acme["all_trend_30d"] == pytest.approx((3 - 2) / (2 + 1))
    assert acme["all_surge_7d"] == pytest.approx((2 / 7) / (5 / 90 + 0.1))
    assert acme["all_days_since"] == 0 and acme["intent_days_since"] == 10
    assert acme["high_intent_90d"] == 0 and acme["demo_request_90d"] == 0  # the demo request is 100 days old
    assert acme["engaged_contacts_30d"] == 1 and acme["engaged_contacts_90d"] == 2
    assert acme["required_persona_coverage_30d"] == 1.0
    assert acme["opportunities"] == 1 and acme["opportunities_won"] == 1 and acme["customer"] == 1
    assert acme["days_since_won"] == (AS_OF - datetime.date(2025, 12, 1)).days
    assert acme["log_employees"] == pytest.approx(6.2166, abs=1e-3)
    quiet = frame.loc[world["quiet"].pk]
    assert quiet["all_90d"] == 0 and quiet["all_days_since"] == F.NONE_DAYS and quiet["opportunities"] == 0
    assert frame.attrs["data_through"] == AS_OF


def test_data_after_as_of_changes_nothing(world):
    pending = OpportunityFactory(
        account=world["quiet"],
        stage=OpportunityStage.NEGOTIATION,
        created_date=AS_OF - datetime.timedelta(days=20),
        close_date=None,
    )
    before = F.account_features(as_of=AS_OF)
    later = AS_OF + datetime.timedelta(days=1)
    events_ingest(
        actor=world["member"],
        items=[
            event(100, later, kind="demo_request", contact_email=world["ada"].email),
            event(
                101,
                later + datetime.timedelta(days=5),
                kind="intent",
                topic="abm",
                account_domain="quiet.com",
            ),
        ],
    )
    OpportunityFactory(account=world["quiet"], created_date=later)
    OpportunityFactory(
        account=world["acme"], stage=OpportunityStage.WON, created_date=later, close_date=later
    )
    # The deal opened before as_of is lost after it: the outcome was not known at as_of.
    pending.stage, pending.close_date = OpportunityStage.LOST, later
    pending.save()
    after = F.account_features(as_of=AS_OF)
    pd.testing.assert_frame_equal(before, after)
    assert after.loc[world["quiet"].pk, "opportunities"] == 1
    assert after.loc[world["quiet"].pk, "opportunities_lost"] == 0
    assert after.attrs["data_through"] <= AS_OF
    # … and a day later they are all there.
    moved = F.account_features(as_of=later + datetime.timedelta(days=5))
    assert moved.loc[world["quiet"].pk, "opportunities_lost"] == 1
    assert moved.loc[world["quiet"].pk, "intent_7d"] == 1


def test_labels_count_openings_inside_the_horizon_only(world):
    acme, quiet = world["acme"], world["quiet"]
    OpportunityFactory(account=acme, created_date=AS_OF)  # on as_of: not in (as_of, as_of + h]
    OpportunityFactory(account=quiet, created_date=AS_OF + datetime.timedelta(days=90))
    y = F.labels(as_of=AS_OF, horizon_days=90)
    assert y.loc[acme.pk] == 0 and y.loc[quiet.pk] == 1
    assert F.labels(as_of=AS_OF, horizon_days=89).loc[quiet.pk] == 0


def test_snapshots_leave_out_accounts_with_an_open_opportunity(world):
    acme, quiet = world["acme"], world["quiet"]
    OpportunityFactory(
        account=acme, stage=OpportunityStage.ENGAGING, created_date=datetime.date(2026, 5, 1), close_date=None
    )
    OpportunityFactory(account=quiet, created_date=datetime.date(2026, 7, 15))
    rows = F.snapshots(dates=[datetime.date(2026, 4, 30), AS_OF])
    at = {d: set(g["account_id"]) for d, g in rows.groupby("as_of")}
    assert at[datetime.date(2026, 4, 30)] == {acme.pk, quiet.pk}
    assert at[AS_OF] == {quiet.pk}  # acme's deal is open at as_of
    label = rows.set_index(["as_of", "account_id"])["label"]
    assert label[(AS_OF, quiet.pk)] == 1 and label[(datetime.date(2026, 4, 30), acme.pk)] == 1
    # Snapshots give the same features as one account_features call for that date, given the same
    # per-key columns (a trained model records them).
    assert rows.attrs["top_keys"]
    single = F.account_features(as_of=AS_OF, top_keys=rows.attrs["top_keys"]).loc[[quiet.pk]]
    assert list(single.columns) == [c for c in rows.columns if c not in ("as_of", "account_id", "label")]
    from_snapshots = rows[rows["as_of"] == AS_OF].set_index("account_id")[single.columns]
    pd.testing.assert_frame_equal(from_snapshots, single, check_names=False)


def test_snapshot_dates_step_back_from_the_end():
    dates = F.snapshot_dates(start=datetime.date(2026, 1, 1), end=datetime.date(2026, 3, 31), every_days=30)
    assert dates == [datetime.date(2026, 1, 30), datetime.date(2026, 3, 1), datetime.date(2026, 3, 31)]
