"""Explanations in plain words (``scoring.learned.words``): every feature the builder makes reads as a phrase
with one colon (before the contribution), counts first, sizes without false precision, countries and
technologies by their names."""

import io
import math
import re

import pytest
from django.core.management import call_command

from accounts.models import Technology
from scoring.learned import features as F
from scoring.learned.backtest import data_end
from scoring.learned.words import describe, explanation_item, sentence


@pytest.fixture
def feature_names(db):
    call_command("seed_demo", accounts=60, seed=5, verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    return list(F.account_features(as_of=data_end()).columns)


def test_every_feature_reads_as_words_with_one_colon(feature_names):
    assert len(feature_names) > 100
    for name in feature_names:
        for value in (0.0, 1.0, 3.0, F.NONE_DAYS):
            text = sentence(name, value, 0.25, 0.3)
            assert text.endswith(": +5 pts (moderate raise)") and text.count(":") == 1, (name, text)
            assert "_" not in text and "  " not in text, (name, text)
            # a count of one agrees with its noun ("1 intent signal", never "1 intent signals")
            assert not re.search(r"(^|\D)1 \S*(signals|events|visits|people|days|topics|pages)\b", text), (
                name,
                text,
            )


@pytest.mark.parametrize(
    "probability, contribution, ending",
    [
        (0.35, 0.42, ": +9 pts (moderate raise)"),  # 35% against 26.1% without it
        (0.5, 1.0, ": +23 pts (strong raise)"),
        (0.02, 0.56, ": +1 pt (slight raise)"),
        (0.01, 0.3, ": <1 pt (slight raise)"),
        (0.6, -0.2, ": -5 pts (moderate lower)"),
        (None, 0.42, ": +0.42 log-odds"),  # no probability to take points of
    ],
)
def test_a_sentence_gives_the_points_of_the_accounts_probability(probability, contribution, ending):
    assert sentence("research_30d", 3, contribution, probability) == (
        "3 research-page visits (pricing, comparisons, case studies) in the last 30 days" + ending
    )


def test_an_explanation_item_keeps_the_log_odds_beside_the_points():
    item = explanation_item("key__intent__pricing_30d", 1.0, 0.42, 0.35)
    assert item["contribution"] == 0.42 and item["probability_points"] == pytest.approx(8.87, abs=0.01)
    assert (item["points"], item["strength"]) == ("+9 pts", "moderate raise")
    assert item["words"] == "1 intent signal on “Pricing” in the last 30 days: +9 pts (moderate raise)"


@pytest.mark.parametrize(
    "feature, value, words",
    [
        (
            "research_30d",
            3,
            "3 research-page visits (pricing, comparisons, case studies) in the last 30 days",
        ),
        ("engaged_contacts_7d", 2, "2 people engaged in the last 7 days"),
        ("intent_week_0", 4, "4 third-party intent events this week"),
        ("intent_week_2", 1, "1 third-party intent event 2 weeks ago"),
        ("intent_week_1", 2, "2 third-party intent events 1 week ago"),
        ("first_party_30d", 1, "1 first-party visit or action in the last 30 days"),
        ("engaged_contacts_30d", 1, "1 person engaged in the last 30 days"),
        ("engaged_senior_30d", 1, "1 senior person (C-level, VP, director) engaged in the last 30 days"),
        ("known_30d", 1, "1 event by known people in the last 30 days"),
        ("high_intent_days_since", 1, "1 day since the last demo request, trial or meeting"),
        ("high_intent_days_since", 9999, "no demo requests, trials and meetings in the last 6 months"),
        ("demo_request_30d", 1, "1 demo request event in the last 30 days"),
        ("key__page_view__pricing_30d", 1, "1 “/pricing” page view event in the last 30 days"),
        ("technologies", 1, "1 known technology in use"),
        ("opportunities", 1, "1 past opportunity"),
        ("opportunities_won", 2, "2 opportunities won"),
        ("days_since_won", 9999, "no deals won in the last 6 months"),
        ("company_age", 1, "founded 1 year ago"),
        ("all_trend_30d", 0.5, "engagement and intent events up 50% on the 30 days before"),
        ("all_trend_30d", -0.2, "engagement and intent events down 20% on the 30 days before"),
        (
            "research_days_since",
            12,
            "12 days since the last research-page visit (pricing, comparisons, case studies)",
        ),
        (
            "research_days_since",
            9999,
            "no research-page visits (pricing, comparisons, case studies) in the last 6 months",
        ),
        ("required_persona_coverage_30d", 0.5, "50% of the required buying team engaged in the last 30 days"),
        ("key__intent__lead_scoring_30d", 2, "2 intent signals on “Lead scoring” in the last 30 days"),
        ("key__intent__lead_scoring_30d", 1, "1 intent signal on “Lead scoring” in the last 30 days"),
        ("key__page_view__pricing_30d", 5, "5 “/pricing” page view events in the last 30 days"),
        ("customer", 1, "is a customer"),
        ("industry__financial_services", 1, "industry is Financial services"),
        ("country__in", 1, "based in India"),
        ("country__de", 0, "not based in Germany"),
        ("company_age", 12, "founded 12 years ago"),
        ("mystery_signal__x", 2, "mystery signal x = 2"),  # a feature this module does not know yet
    ],
)
def test_phrases(feature, value, words):
    assert describe(feature, value) == words


@pytest.mark.parametrize(
    "feature, raw, words",
    [
        ("log_revenue", 5_000_000, "annual revenue about $5.0M"),
        ("log_revenue", 480_000, "annual revenue about $480.0K"),
        ("log_revenue", 2_300_000_000, "annual revenue about $2.3B"),
        ("log_employees", 180, "about 180 employees"),
        ("log_employees", 1, "about 1 employee"),
        ("log_employees", 12_345, "about 12,300 employees"),
        ("log_employees", 300_000, "about 300,000 employees"),
    ],
)
def test_sizes_stored_as_logs_read_without_false_precision(feature, raw, words):
    stored = round(math.log1p(raw), 4)  # what the contributions keep
    assert describe(feature, stored) == words


def test_technologies_are_named_as_the_catalogue_spells_them(db):
    assert describe("tech__acme_graph_db", 1) == "uses Acme graph db"  # not in the catalogue yet
    Technology.objects.create(name="Acme Graph DB")  # clears the cached names
    Technology.objects.create(name="SAP S/4HANA")
    assert describe("tech__acme_graph_db", 1) == "uses Acme Graph DB"
    assert describe("tech__sap_s_4hana", 0) == "does not use SAP S/4HANA"
