"""The figures of ``scoring.metrics``, and every page, API answer and command that shows one of them,
showing the same figure for the same definition (issue 15: "2 of 959 leads became MQL while 175 entered
MQL, the rescore command says 276 MQLs and the contacts list filtered to MQL shows 1")."""

import datetime
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.choices import LifecycleStage, OpportunityStage
from accounts.models import Contact
from revops.choices import Role, TeamKind
from scoring import metrics
from scoring.choices import BuyingStage
from scoring.models import LifecycleTransition, Ruleset
from scoring.signals import rescore_finished
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory, PersonaFactory
from tests.scoring.factories import (
    AccountModelScoreFactory,
    AccountRuleScoreFactory,
    ContactScoreFactory,
    LifecycleTransitionFactory,
    starter_ruleset,
)

L, M, SAL, SQL, OPP, CUST, REC, DQ = (
    LifecycleStage.LEAD, LifecycleStage.MQL, LifecycleStage.SAL, LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER, LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED,
)  # fmt: skip
WINDOW_DAYS = 30


def ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def person(stage: str, created_days_ago: int, *moves: tuple[str, str, int]) -> Contact:
    """A contact at ``stage`` now, created ``created_days_ago``, with moves ``(from, to, days ago)``."""
    contact = ContactFactory()
    Contact.objects.filter(pk=contact.pk).update(lifecycle_stage=stage, created=ago(created_days_ago))
    for source, target, days in moves:
        LifecycleTransitionFactory(contact=contact, from_stage=source, to_stage=target, at=ago(days))
    return contact


@pytest.fixture
def world(db):
    """Eight contacts whose figures differ by definition (the window: the last 30 days):

    currently MQL: b, f (f was imported as an MQL: no move)           = 2
    entered MQL in the window: a, b, c, g (d entered before it)       = 4
    new leads (created in the window): b, c, e, g                     = 4, of which 3 reached MQL
    entered SAL in the window: a, c, d                                = 3
    conversion of the MQL cohort (a, b, c, g): SAL 2, SQL 1, opportunity 1, won 1
    """
    live = starter_ruleset()
    # No MQL of this world decays to Recycled when the rescore runs (they have no activity).
    Ruleset.objects.filter(pk=live.pk).update(recycle_engagement_below=-1)
    people = {
        "a": person(CUST, 40, (L, M, 20), (M, SAL, 15), (SAL, SQL, 10), (SQL, OPP, 5), (OPP, CUST, 2)),
        "b": person(M, 25, (L, M, 20)),
        "c": person(SAL, 25, (L, M, 18), (M, SAL, 12)),
        "d": person(SAL, 60, (L, M, 50), (M, SAL, 20)),
        "e": person(L, 10),
        "f": person(M, 100),
        "g": person(REC, 25, (L, M, 15), (M, REC, 5)),
        "h": person(DQ, 200, (L, DQ, 190)),
    }
    today = timezone.localdate()
    return {"people": people, "since": today - datetime.timedelta(days=WINDOW_DAYS), "until": today}


@pytest.fixture
def ops(user_in):
    """A revenue-operations lead: sees contacts, the funnel, the learned scores and the dashboard."""
    return user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)


def window_query(world) -> dict[str, str]:
    return {"since": world["since"].isoformat(), "until": world["until"].isoformat()}


# --- the definitions, on a known world -------------------------------------------------------------
def test_each_definition_counts_what_it_says(world):
    since, until = world["since"], world["until"]
    assert metrics.contacts_in_stage(M) == 2
    assert metrics.contacts_by_stage() == {L: 1, M: 2, SAL: 2, SQL: 0, OPP: 0, CUST: 1, REC: 1, DQ: 1}
    assert metrics.stage_entries(M, since=since, until=until) == 4
    assert metrics.stage_entries(L, since=since, until=until) == 4
    assert metrics.stage_entries(SAL, since=since, until=until) == 3
    funnel = metrics.lifecycle_funnel(since=since, until=until)
    steps = {(s["from"], s["to"]): s for s in funnel["steps"]}
    assert (steps[(L, M)]["entered"], steps[(L, M)]["converted"]) == (4, 3)  # b, c, g of b, c, e, g
    assert (steps[(M, SAL)]["entered"], steps[(M, SAL)]["converted"]) == (4, 2)
    assert (steps[(SAL, SQL)]["entered"], steps[(SAL, SQL)]["converted"]) == (3, 1)
    assert funnel["entries"] == {L: 4, M: 4, SAL: 3, SQL: 1, OPP: 1, CUST: 1}
    assert steps[(L, M)]["entered_label"].startswith("New leads (contacts created) between")
    assert steps[(M, SAL)]["entered_label"].startswith("Entered MQL between")
    conversion = metrics.funnel_conversion(since=since, until=until)
    assert conversion["cohort"] == 4
    assert [(s["stage"], s["contacts"]) for s in conversion["stages"]] == [
        (M, 4), (SAL, 2), (SQL, 1), (OPP, 1), (CUST, 1),
    ]  # fmt: skip
    assert (
        conversion["stages"][2]["rate_of_cohort"] == 0.25
        and conversion["stages"][2]["rate_of_previous"] == 0.5
    )


def test_a_late_conversion_counts_for_its_cohort_and_not_for_the_window_it_happened_in(world):
    # b entered MQL in the window and is accepted today: its cohort (this window) gains an SAL; a window
    # of only today has one SAL entry and no MQL entry.
    LifecycleTransitionFactory(contact=world["people"]["b"], from_stage=M, to_stage=SAL, at=timezone.now())
    conversion = metrics.funnel_conversion(since=world["since"], until=world["until"])
    assert conversion["stages"][1]["contacts"] == 3
    today = world["until"]
    assert metrics.stage_entries(SAL, since=today, until=today) == 1
    assert metrics.funnel_conversion(since=today, until=today)["cohort"] == 0


def test_a_stage_an_import_recorded_is_current_but_not_an_entry_or_an_exit(world):
    # an import today brings two contacts: one an MQL elsewhere, one disqualified elsewhere (issue 17)
    mql = person(M, 0)
    LifecycleTransitionFactory(contact=mql, from_stage=L, to_stage=M, at=timezone.now(), decision="import")
    gone = person(DQ, 0)
    LifecycleTransitionFactory(contact=gone, from_stage=L, to_stage=DQ, at=timezone.now(), decision="import")
    since, until = world["since"], world["until"]
    assert metrics.contacts_in_stage(M) == 3  # b, f and the imported one
    assert metrics.stage_entries(M, since=since, until=until) == 4  # a, b, c, g as before
    funnel = metrics.lifecycle_funnel(since=since, until=until)
    assert funnel["entries"][M] == 4
    assert funnel["disqualified"]["contacts"] == 0, funnel["disqualified"]
    # the same move, decided by the rules, is an entry
    LifecycleTransition.objects.filter(contact=mql).update(decision="")
    assert metrics.stage_entries(M, since=since, until=until) == 5


def test_bad_input_is_refused_with_the_reason(world):
    with pytest.raises(ValueError, match="unknown lifecycle stage 'won'"):
        metrics.contacts_in_stage("won")
    with pytest.raises(ValueError, match="after until"):
        metrics.stage_entries(M, since=world["until"], until=world["since"])
    with pytest.raises(ValueError, match="after until"):
        metrics.deal_velocity(since=world["until"], until=world["since"])


# --- the pages, the API and the command agree ----------------------------------------------------------
def list_rows(client, stage: str) -> int:
    response = client.get(reverse("accounts:contact_list"), {"lifecycle_stage": stage, "per_page": 100})
    assert response.status_code == 200
    assert not response.context["page"].has_next
    return len(response.context["object_list"])


def api_rows(client_for, user, stage: str) -> int:
    response = client_for(user).get("/api/contacts/", {"lifecycle_stage": stage, "page_size": 1000})
    assert response.status_code == 200, response.content[:300]
    return len(response.json()["results"])


def test_currently_in_stage_is_the_same_figure_on_every_page(world, ops, client, client_for):
    client.force_login(ops)
    funnel_page = client.get(reverse("scoring:funnel"), window_query(world))
    assert funnel_page.status_code == 200
    page_now = {row["stage"]: row["contacts"] for row in funnel_page.context["now"]}
    api_now = client_for(ops).get("/api/lifecycle/funnel/", window_query(world)).json()["now"]
    dashboard = client.get(reverse("home"))
    dashboard_now = {row["stage"]: row["contacts"] for row in dashboard.context["lifecycle_now"]}
    for stage in (M, SAL, CUST):
        figure = metrics.contacts_in_stage(stage, user=ops)
        assert figure == list_rows(client, stage) == api_rows(client_for, ops, stage), stage
        assert figure == page_now[stage] == api_now[stage] == dashboard_now[stage], stage
    assert page_now[M] == 2 and page_now[L] == list_rows(client, L) == 1
    # Each shows it under the same words, linked to the list it counts.
    html = funnel_page.content.decode()
    assert re.search(r"Currently MQL <span[^>]*>2</span>", html)
    assert f'href="{reverse("accounts:contact_list")}?lifecycle_stage=mql"' in html
    assert re.search(r"Currently MQL <span[^>]*>2</span>", dashboard.content.decode())


def test_the_funnel_page_and_api_show_entries_and_conversion_under_their_definitions(
    world, ops, client, client_for
):
    client.force_login(ops)
    page = client.get(reverse("scoring:funnel"), window_query(world))
    api = client_for(ops).get("/api/lifecycle/funnel/", window_query(world))
    assert page.status_code == 200 and api.status_code == 200
    body = api.json()
    since, until = world["since"], world["until"]
    for stage in (L, M, SAL):
        figure = metrics.stage_entries(stage, since=since, until=until)
        assert body["entries"][stage] == figure
        assert {row["stage"]: row["contacts"] for row in page.context["entries"]}[stage] == figure
    mql_sal = next(s for s in body["steps"] if (s["from"], s["to"]) == (M, SAL))
    assert mql_sal["entered"] == metrics.stage_entries(M, since=since, until=until) == 4
    assert mql_sal["entered_label"] == metrics.stage_entries_label(M, since, until)
    conversion = metrics.funnel_conversion(since=since, until=until)
    assert body["conversion"]["cohort"] == conversion["cohort"] == 4
    assert body["conversion"]["stages"] == conversion["stages"] == page.context["conversion"]["stages"]
    assert [s["contacts"] for s in body["conversion"]["stages"]] == [4, 2, 1, 1, 1]
    html = page.content.decode()
    label = metrics.stage_entries_label(M, since, until)
    assert re.search(re.escape(label) + r"</span><span[^>]*>4</span>", html)  # the entries card
    assert metrics.stage_entries_label(L, since, until) in html  # the lead step says what it counts
    assert 'id="conversion-chain"' in html and "Won (customer)" in html


def test_the_funnel_api_refuses_a_window_the_wrong_way_round(world, ops, client_for):
    response = client_for(ops).get(
        "/api/lifecycle/funnel/", {"since": world["until"].isoformat(), "until": world["since"].isoformat()}
    )
    assert response.status_code == 400 and "since" in response.json()


def test_the_rescore_command_prints_currently_mql_as_the_list_counts_it(world, ops, client, client_for):
    out = io.StringIO()
    call_command("rescore", rules_only=True, json=True, stdout=out)
    result = json.loads(out.getvalue())
    assert "mql" not in result  # the old name of a different figure
    assert metrics.MEETS_MQL_DEFINITION in result
    client.force_login(ops)
    for stage in (M, SAL, CUST):
        assert result["lifecycle_now"][stage] == list_rows(client, stage) == api_rows(client_for, ops, stage)
    text = io.StringIO()
    call_command("rescore", rules_only=True, stdout=text)
    words = text.getvalue()
    assert f"Currently MQL: {list_rows(client, M)};" in words
    assert f"{metrics.MEETS_MQL_DEFINITION_LABEL}: {result[metrics.MEETS_MQL_DEFINITION]}" in words


# --- accounts and deals --------------------------------------------------------------------------------
@pytest.fixture
def scored_accounts(db):
    starter_ruleset()
    rows = [
        (10, True, BuyingStage.DECISION), (20, True, BuyingStage.PURCHASE), (0, False, BuyingStage.DECISION),
        (40, False, BuyingStage.AWARENESS), (-5, True, BuyingStage.DECISION),
    ]  # fmt: skip
    accounts = []
    for engagement, qualified, stage in rows:
        account = AccountFactory()
        AccountRuleScoreFactory(account=account, engagement=engagement)
        AccountModelScoreFactory(account=account, qualified=qualified, stage=stage)
        accounts.append(account)
    return accounts


def test_account_engagement_average_and_median_of_stored_scores(scored_accounts):
    assert metrics.account_engagement() == {"accounts": 5, "engaged": 3, "average": 13.0, "median": 10.0}


def test_accounts_in_market_agree_with_the_in_market_list_and_the_dashboard(scored_accounts, ops, client):
    client.force_login(ops)
    figure = metrics.accounts_in_market(user=ops)
    assert figure == 3
    listed = client.get(reverse("scoring:inmarket_list"), {"qualified": "true", "per_page": 100})
    assert listed.status_code == 200 and len(listed.context["object_list"]) == figure
    dashboard = client.get(reverse("home"))
    assert dashboard.context["buying_stages"]["qualified"] == figure
    assert re.search(
        rf'id="accounts-in-market"[^>]*>{figure} in market \(qualified\)', dashboard.content.decode()
    )
    by_stage = {s["value"]: s["qualified"] for s in metrics.buying_stage_summary(user=ops)["stages"]}
    assert (
        by_stage[BuyingStage.DECISION]
        == metrics.in_market_queryset(stage=[BuyingStage.DECISION]).count()
        == 2
    )


def test_persona_engagement_per_persona(db):
    starter_ruleset()
    champion, user_persona = PersonaFactory(name="Champion"), PersonaFactory(name="User")
    one, two = AccountFactory(), AccountFactory()
    for account, persona, engagement in [(one, champion, 30), (one, champion, 0), (two, champion, 10),
                                         (two, user_persona, 0)]:  # fmt: skip
        ContactScoreFactory(contact=ContactFactory(account=account, persona=persona), engagement=engagement)
    ContactFactory(persona=user_persona)  # not scored yet: not counted
    rows = {row["name"]: row for row in metrics.persona_engagement()}
    assert rows["Champion"] | {"persona": None} == {
        "persona": None, "name": "Champion", "contacts": 3, "engaged": 2, "average_engagement": 13.33,
        "accounts_engaged": 2,
    }  # fmt: skip
    assert (rows["User"]["contacts"], rows["User"]["engaged"], rows["User"]["accounts_engaged"]) == (1, 0, 0)


def test_deal_velocity_is_the_median_days_to_a_won_close_per_month(db):
    day = datetime.date
    won = OpportunityStage.WON
    OpportunityFactory(stage=won, created_date=day(2026, 1, 1), close_date=day(2026, 3, 11))  # 69
    OpportunityFactory(stage=won, created_date=day(2026, 2, 1), close_date=day(2026, 3, 2))  # 29
    OpportunityFactory(stage=won, created_date=day(2026, 3, 1), close_date=day(2026, 3, 31))  # 30
    OpportunityFactory(
        stage=won, created_date=None, engaged_date=day(2026, 4, 1), close_date=day(2026, 4, 21)
    )
    OpportunityFactory(stage=won, created_date=None, engaged_date=None, close_date=day(2026, 4, 22))
    OpportunityFactory(stage=OpportunityStage.LOST, created_date=day(2026, 3, 1), close_date=day(2026, 3, 5))
    OpportunityFactory(
        stage=won, created_date=day(2026, 1, 1), close_date=day(2026, 6, 1)
    )  # after the window
    velocity = metrics.deal_velocity(since=day(2026, 2, 10), until=day(2026, 4, 30))
    assert [(m["month"], m["won"], m["undated"], m["median_days"]) for m in velocity] == [
        (day(2026, 2, 1), 0, 0, None),
        (day(2026, 3, 1), 3, 0, 30.0),
        (day(2026, 4, 1), 2, 1, 20.0),  # the start is the engaged date when there is no created date
    ]
    assert velocity[1]["mean_days"] == round((69 + 29 + 30) / 3, 2)


def test_each_figure_is_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        metrics.contacts_by_stage()
    with django_assert_max_num_queries(1):
        metrics.funnel_conversion(since=world["since"], until=world["until"])
    with django_assert_max_num_queries(2):
        metrics.persona_engagement()


# --- two implementations of one count ------------------------------------------------------------------
STAGE_PATH = [L, M, SAL, SQL, OPP, CUST]
# Few days, so that moves of one contact often share a day (the same instant): "at or after" matters.
DAYS = st.integers(0, 12)
HISTORY = st.lists(
    st.tuples(DAYS, st.lists(st.tuples(st.sampled_from([M, SAL, SQL, OPP, CUST, REC]), DAYS), max_size=5)),
    min_size=1,
    max_size=8,
)


def with_sources(moves: list[tuple[str, int]]) -> list[tuple[str, str, int]]:
    """``(from, to, days ago)``: each move comes from the stage the one before it (in id order) went to."""
    sources = [L, *(to for to, _d in moves)]
    return [(source, to, days) for source, (to, days) in zip(sources, moves, strict=False)]


def reference(histories, since_days: int, until_days: int) -> dict:
    """The definitions in plain Python over the same histories (days ago: larger is earlier), for the
    window of ``since_days`` … ``until_days`` ago."""

    def inside(days: int) -> bool:
        return until_days <= days <= since_days

    def first_entry(created: int, moves, stage: str) -> int | None:
        if stage == L:
            return created if inside(created) else None
        return max((d for _f, t, d in moves if t == stage and inside(d)), default=None)

    def reached(moves, first: int, stage: str, source: str | None = None) -> bool:
        return any(t == stage and d <= first and source in (None, f) for f, t, d in moves)  # at or after

    people = [(created, with_sources(moves)) for created, moves in histories]
    entries = {
        stage: sum(first_entry(c, moves, stage) is not None for c, moves in people)
        for stage in (L, M, SAL, SQL, OPP, CUST)
    }
    steps = {}
    for source, target, direct in metrics.FUNNEL_STEPS:
        firsts = [(moves, first_entry(c, moves, source)) for c, moves in people]
        cohort = [(moves, first) for moves, first in firsts if first is not None]
        steps[(source, target)] = (
            len(cohort),
            sum(reached(moves, first, target, source if direct else None) for moves, first in cohort),
        )
    chain = {M: entries[M]}
    for stage in (SAL, SQL, OPP, CUST):
        chain[stage] = sum(
            reached(moves, first, stage)
            for c, moves in people
            if (first := first_entry(c, moves, M)) is not None
        )
    return {"entries": entries, "steps": steps, "chain": chain}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=HISTORY, since_days=DAYS, length=st.integers(0, 8))
def test_the_sql_figures_match_a_plain_python_reading_of_the_same_histories(
    db, histories, since_days, length
):
    until_days = max(0, since_days - length)
    with transaction.atomic():
        starter_ruleset()
        midday = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        for created, moves in histories:
            contact = ContactFactory()
            Contact.objects.filter(pk=contact.pk).update(
                created=midday - datetime.timedelta(days=created),
                lifecycle_stage=moves[-1][0] if moves else L,
            )
            LifecycleTransition.objects.bulk_create(
                LifecycleTransition(
                    contact=contact, from_stage=source, to_stage=to, at=midday - datetime.timedelta(days=days)
                )
                for source, to, days in with_sources(moves)
            )
        today = timezone.localdate(midday)
        since = today - datetime.timedelta(days=since_days)
        until = today - datetime.timedelta(days=until_days)
        expected = reference(histories, since_days, until_days)
        for stage, n in expected["entries"].items():
            assert metrics.stage_entries(stage, since=since, until=until) == n, stage
        funnel = metrics.lifecycle_funnel(since=since, until=until)
        assert funnel["entries"] == expected["entries"]
        assert {(s["from"], s["to"]): (s["entered"], s["converted"]) for s in funnel["steps"]} == expected[
            "steps"
        ]
        conversion = metrics.funnel_conversion(since=since, until=until)
        assert {s["stage"]: s["contacts"] for s in conversion["stages"]} == expected["chain"]
        # Currently <stage>: the grouped count and the list's FilterSet, stage by stage.
        by_stage = metrics.contacts_by_stage()
        assert all(by_stage[stage] == metrics.contacts_in_stage(stage) for stage in metrics.STAGES)
        transaction.set_rollback(True)


def test_the_decimal_amounts_do_not_matter_to_velocity(db):
    # Velocity counts days, not money: a won deal without an amount still counts.
    OpportunityFactory(
        stage=OpportunityStage.WON, amount=None, created_date=datetime.date(2026, 5, 1),
        close_date=datetime.date(2026, 5, 11),
    )  # fmt: skip
    OpportunityFactory(
        stage=OpportunityStage.WON, amount=Decimal("1.5"), created_date=datetime.date(2026, 5, 1),
        close_date=datetime.date(2026, 5, 21),
    )  # fmt: skip
    (may,) = metrics.deal_velocity(since=datetime.date(2026, 5, 1), until=datetime.date(2026, 5, 31))
    assert (may["won"], may["median_days"]) == (2, 15.0)


# --- figures kept a while (pages at size) --------------------------------------------------------------
def _engaged(figures, persona) -> int:
    return next(row["engaged"] for row in figures if row["persona"] == persona.pk)


def test_a_kept_figure_is_the_definitions_as_of_when_computed_until_a_full_rescore(db, settings):
    settings.METRICS_KEEP_SECONDS = 600
    calls = []

    def compute():
        calls.append(1)
        return metrics.persona_engagement()

    persona = PersonaFactory()
    ContactScoreFactory(contact=ContactFactory(persona=persona), engagement=5)
    metrics.figures_invalidate()  # nothing kept from another test's database under the same name
    first, as_of = metrics.figure_kept("persona_engagement_test", compute)
    assert first == metrics.persona_engagement() and _engaged(first, persona) == 1
    assert abs((timezone.now() - as_of).total_seconds()) < 60

    ContactScoreFactory(contact=ContactFactory(persona=persona), engagement=7)
    kept, kept_as_of = metrics.figure_kept("persona_engagement_test", compute)
    assert (kept, kept_as_of, len(calls)) == (first, as_of, 1)  # as of then: not recounted

    rescore_finished.send(sender=None, as_of=timezone.localdate().isoformat())
    fresh, _ = metrics.figure_kept("persona_engagement_test", compute)
    assert fresh == metrics.persona_engagement() and _engaged(fresh, persona) == 2 and len(calls) == 2

    settings.METRICS_KEEP_SECONDS = 0  # never kept: the definition every time
    metrics.figure_kept("persona_engagement_test", compute)
    assert len(calls) == 3
