"""What-if replays, the rescore command and the rescore/what-if/jobs API."""

import datetime
import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.choices import Seniority
from accounts.ingest import events_ingest
from revops.choices import Role, TeamKind, TokenScope
from revops.models import JobRun
from revops.services import api_token_create
from scoring.choices import RulesetStatus
from scoring.models import ContactScore, Rule, Ruleset, WhatIfRun
from scoring.whatif import whatif_compute
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory
from tests.revops.factories import UserFactory

pytestmark = pytest.mark.django_db


def _events(email, weeks_ago, n, url="/pricing", start=0):
    base = timezone.now() - datetime.timedelta(weeks=weeks_ago)
    return [
        {"message_id": f"{email}-{weeks_ago}-{start + i}", "type": "page_view", "url": url,
         "occurred_at": (base - datetime.timedelta(hours=i)).isoformat(), "contact_email": email}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def history():
    """Three fitting contacts with pricing interest at different times; one account opens an opportunity."""
    acme = AccountFactory(domain="acme.com", industry="Software", employee_count=800)
    beta = AccountFactory(domain="beta.io", industry="Software", employee_count=400)
    hot = ContactFactory(account=acme, email="hot@acme.com", seniority=Seniority.VP, department="marketing")
    warm = ContactFactory(account=beta, email="warm@beta.io", seniority=Seniority.VP, department="marketing")
    cold = ContactFactory(account=beta, email="cold@beta.io", seniority=Seniority.VP, department="marketing")
    items = _events("hot@acme.com", 6, 3) + _events("warm@beta.io", 3, 1) + _events("cold@beta.io", 20, 1)
    events_ingest(actor=UserFactory(), items=items)
    OpportunityFactory(account=acme, created_date=timezone.now().date() - datetime.timedelta(weeks=4))
    published = Ruleset.objects.get(status=RulesetStatus.PUBLISHED)
    draft = Ruleset.objects.create(
        number=2, name="Lower bar", based_on=published, mql_fit_min=20, mql_engagement_min=8,
        required_fields=published.required_fields, excluded_title_pattern=published.excluded_title_pattern,
        fast_track_event_types=published.fast_track_event_types,
    )  # fmt: skip
    for rule in published.rules.all():
        rule.pk, rule.ruleset = None, draft
        rule.save()
    return {"hot": hot, "warm": warm, "cold": cold, "draft": draft, "published": published}


def test_whatif_counts_who_would_qualify_and_what_happened_next(history):
    result = whatif_compute(ruleset=history["draft"], baseline=history["published"], days=90)
    # published (engagement ≥ 15): only "hot" (3 pricing visits, 30 points at the time) qualifies
    assert result["totals"]["baseline"]["mql"] == 1
    # the draft (≥ 8) also takes "warm" (one visit, 10 points); "cold" was before the window's reach
    assert result["totals"]["draft"]["mql"] == 2
    assert result["newly_qualified_count"] == 1 and result["dropped_count"] == 0
    assert result["newly_qualified"][0]["email"] == "warm@beta.io"
    assert result["newly_qualified"][0]["outcome"] == "no progress"
    assert result["totals"]["baseline"]["opportunity"] == 1  # hot's account opened one after qualifying
    assert sum(w["baseline"]["mql"] for w in result["weeks"]) == 1
    assert len(result["weeks"]) == 13
    segments = {row["segment"] for row in result["by_segment"]}
    assert segments == {"Software · 200–999"}
    json.dumps(result)  # stored as JSON


def test_whatif_api_starts_a_run_and_returns_the_result(
    history, client_for, user_in, django_capture_on_commit_callbacks
):
    member = user_in(TeamKind.MARKETING, Role.MEMBER)
    client = client_for(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/whatif/", {"ruleset": history["draft"].pk, "days": 60}, format="json")
    assert response.status_code == 202, response.content
    run = client.get(f"/api/whatif/{response.json()['id']}/").json()
    assert run["status"] == "succeeded" and run["result"]["days"] == 60
    assert run["result"]["baseline"]["number"] == 1


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"ruleset": 0}, "ruleset"),
        ({"days": 3}, "days"),
        ({"days": 1000}, "days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_whatif_api_rejects_bad_input_and_writes_nothing(history, client_for, user_in, payload, field):
    client = client_for(user_in(TeamKind.MARKETING, Role.MEMBER))
    response = client.post("/api/whatif/", {"ruleset": history["draft"].pk, **payload}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not WhatIfRun.objects.exists()


def test_whatif_api_denied_paths(history, client_for, user_in, outsider, api_client):
    viewer = client_for(user_in(TeamKind.SALES, Role.VIEWER))
    assert viewer.post("/api/whatif/", {"ruleset": history["draft"].pk}, format="json").status_code == 403
    assert viewer.get("/api/whatif/").status_code == 200
    assert client_for(outsider).get("/api/whatif/").status_code == 403
    assert api_client.get("/api/whatif/").status_code in (401, 403)
    member = user_in(TeamKind.MARKETING, Role.MEMBER)
    _token, key = api_token_create(actor=member, user=member, name="ro", scopes=[TokenScope.READ])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.post("/api/whatif/", {"ruleset": history["draft"].pk}, format="json").status_code == 403
    assert not WhatIfRun.objects.exists()


def test_rescore_api_is_for_revenue_operations(
    history, client_for, user_in, django_capture_on_commit_callbacks
):
    member = client_for(user_in(TeamKind.MARKETING, Role.LEAD))
    assert member.post("/api/rescore/").status_code == 403
    admin = client_for(user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/api/rescore/")
    assert response.status_code == 202
    job = admin.get(f"/api/jobs/{response.json()['job']}/").json()
    assert job["status"] == "succeeded" and job["result"]["contacts"] == 3
    assert ContactScore.objects.count() == 3


def test_rescore_command(history, capsys):
    call_command("rescore", "--json", verbosity=0)
    out = json.loads(capsys.readouterr().out)
    assert out["contacts"] == 3 and out["ruleset"] == 1
    call_command("rescore", "--contacts", str(history["hot"].pk), "--json")
    assert json.loads(capsys.readouterr().out)["written"] == 0  # nothing changed since
    call_command("rescore", "--ruleset", "2", "--json")
    assert set(ContactScore.objects.values_list("ruleset__number", flat=True)) == {2}
    with pytest.raises(CommandError, match="no version 7"):
        call_command("rescore", "--ruleset", "7")
    with pytest.raises(CommandError, match="not a date"):
        call_command("rescore", "--as-of", "yesterday")
    Ruleset.objects.update(status=RulesetStatus.SUPERSEDED)
    with pytest.raises(CommandError, match="No published ruleset"):
        call_command("rescore")
    assert JobRun.objects.count() == 0 and Rule.objects.filter(ruleset=history["draft"]).count() == 20


def test_whatif_limited_to_some_accounts_replays_only_their_contacts(history):
    beta = history["warm"].account_id
    result = whatif_compute(
        ruleset=history["draft"], baseline=history["published"], days=90, account_ids=[beta]
    )
    assert result["contacts"] == 2 and result["accounts_limited_to"] == 1
    assert result["totals"]["baseline"]["mql"] == 0 and result["totals"]["draft"]["mql"] == 1


# --- why each listed contact qualifies (issue 17) --------------------------------------------------------
def _version(published, number, name, **settings):
    """A draft copied from ``published`` (its rules too), with ``settings`` changed."""
    values = {
        "mql_fit_min": published.mql_fit_min, "mql_engagement_min": published.mql_engagement_min,
        "required_fields": published.required_fields,
        "excluded_title_pattern": published.excluded_title_pattern,
        "excluded_industries": published.excluded_industries,
        "fast_track_event_types": published.fast_track_event_types, **settings,
    }  # fmt: skip
    draft = Ruleset.objects.create(number=number, name=name, based_on=published, **values)
    for rule in published.rules.all():
        rule.pk, rule.ruleset = None, draft
        rule.save()
    return draft


def test_each_newly_qualified_row_says_which_path_and_why_not_under_the_baseline(history):
    result = whatif_compute(ruleset=history["draft"], baseline=history["published"], days=90)
    (row,) = result["newly_qualified"]
    assert row["email"] == "warm@beta.io" and row["path"] == "MQL definition"
    # The engagement shown is the one it qualified with, in its week, not today's decayed value.
    assert row["engagement"] >= 8 > row["engagement_now"]
    assert row["reason"].startswith(f"v2: MQL definition — fit {row['fit']:g} ≥ 20 and engagement")
    assert f"≥ 8 on {row['week']}" in row["reason"] and "Pricing page +" in row["reason"]
    peak = re.fullmatch(r"v1: engagement at most ([\d.]+) \(on [\d-]+\) < 15", row["other_reason"])
    assert peak and float(peak[1]) < 15


def test_a_contact_the_baseline_had_as_an_mql_before_the_window_is_not_newly_qualified(history):
    """A stricter draft qualifies it later (in the window), not newly: it counts in the draft's totals
    and in ``newly_qualified_earlier_count``, not in the list."""
    beta = history["warm"].account
    ContactFactory(account=beta, email="steady@beta.io", seniority=Seniority.VP, department="marketing")
    # Two pricing visits as the window starts (≈ 20 points: an MQL at ≥ 15, not at ≥ 25), three a week
    # later (capped at 30: ≥ 25).
    events_ingest(
        actor=UserFactory(), items=_events("steady@beta.io", 6, 2) + _events("steady@beta.io", 5, 3, start=9)
    )
    stricter = _version(history["published"], 3, "Higher bar", mql_engagement_min=25)
    result = whatif_compute(ruleset=stricter, baseline=history["published"], days=42)
    listed = {row["email"] for row in result["newly_qualified"]}
    assert "steady@beta.io" not in listed and result["newly_qualified_count"] == len(listed) == 0
    assert result["newly_qualified_earlier_count"] == 1
    assert result["totals"]["draft"]["mql"] == 1 and result["totals"]["baseline"]["mql"] == 0
    # Seen from the other side, the same contact is not "dropped" by the baseline either.
    reverse = whatif_compute(ruleset=history["published"], baseline=stricter, days=42)
    assert reverse["dropped_count"] == 0 and reverse["dropped_earlier_count"] == 1


def test_a_fast_track_path_is_named_and_the_sal_note_says_what_differs(history):
    beta = history["warm"].account
    ContactFactory(account=beta, email="attendee@beta.io", seniority=Seniority.VP, department="marketing")
    when = timezone.now() - datetime.timedelta(days=10)
    events_ingest(
        actor=UserFactory(),
        items=[{"message_id": "attendee-webinar", "type": "webinar", "occurred_at": when.isoformat(),
                "contact_email": "attendee@beta.io"}],
    )  # fmt: skip
    webinars = _version(
        history["published"], 3, "Webinars fast-track",
        fast_track_event_types=[*history["published"].fast_track_event_types, "webinar"],
    )  # fmt: skip
    result = whatif_compute(ruleset=webinars, baseline=history["published"], days=90)
    row = next(r for r in result["newly_qualified"] if r["email"] == "attendee@beta.io")
    assert row["path"] == "fast-track"
    assert row["reason"] == f"v3: fast-track — webinar on {when.date().isoformat()} → SAL"
    assert row["other_reason"].startswith(
        "v1: webinar is not one of its fast-track actions; engagement at most"
    )
    assert result["totals"]["draft"]["sal"] == result["totals"]["baseline"]["sal"] + 1
    assert "sales accepting an MQL is a person's decision" in result["sal_note"]
    other = whatif_compute(ruleset=history["draft"], baseline=history["published"], days=90)
    assert other["sal_note"].endswith("What differs: the exclusions.")  # the fixture's draft has none
    assert "v3 fast-tracks demo request, free trial, webinar" in result["sal_note"]
    assert "the exclusions" not in result["sal_note"]
    lower = _version(history["published"], 4, "Lower bar, same exclusions", mql_engagement_min=8)
    same = whatif_compute(ruleset=lower, baseline=history["published"], days=90)
    assert "Both versions fast-track the same actions (demo request, free trial)" in same["sal_note"]


def test_the_api_result_carries_the_explanations(
    history, client_for, user_in, django_capture_on_commit_callbacks
):
    client = client_for(user_in(TeamKind.MARKETING, Role.MEMBER))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/whatif/", {"ruleset": history["draft"].pk, "days": 90}, format="json")
    result = client.get(f"/api/whatif/{response.json()['id']}/").json()["result"]
    (row,) = result["newly_qualified"]
    assert row["reason"].startswith("v2: MQL definition") and row["other_reason"].startswith("v1: ")
    assert {"path", "engagement_now", "week"} <= set(row)
    assert result["newly_qualified_earlier_count"] == 0 and result["sal_note"]


def test_an_mql_that_later_takes_a_fast_track_action_counts_as_an_sal_in_that_week(history):
    """As the live engine moves it (fast-track after the last move: MQL → SAL), not only when the
    fast-track action is what first qualified the contact."""
    beta = history["warm"].account
    ContactFactory(account=beta, email="early@beta.io", seniority=Seniority.VP, department="marketing")
    demo = timezone.now() - datetime.timedelta(days=12)
    events_ingest(
        actor=UserFactory(),
        items=_events("early@beta.io", 8, 3) + [
            {"message_id": "early-demo", "type": "demo_request", "occurred_at": demo.isoformat(),
             "contact_email": "early@beta.io"}
        ],
    )  # fmt: skip
    for replay in ("timeline", "weekly"):
        result = whatif_compute(
            ruleset=history["draft"], baseline=history["published"], days=90, replay=replay
        )
        assert result["totals"]["baseline"]["sal"] == result["totals"]["draft"]["sal"] == 1
        sal_weeks = [w["week"] for w in result["weeks"] if w["baseline"]["sal"]]
        mql_weeks = [w["week"] for w in result["weeks"] if w["baseline"]["mql"]]
        assert len(sal_weeks) == 1 and sal_weeks[0] > max(mql_weeks)  # weeks after it qualified
        assert datetime.date.fromisoformat(sal_weeks[0]) - demo.date() < datetime.timedelta(days=7)
