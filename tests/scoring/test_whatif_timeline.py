"""The what-if's one-pass replay (``scoring.engine.timeline``) gives what the per-week replay gives.

Two properties: on random populations in memory (many examples: decay, windows, caps, min counts,
campaign rules, exclusions, missing fields, fast-track actions, contacts without account or activity),
``qualifications`` equals ``qualifications_weekly`` for two rulesets sharing one timeline; and on random
small worlds in the database, ``whatif_compute`` equals its ``replay="weekly"`` reference, result for
result (unicode names, URLs and industries, opportunities, SQL moves, a segment).
"""

import datetime

import numpy as np
import pandas as pd
import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, Contact, ContactActivityDaily, Opportunity
from scoring.choices import RulesetStatus
from scoring.engine.rules import day_ordinal, evaluate_contacts
from scoring.engine.timeline import Timeline, evaluate_timeline
from scoring.models import LifecycleTransition, Rule, Ruleset
from scoring.whatif import qualifications, qualifications_weekly, whatif_compute
from tests.scoring.test_engine import AS_OF, FIELDS, TYPES, engagement_rules, fit_rules, population, spec_of

T = day_ordinal(AS_OF)
KEYS = ["/pricing", "/careers", "/careers/apply", "/blog/ünïcode-café", "crm software", "", "/pricing/日本"]


def _weeks(days: int, as_of: datetime.date = AS_OF) -> tuple[datetime.date, list[datetime.date]]:
    """The window's start and its week ends, as ``whatif_compute`` chooses them."""
    start = as_of - datetime.timedelta(days=days)
    weeks = sorted({as_of - datetime.timedelta(days=7 * k) for k in range(0, (days + 6) // 7)})
    return start, [w for w in weeks if w > start]


@st.composite
def rulesets(draw, first_id: int):
    n_fit, n_eng = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    rules = [draw(fit_rules(first_id + i)) for i in range(n_fit)]
    rules += [draw(engagement_rules(first_id + n_fit + i)) for i in range(n_eng)]
    return draw(st.permutations(rules)) if rules else rules


@st.composite
def timelines(draw):
    """Two rulesets (the second shares some of the first's rules: the timeline's caches), a population
    with activity on and around week ends, windows and the fast-track horizon, and a replay length."""
    first = draw(rulesets(1))
    shared = draw(st.lists(st.sampled_from(first), unique_by=id)) if first else []
    second = shared + draw(rulesets(100))
    specs = []
    for number, rules in enumerate((first, draw(st.permutations(second)) if second else second), start=1):
        specs.append(
            spec_of(
                *rules,
                id=number,
                number=number,
                mql_fit_min=draw(st.sampled_from([0, 10, 20])),
                mql_engagement_min=draw(st.sampled_from([0, 5, 15])),
                required_fields=tuple(
                    draw(st.lists(st.sampled_from(["email", "title", "account"]), max_size=2, unique=True))
                ),
                excluded_title_pattern=draw(st.sampled_from(["", "student|looking for"])),
                excluded_industries=frozenset(draw(st.sampled_from([set(), {"government"}]))),
                competitor_domains=frozenset(draw(st.sampled_from([set(), {"rival.io"}]))),
                fast_track=draw(st.sampled_from([(), ("demo_request", "free_trial"), ("webinar",)])),
                fast_track_days=draw(st.sampled_from([3, 30, 90])),
                sal_enabled=draw(st.booleans()),
            )
        )
    days = draw(st.sampled_from([7, 8, 13, 14, 30, 45, 90]))
    n_contacts = draw(st.integers(0, 7))
    contacts = []
    for cid in range(1, n_contacts + 1):
        record = {"contact_id": cid * 3, "account_id": draw(st.sampled_from([None, 1, 2]))}
        record["email"] = draw(st.sampled_from(["a@acme.com", "b@gmail.com", "c@rival.io", "zoë@über.de"]))
        for name, strategy in FIELDS.items():
            record[name] = draw(strategy)
        record["account.technologies"] = draw(st.sampled_from([(), ("HubSpot CRM",)]))
        contacts.append(record)

    def rows(entities, with_campaign=False):
        seen, out = set(), []
        for _ in range(draw(st.integers(0, 25)) if entities else 0):
            entity = draw(st.sampled_from(entities))
            age = draw(
                st.one_of(
                    st.sampled_from([-1, 0, 1, 6, 7, 8, 13, 14, 29, 30, 31, 44, 45, 46, 90, 91]),
                    st.integers(-3, 200),
                )
            )
            event_type, key = draw(st.sampled_from(TYPES)), draw(st.sampled_from(KEYS))
            campaign = draw(st.sampled_from([1, 2])) if with_campaign else None
            if (entity, age, event_type, key, campaign) in seen:
                continue
            seen.add((entity, age, event_type, key, campaign))
            row = (entity, T - age, event_type, key, draw(st.integers(1, 5)))
            out.append((*row, campaign) if with_campaign else row)
        return out

    ids = [c["contact_id"] for c in contacts]
    if contacts:
        pop = population(contacts, None, rows(ids), (), rows(ids, True))
    else:
        pop = population([{"contact_id": 1, "account_id": None, "email": "a@b.co"}])
        pop.contacts = pop.contacts.iloc[0:0]
    return specs, pop, days


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_one_pass_replay_equals_the_weekly_replay(world):
    specs, pop, days = world
    start, weeks = _weeks(days)
    timeline = Timeline.build(pop, [start, *weeks])  # shared by both rulesets, as whatif_compute does
    for spec in specs:
        expected = qualifications_weekly(spec, pop, weeks, start)
        got = qualifications(spec, timeline, weeks)
        pd.testing.assert_frame_equal(got, expected, check_index_type=False)
        # every week's engagement and MQL state, not only the first crossing
        scores = evaluate_timeline(spec, timeline)
        for j, day in enumerate([start, *weeks]):
            from_engine = evaluate_contacts(spec, pop, as_of=day)
            assert np.array_equal(scores.engagement[j], from_engine["engagement"].to_numpy())
            assert np.array_equal(scores.mql[j], from_engine["mql"].to_numpy())


def test_timeline_dates_must_increase():
    pop = population([{"contact_id": 1, "account_id": None, "email": "a@b.co"}])
    with pytest.raises(ValueError, match="increasing"):
        Timeline.build(pop, [AS_OF, AS_OF])


# --- in the database ------------------------------------------------------------------------------------
TODAY = datetime.date(2026, 6, 30)
EVENT_TYPES = ["page_view", "demo_request", "webinar", "free_trial"]
URLS = ["/pricing", "/pricing/ünï", "/careers", "/resources/roi-calculator", ""]
WORDS = ["Zoë", "Ærø", "北京", "O'Brien", 'Ünïcode, "quoted"', ""]


@st.composite
def db_worlds(draw):
    accounts = [
        {"name": f"{draw(st.sampled_from(WORDS))} {i}",
         "industry": draw(st.sampled_from(["Software", "Ünï", ""])),
         "employee_count": draw(st.sampled_from([None, 10, 300, 6000])), "domain": f"a{i}.com"}
        for i in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    contacts = []
    for i in range(draw(st.integers(1, 6))):
        contacts.append(
            {"account": draw(st.sampled_from([None, *range(len(accounts))])),
             "email": draw(st.sampled_from([f"p{i}@a.com", f"p{i}@gmail.com", f"zoë{i}@über.de"])),
             "first_name": draw(st.sampled_from(WORDS)),
             "title": draw(st.sampled_from(["VP Sales", "Student", ""])),
             "seniority": draw(st.sampled_from(["vp", "director", ""])),
             "department": draw(st.sampled_from(["marketing", "sales", ""])),
             "stage": draw(st.sampled_from(["lead", "mql", "sql", "opportunity"])),
             "sql_ago": draw(st.sampled_from([None, 3, 20, 60])),
             "activity": draw(st.lists(
                 st.tuples(st.integers(0, 150), st.sampled_from(EVENT_TYPES), st.sampled_from(URLS),
                           st.integers(1, 4)),
                 max_size=8, unique_by=lambda r: (r[0], r[1], r[2]))),
             })  # fmt: skip
    opportunities = [
        (draw(st.integers(0, max(len(accounts) - 1, 0))), draw(st.integers(0, 100)),
         draw(st.sampled_from(["engaging", "won", "lost"])))
        for _ in range(draw(st.integers(0, 3)) if accounts else 0)
    ]  # fmt: skip
    draft = {
        "mql_fit_min": draw(st.sampled_from([0, 10, 20])),
        "mql_engagement_min": draw(st.sampled_from([5, 8, 15])),
        "half_life": draw(st.sampled_from([None, 3.5, 7.0])),
        "window": draw(st.sampled_from([None, 14, 90])),
        "repeatable": draw(st.booleans()),
        "excluded_industries": draw(st.sampled_from([[], ["ünï"]])),
        "fast_track": draw(st.sampled_from([[], ["demo_request"], ["webinar", "free_trial"]])),
        "sal_enabled": draw(st.booleans()),
    }
    return accounts, contacts, opportunities, draft, draw(st.sampled_from([7, 30, 90])), draw(st.booleans())


def _seed(accounts, contacts, opportunities, draft_settings):
    made = [
        Account.objects.create(
            name=a["name"], industry=a["industry"], employee_count=a["employee_count"], domain=a["domain"]
        )
        for a in accounts
    ]
    for c in contacts:
        contact = Contact.objects.create(
            account=made[c["account"]] if c["account"] is not None else None, email=c["email"],
            first_name=c["first_name"], title=c["title"], seniority=c["seniority"],
            department=c["department"], lifecycle_stage=c["stage"],
        )  # fmt: skip
        ContactActivityDaily.objects.bulk_create(
            ContactActivityDaily(
                contact=contact,
                account=contact.account,
                day=TODAY - datetime.timedelta(days=ago),
                event_type=event_type,
                key=key,
                count=count,
            )  # fmt: skip
            for ago, event_type, key, count in c["activity"]
        )
        if c["sql_ago"] is not None:
            LifecycleTransition.objects.create(
                contact=contact, from_stage="mql", to_stage="sql",
                at=datetime.datetime.combine(TODAY, datetime.time(12), datetime.UTC)
                - datetime.timedelta(days=c["sql_ago"]),
            )  # fmt: skip
    for index, ago, stage in opportunities:
        Opportunity.objects.create(
            account=made[index], name=f"Deal ünï {ago}", stage=stage,
            created_date=TODAY - datetime.timedelta(days=ago), amount=1000,
        )  # fmt: skip
    published = Ruleset.objects.get(status=RulesetStatus.PUBLISHED)
    draft = Ruleset.objects.create(
        number=2, name="Draft ✓", based_on=published, mql_fit_min=draft_settings["mql_fit_min"],
        mql_engagement_min=draft_settings["mql_engagement_min"], required_fields=published.required_fields,
        excluded_title_pattern=published.excluded_title_pattern,
        excluded_industries=draft_settings["excluded_industries"],
        fast_track_event_types=draft_settings["fast_track"], sal_enabled=draft_settings["sal_enabled"],
    )  # fmt: skip
    for rule in published.rules.all():
        rule.pk, rule.ruleset = None, draft
        if rule.url_pattern == "^/pricing":
            rule.half_life_days = draft_settings["half_life"]
            rule.window_days = draft_settings["window"]
            rule.repeatable = draft_settings["repeatable"]
        rule.save()
    return published, draft, made


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=db_worlds())
def test_whatif_compute_equals_its_weekly_reference(world):
    accounts, contacts, opportunities, draft_settings, days, segment = world
    with transaction.atomic():
        published, draft, made = _seed(accounts, contacts, opportunities, draft_settings)
        account_ids = [made[0].pk] if segment and made else None
        arguments = dict(ruleset=draft, baseline=published, days=days, as_of=TODAY, account_ids=account_ids)
        assert whatif_compute(**arguments) == whatif_compute(**arguments, replay="weekly")
        transaction.set_rollback(True)
    assert not Rule.objects.filter(ruleset__number=2).exists()


def test_timeline_refuses_unsorted_activity():
    pop = population(
        [{"contact_id": 1, "account_id": None, "email": "a@b.co"}],
        activity=[(1, T - 3, "page_view", "/pricing", 1), (1, T - 5, "page_view", "/pricing", 1)],
    )
    pop.activity = pop.activity.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="sorted"):
        Timeline.build(pop, [AS_OF])
