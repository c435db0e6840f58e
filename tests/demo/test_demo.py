"""seed_demo: a deterministic, realistic world whose ground truth is the best possible score."""

import datetime as dt
from collections import Counter, defaultdict
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Min
from sklearn.metrics import roc_auc_score

from accounts.choices import OpportunityStage
from accounts.models import (
    Account,
    AccountActivityDaily,
    Campaign,
    CampaignCost,
    CampaignKey,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
    Opportunity,
    Persona,
    Product,
    SalesAgent,
    Technology,
)
from accounts.normalize import activity_key
from campaigns.models import CampaignAudience, CampaignGroundTruth, CampaignTarget, Segment
from demo import catalogue as cat
from demo import generator as gen
from revops.choices import TeamKind
from revops.models import JobRun, Team
from scoring.models import DemoGroundTruth

END = dt.date(2025, 6, 30)
SMALL = 60


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, "--end-date", END.isoformat(), "-v", "0", stdout=out)
    return out.getvalue()


def outcomes(spec: gen.Spec, gt: pd.DataFrame, opened: pd.DataFrame) -> pd.DataFrame:
    """Ground-truth rows whose 90-day window lies inside the period, with what actually happened."""
    days = {account: sorted(group) for account, group in opened.groupby("account")["day"]}
    rows = gt.assign(day=[(d - spec.start).days for d in gt["as_of"]])
    rows = rows[rows["day"] + gen.HORIZON <= spec.days].copy()
    rows["opened"] = [
        any(day <= d < day + gen.HORIZON for d in days.get(account, ()))
        for account, day in zip(rows["account"], rows["day"], strict=True)
    ]
    return rows


# --- the generator, without a database --------------------------------------------------------
def test_generator_is_deterministic_per_seed():
    spec = gen.Spec(accounts=150, seed=3, end=END)
    first = list(gen.generate(spec))
    again = list(gen.generate(spec))
    for a, b in zip(first, again, strict=True):
        for name in ("accounts", "contacts", "opportunities", "events", "account_daily", "ground_truth"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    other = next(gen.generate(gen.Spec(accounts=150, seed=4, end=END)))
    assert not first[0].accounts["domain"].equals(other.accounts["domain"])
    assert not first[0].events.equals(other.events)


def test_ground_truth_is_calibrated_and_ranks_the_outcomes():
    """The closed-form propensity matches the simulated frequency, and ranks well (the best model)."""
    spec = gen.Spec(accounts=1500, seed=11, end=END)
    chunk = next(gen.generate(spec))
    opened = chunk.opportunities.rename(columns={"created_day": "day"})
    rows = outcomes(spec, chunk.ground_truth, opened)
    assert len(rows) > 10_000 and rows["opened"].sum() > 500
    assert abs(rows["propensity"].mean() - rows["opened"].mean()) < 0.015
    for lo, hi in [(0.0, 0.1), (0.1, 0.3), (0.3, 1.0)]:
        band = rows[(rows["propensity"] >= lo) & (rows["propensity"] < hi)]
        assert abs(band["propensity"].mean() - band["opened"].mean()) < 0.04, (lo, hi)
    auc = roc_auc_score(rows["opened"], rows["propensity"])
    assert auc > 0.8
    # Fit alone is informative but leaves a lot to the in-market signal.
    assert roc_auc_score(rows["opened"], rows["fit"]) < auc - 0.05


def test_signals_precede_opportunities():
    """Intent and high-value engagement in the 30 days before an opening far exceed the baseline."""
    spec = gen.Spec(accounts=1000, seed=5, end=END)
    chunk = next(gen.generate(spec))
    ev = chunk.events[chunk.events["account"] >= 0]
    tpl = chunk_templates(spec)
    kind = tpl["event_type"].to_numpy()[ev["template"].to_numpy()]
    key = tpl["key"].to_numpy()[ev["template"].to_numpy()]
    signal = (kind == "intent") | (key == "/pricing") | np.isin(kind, ["demo_request", "free_trial"])
    per_day = np.zeros((len(chunk.accounts), spec.days))
    np.add.at(per_day, (ev["account"].to_numpy()[signal], ev["day"].to_numpy()[signal]), 1)
    opps = chunk.opportunities[(chunk.opportunities["created_day"] >= 30)]
    before = np.mean(
        [per_day[a, d - 30 : d].sum() / 30 for a, d in zip(opps["account"], opps["created_day"], strict=True)]
    )
    assert before > 3 * per_day.mean()


def chunk_templates(spec: gen.Spec) -> pd.DataFrame:
    return gen.make_plan(spec).templates


def test_rollups_are_a_group_by_of_the_events_with_ingestion_keys():
    spec = gen.Spec(accounts=80, seed=9, end=END)
    plan = gen.make_plan(spec)
    chunk = gen.generate_chunk(plan, 0)
    tpl = plan.templates
    ev = chunk.events.assign(
        day=chunk.events["ts"] // 86_400,
        type=tpl["type_code"].to_numpy()[chunk.events["template"]],
        key=[
            activity_key(event_type=e, url=u, topic=t)
            for e, u, t in tpl.loc[chunk.events["template"], ["event_type", "url", "topic"]].itertuples(
                index=False
            )
        ],
    )
    keys = sorted(set(tpl["key"]))
    expected = (
        ev[ev["account"] >= 0]
        .assign(known=lambda f: (f["contact"] >= 0).astype(int))
        .groupby(["account", "day", "type", "key"])
        .agg(count=("known", "size"), known=("known", "sum"))
        .reset_index()
    )
    got = chunk.account_daily.assign(key=[keys[k] for k in chunk.account_daily["key"]])
    merged = expected.merge(got, on=["account", "day", "type", "key"], how="outer", suffixes=("_e", "_g"))
    assert len(merged) == len(expected) == len(got)
    assert (merged["count_e"] == merged["count_g"]).all() and (merged["known_e"] == merged["known_g"]).all()
    assert chunk.contact_daily["count"].sum() == (chunk.events["contact"] >= 0).sum()


# --- the command, on a database ---------------------------------------------------------------
SNAPSHOT = {
    Account: [
        "id",
        "name",
        "domain",
        "industry",
        "employee_count",
        "annual_revenue",
        "country",
        "parent_id",
        "created",
    ],
    Contact: ["id", "account_id", "email", "title", "persona_id", "lifecycle_stage"],
    Opportunity: [
        "id",
        "account_id",
        "amount",
        "stage",
        "created_date",
        "close_date",
        "channel_id",
        "source_campaign_id",
    ],
    EngagementEvent: [
        "id",
        "message_id",
        "event_type",
        "occurred_at",
        "account_id",
        "contact_id",
        "url",
        "campaign_id",
    ],
    AccountActivityDaily: ["id", "account_id", "day", "event_type", "key", "count", "known_count"],
    ContactActivityDaily: ["id", "contact_id", "day", "key", "count"],
    DemoGroundTruth: ["id", "account_id", "as_of", "propensity", "fit", "in_market"],
    Campaign: ["id", "name", "start_date", "end_date", "cost", "budget", "owner_team_id"],
    CampaignTarget: ["id", "campaign_id", "segment_id", "holdout_share", "seed", "launched_at"],
    CampaignAudience: ["id", "campaign_id", "account_id", "group", "assigned_at"],
    CampaignGroundTruth: ["campaign_id", "engagement_lift", "cycle_multiplier", "note"],
    CampaignCost: ["id", "campaign_id", "month", "amount"],
    CampaignKey: ["id", "campaign_id", "kind", "value"],
    Segment: ["id", "name", "criteria", "owner_team_id"],
}


def snapshot() -> dict:
    return {model: list(model.objects.order_by("pk").values_list(*cols)) for model, cols in SNAPSHOT.items()}


def wipe() -> None:
    Account.objects.all().delete()
    Contact.objects.all().delete()  # the junk has no account; its events go with it
    for model in (Campaign, Segment, Product, SalesAgent, Persona, Technology):
        model.objects.all().delete()


@pytest.fixture
def world(db):
    seed("--accounts", str(SMALL), "--seed", "7")
    return gen.Spec(accounts=SMALL, seed=7, end=END)


def test_same_seed_same_rows_ids_included_and_another_seed_differs(world):
    first = snapshot()
    assert len(first[EngagementEvent]) > SMALL * 40
    wipe()
    seed("--accounts", str(SMALL), "--seed", "7")
    assert snapshot() == first
    wipe()
    seed("--accounts", str(SMALL), "--seed", "8")
    other = snapshot()
    assert other[Account] != first[Account] and other[EngagementEvent] != first[EngagementEvent]


def test_reference_data_and_teams(world):
    assert 6 <= Persona.objects.count() <= 8
    assert Persona.objects.filter(required_in_buying_team=True).count() == 4
    assert Technology.objects.count() >= 40 and Technology.objects.filter(category="CRM").exists()
    assert 3 <= Product.objects.count() <= 5 and not Product.objects.filter(list_price__isnull=True).exists()
    assert SalesAgent.objects.count() == 20 and not SalesAgent.objects.filter(manager="").exists()
    assert set(Team.objects.values_list("kind", flat=True)) == set(TeamKind.values)
    campaigns = Campaign.objects.all()
    assert 20 <= len(campaigns) <= 40
    assert {c.channel.slug for c in campaigns} == set(cat.CHANNELS)
    assert all(c.owner_team_id and c.start_date <= c.end_date and c.cost > 0 for c in campaigns)
    running = [c for c in campaigns if c.end_date >= END]  # still running: planned past the period's end
    assert 2 <= len(running) < len(campaigns) and all(c.start_date < END for c in running)
    job = JobRun.objects.get(kind="seed_demo")
    assert job.status == "succeeded" and job.progress == SMALL


def test_accounts_and_buying_teams_are_realistic(world):
    accounts = list(Account.objects.prefetch_related("technologies"))
    assert len({a.domain for a in accounts}) == SMALL
    assert all(2 <= len(a.technologies.all()) <= 8 for a in accounts)
    assert all(
        a.employee_count > 0 and a.annual_revenue > 0 and 1900 < a.founded_year <= END.year for a in accounts
    )
    personas = {p.id: p for p in Persona.objects.all()}
    team_sizes = Counter(Contact.objects.filter(persona__isnull=False).values_list("account_id", flat=True))
    assert set(team_sizes) == {a.id for a in accounts}
    assert all(6 <= size <= 10 for size in team_sizes.values())
    for contact in Contact.objects.filter(persona__isnull=False):
        persona = personas[contact.persona_id]
        assert any(t in contact.title.lower() for t in persona.match_titles), contact.title
        assert (
            contact.seniority in persona.match_seniorities and contact.department in persona.match_departments
        )
        assert contact.email.endswith("@" + contact.account.domain)
    junk = Contact.objects.filter(account__isnull=True)
    assert junk.count() > SMALL
    assert set(junk.values_list("lifecycle_stage", flat=True)) == {"disqualified"}
    free = junk.filter(email__endswith="@gmail.com") | junk.filter(email__endswith="@yahoo.com")
    assert free.exists()
    assert junk.filter(title__in=["Student", "MBA Candidate", "Intern"]).exists()
    assert junk.filter(title__in=["Independent Consultant", "Freelance Advisor"]).exists()
    assert junk.filter(title="Looking for new opportunities").exists()
    assert Contact.objects.values("email").distinct().count() == Contact.objects.count()


def test_opportunities_are_consistent(world):
    opps = list(Opportunity.objects.select_related("channel"))
    assert len(opps) > SMALL // 3
    campaign_touch = defaultdict(lambda: dt.date.max)
    for account, campaign, occurred in EngagementEvent.objects.filter(campaign__isnull=False).values_list(
        "account_id", "campaign_id", "occurred_at"
    ):
        campaign_touch[account, campaign] = min(campaign_touch[account, campaign], occurred.date())
    for o in opps:
        assert o.amount > 0 and o.product_id and o.sales_agent_id and o.channel.slug in cat.CHANNELS
        assert o.created_date < END and o.close_date >= o.created_date
        if o.stage in (OpportunityStage.WON, OpportunityStage.LOST):
            assert o.close_date < END and o.engaged_date is not None
        else:
            assert o.close_date >= END
            assert (o.engaged_date is None) == (o.stage == OpportunityStage.PROSPECTING)
        if o.engaged_date:
            assert o.created_date <= o.engaged_date <= o.close_date
        if o.source_campaign_id:
            assert campaign_touch[o.account_id, o.source_campaign_id] < o.created_date
    stages = Counter(o.stage for o in opps)
    assert stages["won"] and stages["lost"] and stages["won"] < stages["lost"]


def test_lifecycle_stages_follow_the_deals(world):
    won = set(Opportunity.objects.filter(stage="won").values_list("account_id", flat=True))
    open_ = set(Opportunity.objects.exclude(stage__in=["won", "lost"]).values_list("account_id", flat=True))
    for account_id, stage in Contact.objects.filter(account__isnull=False).values_list(
        "account_id", "lifecycle_stage"
    ):
        if stage == "customer":
            assert account_id in won
        if stage == "opportunity":
            assert account_id in open_
    assert Contact.objects.filter(lifecycle_stage="customer").exists()


def test_lifecycle_history_leads_each_contact_to_its_stage_within_the_period(world):
    """The demo's contacts come with dated moves (so the funnel has a past): each contact's moves are a
    path from lead to its current stage — up the funnel one stage at a time, or to recycled or
    disqualified — dated within the period, in order; deals date the opportunity and customer moves."""
    from scoring.metrics import lifecycle_funnel
    from scoring.models import LifecycleTransition

    funnel = ["lead", "mql", "sal", "sql", "opportunity", "customer"]
    moves: dict[int, list] = {}
    for contact_id, source, target, at in LifecycleTransition.objects.order_by(
        "contact_id", "at", "id"
    ).values_list("contact_id", "from_stage", "to_stage", "at"):
        moves.setdefault(contact_id, []).append((source, target, at))
    stages = dict(Contact.objects.values_list("id", "lifecycle_stage"))
    start = dt.datetime.combine(world.start, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(world.end, dt.time(23, 59), tzinfo=dt.UTC)
    for contact_id, stage in stages.items():
        path = moves.get(contact_id, [])
        if stage == "lead":
            assert path == []
            continue
        assert path and path[0][0] == "lead" and path[-1][1] == stage, (contact_id, stage, path)
        assert all(a[1] == b[0] for a, b in zip(path[:-1], path[1:], strict=True)), (
            path
        )  # each move starts where the last ended
        assert all(start <= at <= end for _, _, at in path)
        assert [at for *_, at in path] == sorted(at for *_, at in path)
        if stage in funnel:
            assert [target for _, target, _ in path] == funnel[1 : funnel.index(stage) + 1]
    # A contact becomes a customer when its account's deal is won (or later: people join afterwards).
    won_days = {}
    for account_id, closed in Opportunity.objects.filter(stage="won").values_list("account_id", "close_date"):
        won_days[account_id] = min(closed, won_days.get(account_id, closed))
    customers = Contact.objects.filter(lifecycle_stage="customer").values_list("id", "account_id")
    became = {c: moves[c][-1][2].date() for c, _ in customers}
    assert all(became[c] >= max(won_days[a], world.start) for c, a in customers)  # not before the win
    assert sum(became[c] == won_days[a] for c, a in customers) >= len(customers) // 3  # mostly on it
    # Contacts are created when they first show up, through the period, before any move or activity.
    created = dict(Contact.objects.values_list("id", "created"))
    assert min(created.values()) >= start and max(created.values()) <= end
    assert len({c.date() for c in created.values()}) > 100
    assert all(created[c] <= path[0][2] for c, path in moves.items())
    first_event = dict(
        EngagementEvent.objects.filter(contact__isnull=False)
        .values("contact")
        .annotate(first=Min("occurred_at"))
        .values_list("contact", "first")
    )
    assert all(created[c] <= at for c, at in first_event.items())
    # The funnel has entries at every step up to the customer, also in the last 90 days, and conversions.
    for since in (world.start, world.end - dt.timedelta(days=90)):
        steps = lifecycle_funnel(since=since, until=world.end)["steps"]
        assert all(step["entered"] > 0 for step in steps[:5]), steps
        assert steps[0]["converted"] > 0 if since == world.start else any(s["converted"] for s in steps)


def test_events_and_rollups_in_the_database(world):
    events = list(
        EngagementEvent.objects.values_list(
            "account_id", "contact_id", "occurred_at", "event_type", "url", "topic"
        )
    )
    assert all(a is not None or c is not None for a, c, *_ in events)
    assert any(a is not None and c is None for a, c, *_ in events)  # anonymous, resolved to the account
    assert any(a is None for a, *_ in events)  # free-mail sign-ups and other junk
    assert EngagementEvent.objects.filter(
        event_type="intent", source="third_party", contact__isnull=True
    ).exists()
    assert EngagementEvent.objects.filter(campaign__isnull=False).exists()
    start = world.start
    assert all(start <= o.date() < END for _, _, o, *_ in events)

    expected: Counter = Counter()
    known: Counter = Counter()
    per_contact: Counter = Counter()
    for account, contact, occurred, event_type, url, topic in events:
        key = activity_key(event_type=event_type, url=url, topic=topic)
        day = occurred.astimezone(dt.UTC).date()
        if account is not None:
            expected[account, day, event_type, key] += 1
            known[account, day, event_type, key] += contact is not None
        if contact is not None:
            per_contact[contact, day, event_type, key] += 1
    got = {
        (a, d, e, k): (c, kn)
        for a, d, e, k, c, kn in AccountActivityDaily.objects.values_list(
            "account_id", "day", "event_type", "key", "count", "known_count"
        )
    }
    assert got == {k: (v, known[k]) for k, v in expected.items()}
    got_contacts = {
        (c, d, e, k): n
        for c, d, e, k, n in ContactActivityDaily.objects.values_list(
            "contact_id", "day", "event_type", "key", "count"
        )
    }
    assert got_contacts == dict(per_contact)


def test_ground_truth_in_the_database(world):
    gt = pd.DataFrame(DemoGroundTruth.objects.values("account_id", "as_of", "propensity", "fit", "in_market"))
    assert len(gt) == SMALL * len(world.as_of_dates)
    assert gt["propensity"].between(0, 1).all() and gt["fit"].between(0, 1).all()
    assert (DemoGroundTruth.objects.values_list("horizon_days", flat=True).distinct()).get() == 90
    opened = pd.DataFrame(
        [
            (a, (d - world.start).days)
            for a, d in Opportunity.objects.values_list("account_id", "created_date")
        ],
        columns=["account", "day"],
    )
    rows = outcomes(world, gt.rename(columns={"account_id": "account"}), opened)
    assert rows["opened"].any() and not rows["opened"].all()
    assert rows.loc[rows["opened"], "propensity"].mean() > rows.loc[~rows["opened"], "propensity"].mean()
    assert roc_auc_score(rows["opened"], rows["propensity"]) > 0.7
    in_market = gt[gt["in_market"]]
    assert len(in_market) and in_market["propensity"].mean() > gt["propensity"].mean()


def test_if_empty_refusal_and_append(world):
    assert "nothing to do" in seed("--accounts", "5", "--if-empty")
    assert Account.objects.count() == SMALL
    with pytest.raises(CommandError, match="already has 60 accounts"):
        seed("--accounts", "5")
    # A different seed may reuse names: the writer renames what is taken.
    seed("--accounts", "25", "--seed", "8", "--append")
    assert Account.objects.count() == SMALL + 25
    assert Account.objects.values("domain").distinct().count() == SMALL + 25
    assert Account.objects.create(name="After the seed", domain="after-the-seed.example").pk > SMALL + 25
    assert EngagementEvent.objects.values("message_id").distinct().count() == EngagementEvent.objects.count()


def test_bulk_load_rebuilds_every_index_and_constraint(db):
    """On PostgreSQL the big tables load without their indexes, which must all come back as they were."""
    if connection.vendor != "postgresql":
        pytest.skip("the bulk load path is PostgreSQL's")

    def indexes() -> list:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2, 3"
            )
            return cursor.fetchall()

    before = indexes()
    seed("--accounts", "10", "--seed", "3")
    assert indexes() == before
    assert EngagementEvent.objects.exists()


def test_plain_path_with_foreign_key_checks(db, monkeypatch):
    """Without superuser rights (or into non-empty tables) every chunk commits with checks on."""
    from demo.writer import DemoWriter

    prepare = DemoWriter.prepare

    def as_plain_user(self):
        prepare(self)
        self.skip_fk_checks = False

    monkeypatch.setattr(DemoWriter, "prepare", as_plain_user)
    seed("--accounts", "12", "--seed", "5")
    assert Account.objects.count() == 12
    assert EngagementEvent.objects.filter(account__isnull=False).count() == sum(
        AccountActivityDaily.objects.values_list("count", flat=True)
    )


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="at least 1"):
        seed("--accounts", "0")
    with pytest.raises(CommandError, match="at least 4"):
        seed("--accounts", "5", "--months", "2")
    assert not Account.objects.exists()
