"""Engagement recency (issue 17): a new engagement rule counts 90 days and halves every 30 unless told
otherwise, existing rules keep their settings, bad windows and half-lives are refused with the field named
(API, editor, admin), and the editor's preview shows what one event earns by its age: the engine's
numbers."""

import datetime

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.choices import Role, TeamKind
from scoring import workflow
from scoring.engine.preview import PREVIEW_AGES, decay_preview_text, one_event_points
from scoring.engine.rules import (
    Population,
    RulesetSpec,
    RuleSpec,
    day_ordinal,
    empty_activity,
    evaluate_contacts,
    score_contact,
)
from scoring.models import Rule, Ruleset
from tests.scoring.factories import FAST_PASSWORD_HASHERS, starter_ruleset

AS_OF = datetime.date(2026, 6, 30)
NEW_RULE = {"name": "Partner page", "kind": "engagement", "event_type": "page_view",
            "url_pattern": "^/partners", "points": 6}  # fmt: skip


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


# --- the engine: one event by its age, both implementations ------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    points=st.floats(-30, 30, allow_nan=False).map(lambda x: round(x, 3)),
    window=st.one_of(st.none(), st.integers(1, 400), st.just(90)),
    half_life=st.one_of(st.none(), st.floats(0.5, 400).map(lambda x: round(x, 2)), st.just(30.0)),
    cap=st.sampled_from([None, 0.0, 3.0, 12.5]),
    ages=st.lists(st.integers(0, 500), min_size=1, max_size=6),
)
def test_one_event_points_are_the_population_and_the_single_contact_engines(
    points, window, half_life, cap, ages
):
    rule = RuleSpec(id=1, name="r", kind="engagement", points=points, event_type="page_view",
                    window_days=window, half_life_days=half_life, cap=cap)  # fmt: skip
    spec = RulesetSpec(id=1, number=1, rules=(rule,))
    contacts = pd.DataFrame({"contact_id": range(1, len(ages) + 1), "account_id": np.nan, "email": "a@x.io"})
    t = day_ordinal(AS_OF)
    activity = pd.DataFrame(
        [(i + 1, t - age, "page_view", "/p", 1) for i, age in enumerate(ages)],
        columns=["entity", "day", "event_type", "key", "count"],
    )
    no_accounts = pd.DataFrame({"account_id": pd.Series(dtype="int64")})
    population = Population(contacts=contacts, accounts=no_accounts, activity=activity,
                            anonymous=empty_activity(), campaign_activity=empty_activity(True))  # fmt: skip
    vectorised = evaluate_contacts(spec, population, as_of=AS_OF)["engagement"].tolist()
    single = [
        score_contact(spec, {"contact_id": i + 1, "email": "a@x.io"}, [(t - age, "page_view", "/p", 1)],
                      as_of=AS_OF).engagement
        for i, age in enumerate(ages)
    ]  # fmt: skip
    preview = one_event_points(
        points=points, ages=ages, window_days=window, half_life_days=half_life, cap=cap
    )
    assert preview == single == vectorised


def test_the_preview_sentence_follows_the_window_and_the_half_life():
    assert decay_preview_text(points=10, window_days=90, half_life_days=30) == (
        "One event: today 10 · 7 days ago 8.51 · 30 days ago 5 · 90+ days ago 0"
    )
    assert decay_preview_text(points=10, window_days=90, half_life_days=7).startswith(
        "One event: today 10 · 7 days ago 5 · 30 days ago 0.51"
    )
    everything = decay_preview_text(points=10)
    assert "365 days ago 10" in everything and "however old, an event earns full points" in everything
    assert decay_preview_text(points=-10, half_life_days=30, cap=4).startswith("One event: today -4 ·")
    assert decay_preview_text(points=None).startswith("Enter the points")
    for bad in ({"half_life_days": 0}, {"window_days": 0}, {"window_days": 2.5}, {"cap": -1}):
        assert decay_preview_text(points=10, **bad).startswith("Fix the half-life, window or cap")
    assert len(PREVIEW_AGES) == 6


# --- the API: defaults for new rules only, and clear 400s -----------------------------------------------
@pytest.fixture
def marketer(user_in):
    return user_in(TeamKind.MARKETING, Role.MEMBER)


@pytest.fixture
def draft(marketer):
    starter_ruleset()
    return workflow.ruleset_draft_create(user=marketer)


def _patch_rules(client, draft, rules):
    response = client.get(f"/api/rulesets/{draft.pk}/")
    return client.patch(
        f"/api/rulesets/{draft.pk}/", {"rules": response.json()["rules"] + rules}, format="json",
        HTTP_IF_MATCH=response["ETag"],
    )  # fmt: skip


def test_a_new_engagement_rule_without_a_window_counts_90_days_halving_every_30(client_for, marketer, draft):
    before = {r.name: (r.window_days, r.half_life_days) for r in draft.rules.all()}
    client = client_for(marketer)
    response = _patch_rules(client, draft, [
        NEW_RULE,
        {**NEW_RULE, "name": "All history on purpose", "window_days": None, "half_life_days": None},
        {**NEW_RULE, "name": "Own settings", "window_days": 14, "half_life_days": 3.5},
        {"name": "Director", "kind": "fit", "field": "seniority", "operator": "equals", "value": "director",
         "points": 5},
    ])  # fmt: skip
    assert response.status_code == 200, response.content
    saved = {r["name"]: (r["window_days"], r["half_life_days"]) for r in response.json()["rules"]}
    assert saved["Partner page"] == (90, 30.0)
    assert saved["All history on purpose"] == (None, None)
    assert saved["Own settings"] == (14, 3.5)
    assert saved["Director"] == (None, None)  # fit rules count no events
    # The rules that were there keep their windows and half-lives, "all history" included.
    assert {name: saved[name] for name in before} == before
    assert any(window is None for window, _ in before.values())


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("half_life_days", 0, "Must be above 0"),
        ("half_life_days", -7, "Must be above 0"),
        ("half_life_days", "soon", ""),
        ("window_days", 0, "At least 1 day"),
        ("window_days", -30, "At least 1 day"),
        ("window_days", 7.5, ""),
    ],
)
def test_bad_windows_and_half_lives_are_a_400_naming_the_rule_and_change_nothing(
    client_for, marketer, draft, field, value, message
):
    client = client_for(marketer)
    index = draft.rules.count()
    response = _patch_rules(client, draft, [{**NEW_RULE, field: value}])
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {f"rules[{index}].{field}"} and message in errors[f"rules[{index}].{field}"][0]
    draft.refresh_from_db()
    assert draft.revision == 1 and not draft.rules.filter(name="Partner page").exists()


# --- the editor and the admin ------------------------------------------------------------------------
def test_the_editor_row_for_a_new_engagement_rule_starts_at_90_and_30_with_its_preview(
    client, marketer, draft
):
    client.force_login(marketer)
    row = client.get(reverse("scoring:rule_row"), {"index": 30, "kind": "engagement"})
    html = row.content.decode()
    assert (
        'name="rules-30-window_days" value="90"' in html
        and 'name="rules-30-half_life_days" value="30"' in html
    )
    assert "rule-decay-preview" in html and "Enter the points" in html
    fit = client.get(reverse("scoring:rule_row"), {"index": 31, "kind": "fit"}).content.decode()
    assert 'name="rules-31-window_days" value="90"' not in fit
    assert 'data-new-window-days="90" data-new-half-life-days="30"' in fit  # if switched to engagement
    editor = client.get(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk})).content.decode()
    pricing = draft.rules.get(name="Pricing page")
    assert decay_preview_text(points=pricing.points, cap=pricing.cap, half_life_days=pricing.half_life_days,
                              window_days=pricing.window_days) in editor  # fmt: skip
    assert "scoring/rule_preview.js" in editor
    assert "data-new-window-days" not in editor  # existing rules are never given the defaults


def test_the_admin_offers_the_defaults_for_a_new_rule_and_refuses_a_zero_half_life(client, revops_admin):
    starter_ruleset()
    draft = workflow.ruleset_draft_create(user=revops_admin)
    client.force_login(revops_admin)
    form = client.get("/admin/scoring/rule/add/").context["adminform"].form
    assert form["window_days"].value() == 90 and form["half_life_days"].value() == 30
    existing = draft.rules.get(name="Meeting held")  # no half-life: the form shows none
    change = client.get(f"/admin/scoring/rule/{existing.pk}/change/").context["adminform"].form
    assert change["half_life_days"].value() is None
    data = {"ruleset": draft.pk, "position": 1, "name": "Partner page", "kind": "engagement",
            "event_type": "page_view", "url_pattern": "^/partners", "points": "6", "min_count": "1",
            "window_days": "90", "half_life_days": "0"}  # fmt: skip
    response = client.post("/admin/scoring/rule/add/", data)
    assert response.status_code == 200
    assert "Must be above 0" in str(response.context["adminform"].form.errors["half_life_days"])
    assert not Rule.objects.filter(name="Partner page").exists()
    response = client.post("/admin/scoring/rule/add/", {**data, "half_life_days": "30"})
    assert response.status_code == 302
    assert Rule.objects.get(name="Partner page").half_life_days == 30
    assert Ruleset.objects.get(pk=draft.pk).revision == 2
