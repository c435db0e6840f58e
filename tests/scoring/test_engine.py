"""The rules engine's maths, and the property that its two implementations agree to the last bit."""

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scoring.engine.rules import (
    Population,
    RulesetSpec,
    RuleSpec,
    account_explanation_for,
    day_ordinal,
    empty_activity,
    evaluate,
    explanation_for,
    score_account,
    score_contact,
)

AS_OF = datetime.date(2026, 6, 30)
T = day_ordinal(AS_OF)


def spec_of(*rules, **kwargs) -> RulesetSpec:
    defaults = dict(
        id=1, number=1, rules=tuple(rules), mql_fit_min=10, mql_engagement_min=10, recycle_below=5,
        free_mail_domains=frozenset({"gmail.com"}), fast_track=("demo_request", "free_trial"),
    )  # fmt: skip
    defaults.update(kwargs)
    return RulesetSpec(**defaults)


def population(
    contacts: list[dict], accounts: list[dict] | None = None, activity=(), anonymous=(), campaign=()
):
    base = {"custom": None, "account.custom": None, "account.technologies": ()}
    frame = pd.DataFrame([{**base, **c} for c in contacts]).sort_values("contact_id").reset_index(drop=True)
    frame["account_id"] = frame["account_id"].astype("float64")
    accounts = accounts or [
        {"account_id": int(a)}
        for a in sorted({c["account_id"] for c in contacts if c["account_id"] is not None})
    ]
    acc = pd.DataFrame([{"account.custom": None, "account.technologies": (), **a} for a in accounts])
    if not len(acc):
        acc = pd.DataFrame({"account_id": pd.Series(dtype="int64")})

    def frame_of(rows, with_campaign=False):
        if not rows:
            return empty_activity(with_campaign)
        cols = ["entity", "day", "event_type", "key", "count"] + (["campaign_id"] if with_campaign else [])
        return pd.DataFrame(rows, columns=cols).sort_values(cols[:4], kind="stable").reset_index(drop=True)

    return Population(
        contacts=frame,
        accounts=acc.sort_values("account_id").reset_index(drop=True),
        activity=frame_of(list(activity)),
        anonymous=frame_of(list(anonymous)),
        campaign_activity=frame_of(list(campaign), True),
        anonymous_campaign=empty_activity(True),
    )


# --- worked examples ----------------------------------------------------------------------------------
def test_repeatable_rule_decays_and_caps():
    pricing = RuleSpec(
        id=1, name="Pricing", kind="engagement", points=10, url_pattern="^/pricing", repeatable=True,
        half_life_days=7, cap=25,
    )  # fmt: skip
    pop = population(
        [{"contact_id": 1, "account_id": None, "email": "a@x.com"}],
        activity=[(1, T, "page_view", "/pricing", 1), (1, T - 7, "page_view", "/pricing", 2)],
    )
    contacts, _ = evaluate(spec_of(pricing), pop, as_of=AS_OF)
    # today: 10 × 1; a week ago two visits at half weight: 10 × 2 × 0.5 → 20 (under the cap)
    assert contacts.loc[0, "engagement"] == 20.0
    pop = population(
        [{"contact_id": 1, "account_id": None, "email": "a@x.com"}],
        activity=[(1, T, "page_view", "/pricing", 5)],
    )
    contacts, _ = evaluate(spec_of(pricing), pop, as_of=AS_OF)
    assert contacts.loc[0, "engagement"] == 25.0  # capped


def test_negative_points_window_min_count_and_future_rows():
    careers = RuleSpec(
        id=1, name="Careers", kind="engagement", points=-10, url_pattern="^/careers", repeatable=True,
        window_days=30,
    )  # fmt: skip
    webinars = RuleSpec(
        id=2, name="Webinars", kind="engagement", points=15, event_type="webinar", min_count=2
    )
    rows = [
        (1, T - 40, "page_view", "/careers", 3),  # outside the window
        (1, T - 1, "page_view", "/careers/apply", 1),
        (1, T + 2, "page_view", "/careers", 9),  # after as_of: not known then
        (1, T - 3, "webinar", "/webinars/a", 1),  # only one webinar: below min_count
    ]
    pop = population([{"contact_id": 1, "account_id": None, "email": "a@x.com"}], activity=rows)
    contacts, _ = evaluate(spec_of(careers, webinars), pop, as_of=AS_OF)
    assert contacts.loc[0, "engagement"] == -10.0
    assert explanation_for(contacts, 0) == [[1, "Careers", -10.0]]


def test_fit_operators_exclusions_and_mql():
    rules = [
        RuleSpec(id=1, name="Senior", kind="fit", points=15, field="seniority", operator="in",
                 value=["vp", "c_level"]),
        RuleSpec(id=2, name="Size", kind="fit", points=10, field="account.employee_count", operator="range",
                 value={"min": 200, "max": 5000}),
        RuleSpec(id=3, name="CRM", kind="fit", points=5, field="account.technologies", operator="equals",
                 value="HubSpot CRM"),
        RuleSpec(id=4, name="Tier", kind="fit", points=3, field="custom.tier", operator="regex",
                 value="^gold"),
        RuleSpec(id=5, name="Domain", kind="fit", points=2, field="email", operator="email_domain",
                 value=["acme.com"]),
        RuleSpec(id=6, name="Demo", kind="engagement", points=30, event_type="demo_request"),
    ]  # fmt: skip
    contacts = [
        {"contact_id": 1, "account_id": 7, "email": "ceo@acme.com", "first_name": "A", "last_name": "B",
         "seniority": "VP", "custom": {"tier": "Gold+"}, "account.employee_count": 200.0,
         "account.technologies": ("HubSpot CRM", "Snowflake")},
        {"contact_id": 2, "account_id": 7, "email": "kid@gmail.com", "first_name": "C", "last_name": "D",
         "seniority": "vp", "title": "Student", "account.employee_count": 5001.0},
        {"contact_id": 3, "account_id": None, "email": "x@y.com", "seniority": "vp"},
    ]  # fmt: skip
    spec = spec_of(
        *rules, required_fields=("email", "first_name", "account"), excluded_title_pattern="student"
    )
    pop = population(contacts, activity=[(1, T - 2, "demo_request", "/demo", 1)])
    frame, accounts = evaluate(spec, pop, as_of=AS_OF)
    first, second, third = (frame.iloc[i] for i in range(3))
    assert first["fit"] == 35.0 and first["engagement"] == 30.0 and first["mql"]
    assert (first["fit_grade"], first["engagement_grade"]) == ("B", "2")
    assert first["fast_track"] == "demo_request" and first["fast_track_day"] == T - 2
    assert second["excluded"] == "free-mail address (gmail.com)" and not second["mql"]
    assert third["missing"] == "first_name,account"
    # the account: best fit of its non-excluded contacts, their engagement summed
    assert accounts.loc[0, "fit"] == 35.0 and accounts.loc[0, "engagement"] == 30.0


# --- the two engines agree ------------------------------------------------------------------------------
TYPES = ["page_view", "webinar", "demo_request", "free_trial", "email_click", "intent"]
KEYS = ["/pricing", "/careers", "/careers/apply", "/blog/a", "crm software", ""]
FIELDS = {
    "seniority": st.sampled_from(["vp", "manager", "VP", "", None]),
    "department": st.sampled_from(["sales", "marketing", "it", None]),
    "title": st.sampled_from(["Student", "Head of Sales", "Looking for opportunities", "", None]),
    "country": st.sampled_from(["US", "DE", "", None]),
    "account.industry": st.sampled_from(["Software", "Government", "", None]),
    "account.employee_count": st.sampled_from([None, 10.0, 200.0, 1500.0, float("nan")]),
    "account.country": st.sampled_from(["US", "FR", None]),
    "account.domain": st.sampled_from(["acme.com", "rival.io", None]),
}


@st.composite
def fit_rules(draw, rule_id):
    path = draw(
        st.sampled_from([*FIELDS, "email", "account.technologies", "custom.tier", "account.custom.seg"])
    )
    operator = draw(st.sampled_from(["equals", "in", "contains", "range", "regex", "email_domain"]))
    value = {
        "equals": st.sampled_from(["vp", "VP ", "software", "200", "hubspot crm", "gold"]),
        "in": st.lists(st.sampled_from(["vp", "sales", "us", "software", "acme.com", "Snowflake"]),
                       max_size=3),
        "contains": st.sampled_from(["stud", "sales", "o", "soft"]),
        "range": st.fixed_dictionaries({"min": st.sampled_from([None, 0, 100, 200]),
                                        "max": st.sampled_from([None, 1000, 5000])}),
        "regex": st.sampled_from(["^v", "sales|market", "^gold", "oft"]),
        "email_domain": st.lists(st.sampled_from(["acme.com", "gmail.com", "rival.io"]), max_size=2),
    }[operator]  # fmt: skip
    return RuleSpec(
        id=rule_id, name=f"fit {rule_id}", kind="fit", field=path, operator=operator, value=draw(value),
        points=draw(st.integers(-20, 30)) + draw(st.sampled_from([0, 0.5, 0.25])),
    )  # fmt: skip


@st.composite
def engagement_rules(draw, rule_id):
    return RuleSpec(
        id=rule_id,
        name=f"engagement {rule_id}",
        kind="engagement",
        event_type=draw(st.sampled_from(["", *TYPES])),
        url_pattern=draw(st.sampled_from(["", "^/careers", "pricing", "^/"])),
        topic=draw(st.sampled_from(["", "", "crm software"])),
        campaign_id=draw(st.sampled_from([None, None, 1, 2])),
        min_count=draw(st.integers(1, 3)),
        window_days=draw(st.sampled_from([None, 1, 7, 30, 90])),
        points=draw(st.floats(-15, 30, allow_nan=False).map(lambda x: round(x, 3))),
        repeatable=draw(st.booleans()),
        cap=draw(st.sampled_from([None, 5.0, 12.5, 40.0])),
        half_life_days=draw(st.sampled_from([None, 1.0, 7.0, 14.0, 30.5])),
    )


@st.composite
def worlds(draw):
    n_fit, n_eng = draw(st.integers(0, 4)), draw(st.integers(0, 5))
    rules = [draw(fit_rules(i + 1)) for i in range(n_fit)]
    rules += [draw(engagement_rules(n_fit + i + 1)) for i in range(n_eng)]
    rules = draw(st.permutations(rules)) if rules else rules
    spec = spec_of(
        *rules,
        mql_fit_min=draw(st.sampled_from([0, 10, 20])),
        mql_engagement_min=draw(st.sampled_from([0, 5, 15])),
        fit_a=30, fit_b=10, engagement_1=30, engagement_2=10,
        required_fields=tuple(draw(st.lists(st.sampled_from(["email", "title", "account", "custom.tier"]),
                                            max_size=2, unique=True))),
        excluded_title_pattern=draw(st.sampled_from(["", "student|looking for"])),
        excluded_industries=frozenset(draw(st.sampled_from([set(), {"government"}]))),
        excluded_countries=frozenset(draw(st.sampled_from([set(), {"FR"}]))),
        competitor_domains=frozenset(draw(st.sampled_from([set(), {"rival.io"}]))),
        fast_track_days=draw(st.sampled_from([30, 90])),
    )  # fmt: skip
    n_contacts = draw(st.integers(1, 6))
    contacts = []
    for cid in range(1, n_contacts + 1):
        record = {"contact_id": cid * 3, "account_id": draw(st.sampled_from([None, 1, 2]))}
        record["email"] = draw(st.sampled_from(["a@acme.com", "b@gmail.com", "c@rival.io", "bad-address"]))
        record["first_name"] = draw(st.sampled_from(["Ann", ""]))
        for name, strategy in FIELDS.items():
            record[name] = draw(strategy)
        record["custom"] = draw(st.sampled_from([None, {}, {"tier": "Gold"}, {"tier": ["gold", "x"]}]))
        record["account.custom"] = draw(st.sampled_from([None, {"seg": "SMB"}]))
        record["account.technologies"] = draw(
            st.sampled_from([(), ("HubSpot CRM",), ("Snowflake", "HubSpot CRM")])
        )
        contacts.append(record)
    accounts = [
        {"account_id": a, "account.industry": draw(FIELDS["account.industry"]),
         "account.employee_count": draw(FIELDS["account.employee_count"]),
         "account.technologies": draw(st.sampled_from([(), ("Snowflake",)]))}
        for a in (1, 2)
    ]  # fmt: skip

    def rows(entities, with_campaign=False):
        keys = set()
        out = []
        for _ in range(draw(st.integers(0, 12))):
            entity = draw(st.sampled_from(entities))
            # ages on and around the windows (1, 7, 30, 90) and the fast-track horizon, or anywhere
            day = T - draw(
                st.one_of(st.sampled_from([-1, 0, 1, 2, 6, 7, 8, 29, 30, 31, 89, 90]), st.integers(-3, 100))
            )
            event_type, key = draw(st.sampled_from(TYPES)), draw(st.sampled_from(KEYS))
            campaign = draw(st.sampled_from([1, 2])) if with_campaign else None
            unique = (entity, day, event_type, key, campaign)
            if unique in keys:
                continue
            keys.add(unique)
            row = (entity, day, event_type, key, draw(st.integers(1, 5)))
            out.append((*row, campaign) if with_campaign else row)
        return out

    ids = [c["contact_id"] for c in contacts]
    return spec, population(contacts, accounts, rows(ids), rows([1, 2]), rows(ids, True))


def _scalar_rows(frame, entity, with_campaign=False):
    part = frame[frame["entity"] == entity]
    cols = ["day", "event_type", "key", "count"] + (["campaign_id"] if with_campaign else [])
    return [tuple(r) for r in part[cols].itertuples(index=False)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_vectorised_and_scalar_engines_agree(world):
    spec, pop = world
    frame, accounts = evaluate(spec, pop, as_of=AS_OF)
    results = {}
    for i in range(len(pop.contacts)):
        record = pop.contact_record(i)
        cid = record["contact_id"]
        one = score_contact(
            spec, record, _scalar_rows(pop.activity, cid), _scalar_rows(pop.campaign_activity, cid, True),
            as_of=AS_OF,
        )  # fmt: skip
        results[cid] = one
        row = frame.iloc[i]
        assert (one.fit, one.engagement) == (row["fit"], row["engagement"])
        assert (one.fit_grade, one.engagement_grade) == (row["fit_grade"], row["engagement_grade"])
        assert (one.excluded, one.missing, one.mql) == (row["excluded"], row["missing"], bool(row["mql"]))
        assert (one.fast_track, one.fast_track_day if one.fast_track_day is not None else -1) == (
            row["fast_track"],
            row["fast_track_day"],
        )
        assert one.explanation == explanation_for(frame, i)
    for j in range(len(pop.accounts)):
        record = pop.accounts.iloc[j].to_dict()
        aid = int(record["account_id"])
        members = [
            results[c]
            for c in sorted(results)
            if pop.contacts.set_index("contact_id").loc[c, "account_id"] == aid
        ]
        one = score_account(spec, record, members, _scalar_rows(pop.anonymous, aid), as_of=AS_OF)
        row = accounts.iloc[j]
        assert (one.fit, one.engagement, one.anonymous_engagement) == (
            row["fit"],
            row["engagement"],
            row["anonymous_engagement"],
        )
        assert (one.fit_grade, one.engagement_grade) == (row["fit_grade"], row["engagement_grade"])
        assert one.explanation == account_explanation_for(accounts, j)


def test_empty_population():
    pop = population([{"contact_id": 1, "account_id": None, "email": "a@b.co"}])
    pop.contacts = pop.contacts.iloc[0:0]
    frame, accounts = evaluate(spec_of(), pop, as_of=AS_OF)
    assert frame.empty and accounts.empty


@pytest.mark.parametrize(
    "half_life,age,expected", [(7, 0, 10.0), (7, 7, 5.0), (7, 14, 2.5), (None, 50, 10.0)]
)
def test_once_only_rule_decays_by_its_newest_match(half_life, age, expected):
    rule = RuleSpec(
        id=1, name="Webinar", kind="engagement", points=10, event_type="webinar", half_life_days=half_life
    )
    pop = population(
        [{"contact_id": 1, "account_id": None, "email": "a@x.com"}],
        activity=[(1, T - age, "webinar", "", 1), (1, T - age - 3, "webinar", "", 4)],
    )
    frame, _ = evaluate(spec_of(rule), pop, as_of=AS_OF)
    assert np.isclose(frame.loc[0, "engagement"], expected)


def _plain_fit_predicate(rule: RuleSpec):
    """The fit predicate as it was written before its targets were prepared once (the reference)."""
    from scoring.engine.rules import _email_domain, _number, _regex, _text

    op, target = rule.operator, rule.value

    def scalar(value):
        if op == "range":
            number = _number(value)
            if number is None:
                return False
            bounds = target or {}
            low, high = _number(bounds.get("min")), _number(bounds.get("max"))
            return (low is None or number >= low) and (high is None or number <= high)
        text = _text(value)
        if text is None:
            return False
        if op == "equals":
            return text == _text(target)
        if op == "in":
            return text in {_text(v) for v in (target or [])}
        if op == "contains":
            needle = _text(target)
            return needle is not None and needle in text
        if op == "regex":
            return bool(_regex(str(target)).search(text))
        if op == "email_domain":
            return _email_domain(text) in {_text(v) for v in (target or [])}
        raise ValueError(f"unknown operator {op!r}")

    def predicate(value):
        if isinstance(value, list | tuple):
            return any(scalar(v) for v in value)
        return scalar(value)

    return predicate


_words = st.sampled_from(["SaaS", " saas ", "Fintech", "1", "1.0", "true", "a@x.com", "x.com", "", "Ünïcode"])
_scalars = (
    _words | st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True, allow_infinity=True)
)
_fit_values = _scalars | st.lists(_scalars, max_size=4).map(tuple)


@st.composite
def _fit_rules(draw):
    op = draw(st.sampled_from(["equals", "in", "contains", "regex", "email_domain", "range"]))
    if op == "range":
        bound = st.none() | st.floats(-5, 5) | st.sampled_from(["2", "x"])
        value = draw(st.none() | st.fixed_dictionaries({"min": bound, "max": bound}))
    elif op in ("in", "email_domain"):
        value = draw(st.none() | st.lists(_scalars, max_size=3))
    elif op == "regex":
        value = draw(st.sampled_from(["^saas$", "tech", "\\d", "x\\.com$"]))
    else:
        value = draw(_scalars)
    return RuleSpec(id=1, name="r", kind="fit", points=5, field="industry", operator=op, value=value)


@settings(max_examples=400, deadline=None)
@given(_fit_rules(), st.lists(_fit_values, max_size=12))
@example(
    RuleSpec(id=1, name="r", kind="fit", points=5, field="f", operator="equals", value="1"), [(True,), (1,)]
)
def test_the_fit_predicate_answers_as_the_plain_one(rule, values):
    """Targets prepared once and list elements answered once per predicate change no answer: the same
    values in any order, repeated (1, 1.0 and True among them), lists and missing ones."""
    from scoring.engine.rules import fit_predicate

    predicate, plain = fit_predicate(rule), _plain_fit_predicate(rule)
    for value in [*values, *values[::-1]]:
        assert predicate(value) == plain(value), value
