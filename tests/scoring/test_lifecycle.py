"""Sales decisions on the lifecycle (services) and the funnel computed from transitions."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.choices import LifecycleStage
from accounts.models import Contact
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring import lifecycle, metrics, selectors
from scoring.choices import RulesetStatus
from scoring.exceptions import WorkflowError
from scoring.models import DEFAULT_SQL_CHECKLIST, LifecycleTransition, Ruleset
from tests.accounts.factories import ContactFactory
from tests.scoring.factories import FAST_PASSWORD_HASHERS, LifecycleTransitionFactory, stub_notify

pytestmark = pytest.mark.django_db
ALL_CONFIRMED = dict.fromkeys(DEFAULT_SQL_CHECKLIST, True)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def notified(monkeypatch):
    return stub_notify(monkeypatch)


@pytest.fixture
def seller(user_in):
    return user_in(TeamKind.SALES, Role.MEMBER)


def sal_off():
    Ruleset.objects.filter(status=RulesetStatus.PUBLISHED).update(sal_enabled=False)


def stage(contact) -> str:
    return Contact.objects.get(pk=contact.pk).lifecycle_stage


def test_accept_moves_an_mql_to_sal_and_records_everything(
    seller, notified, django_capture_on_commit_callbacks
):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    with django_capture_on_commit_callbacks(execute=True):
        transition = lifecycle.contact_accept(contact=contact, user=seller, reason="Talked to her")
    assert (transition.from_stage, transition.to_stage) == ("mql", "sal")
    assert transition.actor == seller and transition.reason == "Talked to her"
    assert transition.ruleset == selectors.published_ruleset()
    assert contact.lifecycle_stage == "sal" and stage(contact) == "sal"
    assert notified == [{"transitions": [transition]}]
    record = ChangeRecord.objects.get(object_type__model="contact", object_id=str(contact.pk))
    assert (record.before["lifecycle_stage"], record.after["lifecycle_stage"], record.actor) == (
        "mql",
        "sal",
        seller,
    )
    assert ChangeRecord.objects.filter(object_type__model="lifecycletransition", action="create").count() == 1


def test_nothing_is_notified_when_the_transaction_fails(seller, notified, django_capture_on_commit_callbacks):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.LEAD)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WorkflowError):
        lifecycle.contact_accept(contact=contact, user=seller)
    assert notified == [] and not LifecycleTransition.objects.exists()


def test_accept_needs_the_sal_stage(seller, notified):
    sal_off()
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    with pytest.raises(WorkflowError, match="no SAL stage"):
        lifecycle.contact_accept(contact=contact, user=seller)
    assert stage(contact) == "mql"


@pytest.mark.parametrize(
    ("service", "kwargs", "current", "message"),
    [
        (lifecycle.contact_accept, {}, "lead", "is Lead: only MQL contacts can be accepted"),
        (
            lifecycle.contact_reject,
            {"reason_code": "not_a_fit"},
            "sql",
            "is SQL: only MQL or SAL contacts can be rejected",
        ),
        (lifecycle.contact_qualify, {"checklist": ALL_CONFIRMED}, "lead", "is Lead: only SAL contacts"),
        (
            lifecycle.contact_recycle,
            {"reason_code": "timing"},
            "lead",
            "is Lead: only MQL, SAL, SQL or Opportunity contacts",
        ),
        (lifecycle.contact_reopen, {"reason": "x"}, "recycled", "is Recycled: only Disqualified"),
    ],
)
def test_a_wrong_stage_says_where_the_contact_is(seller, notified, service, kwargs, current, message):
    contact = ContactFactory(lifecycle_stage=current)
    with pytest.raises(WorkflowError, match=message):
        service(contact=contact, user=seller, **kwargs)
    assert stage(contact) == current and not LifecycleTransition.objects.exists()


def test_reject_recycles_or_disqualifies_with_a_reason_code(seller, notified):
    mql, sal = ContactFactory(lifecycle_stage="mql"), ContactFactory(lifecycle_stage="sal")
    recycled = lifecycle.contact_reject(contact=mql, user=seller, reason_code="no_budget", reason=" Q3 ")
    assert (recycled.to_stage, recycled.decision, recycled.reason_code, recycled.reason) == (
        "recycled",
        "reject",
        "no_budget",
        "Q3",
    )
    out = lifecycle.contact_reject(contact=sal, user=seller, reason_code="junk", disqualify=True)
    assert (out.to_stage, out.reason_code, out.reason) == ("disqualified", "junk", "")
    assert (stage(mql), stage(sal)) == ("recycled", "disqualified")


@pytest.mark.parametrize(
    ("service", "code", "reason", "field", "words"),
    [
        (lifecycle.contact_reject, "", "Not now", "reason_code", "Choose a reason code: one of not_a_fit"),
        (lifecycle.contact_reject, "nurture", "", "reason_code", "“nurture” is not a reject reason"),
        (lifecycle.contact_reject, "other", "  ", "reason", "the reason code is “other”"),
        (lifecycle.contact_recycle, None, "", "reason_code", "one of no_response (No response)"),
        (lifecycle.contact_recycle, "duplicate", "", "reason_code", "“duplicate” is not a recycle reason"),
        (lifecycle.contact_recycle, "other", "", "reason", "the reason code is “other”"),
    ],
)
def test_a_missing_or_unknown_reason_code_changes_nothing(
    seller, notified, service, code, reason, field, words
):
    contact = ContactFactory(lifecycle_stage="mql")
    records = ChangeRecord.objects.count()
    with pytest.raises(ValidationError) as caught:
        service(contact=contact, user=seller, reason_code=code, reason=reason)
    assert list(caught.value.message_dict) == [field] and words in caught.value.message_dict[field][0]
    assert stage(contact) == "mql" and not LifecycleTransition.objects.exists()
    assert ChangeRecord.objects.count() == records and notified == []


def test_every_decision_is_named_on_its_transition(seller, notified):
    contact = ContactFactory(lifecycle_stage="mql")
    decisions = [
        lifecycle.contact_accept(contact=contact, user=seller).decision,
        lifecycle.contact_qualify(contact=contact, user=seller, checklist=ALL_CONFIRMED).decision,
        lifecycle.contact_recycle(contact=contact, user=seller, reason_code="stalled").decision,
    ]
    assert decisions == ["accept", "qualify", "recycle"]


def test_qualify_needs_every_checklist_item(seller, notified):
    contact = ContactFactory(lifecycle_stage="sal")
    partial = {**ALL_CONFIRMED, DEFAULT_SQL_CHECKLIST[0]: False}
    missing = dict(list(ALL_CONFIRMED.items())[1:])
    unknown = {**ALL_CONFIRMED, "Likes golf": True}
    for checklist in (partial, missing, unknown, {}):
        with pytest.raises(ValidationError) as caught:
            lifecycle.contact_qualify(contact=contact, user=seller, checklist=checklist)
        assert "checklist" in caught.value.message_dict
    assert stage(contact) == "sal"
    transition = lifecycle.contact_qualify(
        contact=contact, user=seller, checklist=ALL_CONFIRMED, reason="Budget"
    )
    assert transition.to_stage == "sql" and transition.checklist == ALL_CONFIRMED


def test_mql_goes_to_sql_directly_only_without_sal(seller, notified):
    contact = ContactFactory(lifecycle_stage="mql")
    with pytest.raises(WorkflowError, match="accept it as SAL first"):
        lifecycle.contact_qualify(contact=contact, user=seller, checklist=ALL_CONFIRMED)
    sal_off()
    transition = lifecycle.contact_qualify(contact=contact, user=seller, checklist=ALL_CONFIRMED)
    assert (transition.from_stage, transition.to_stage) == ("mql", "sql")


@pytest.mark.parametrize("current", ["mql", "sal", "sql", "opportunity"])
def test_recycle_from_any_working_stage(seller, notified, current):
    contact = ContactFactory(lifecycle_stage=current)
    assert (
        lifecycle.contact_recycle(
            contact=contact, user=seller, reason_code="no_budget", reason="Budget frozen"
        ).from_stage
        == current
    )
    assert stage(contact) == "recycled"


def test_reopen_a_disqualified_contact(seller, notified):
    contact = ContactFactory(lifecycle_stage="disqualified")
    with pytest.raises(ValidationError):
        lifecycle.contact_reopen(contact=contact, user=seller, reason="")
    assert lifecycle.contact_reopen(contact=contact, user=seller, reason="New job").to_stage == "lead"


@pytest.mark.parametrize(
    ("kind", "role", "allowed"),
    [
        (TeamKind.SALES, Role.LEAD, True),
        (TeamKind.BDR, Role.MEMBER, True),
        (TeamKind.REVENUE_OPERATIONS, Role.MEMBER, True),
        (TeamKind.SALES, Role.VIEWER, False),
        (TeamKind.MARKETING, Role.MEMBER, False),
        (TeamKind.MARKETING, Role.LEAD, False),
        (TeamKind.CUSTOMER_SUCCESS, Role.LEAD, False),
    ],
)
def test_who_decides(user_in, notified, kind, role, allowed):
    contact = ContactFactory(lifecycle_stage="mql")
    user = user_in(kind, role)
    if allowed:
        assert lifecycle.contact_accept(contact=contact, user=user).actor == user
    else:
        with pytest.raises(PermissionDenied, match="sales, BDR/SDR or revenue-operations"):
            lifecycle.contact_accept(contact=contact, user=user)
        assert stage(contact) == "mql"


def test_outsider_cannot_decide(outsider, notified):
    with pytest.raises(PermissionDenied):
        lifecycle.contact_recycle(
            contact=ContactFactory(lifecycle_stage="mql"), user=outsider, reason_code="timing"
        )


# --- the funnel -------------------------------------------------------------------------------------
def _at(month: int, day: int) -> datetime.datetime:
    year = 2024 if month == 12 else 2025
    return datetime.datetime(year, month, day, 12, tzinfo=datetime.UTC)


def _history(contact, created, *moves):
    """Give ``contact`` a creation time and transitions ``(from, to, (month, day))``."""
    Contact.objects.filter(pk=contact.pk).update(created=_at(*created))
    for from_stage, to_stage, when in moves:
        LifecycleTransitionFactory(contact=contact, from_stage=from_stage, to_stage=to_stage, at=_at(*when))


@pytest.fixture
def known_history():
    """Seven contacts through January 2025 (one before, one after); days between moves are whole."""
    c = [ContactFactory() for _ in range(8)]
    _history(c[0], (1, 1), ("lead", "mql", (1, 2)), ("mql", "sal", (1, 4)), ("sal", "sql", (1, 10)),
             ("sql", "opportunity", (1, 20)))  # fmt: skip
    _history(c[1], (1, 1), ("lead", "mql", (1, 5)), ("mql", "sal", (1, 9)), ("sal", "recycled", (1, 12)))
    _history(c[2], (1, 1), ("lead", "mql", (1, 10)), ("mql", "disqualified", (1, 11)))
    _history(c[3], (12, 1), ("lead", "mql", (12, 20)), ("mql", "sal", (1, 3)))  # MQL before the period
    _history(c[4], (1, 1), ("lead", "mql", (1, 15)), ("mql", "sql", (1, 18)))  # SAL skipped
    _history(c[5], (2, 1), ("lead", "mql", (2, 5)))  # after the period
    _history(c[6], (1, 1), ("lead", "mql", (1, 20)), ("mql", "sal", (1, 26)))
    _history(c[7], (1, 1))  # created, never an MQL
    return c


def test_funnel_numbers_on_a_known_history(known_history, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        funnel = metrics.lifecycle_funnel(since=datetime.date(2025, 1, 1), until=datetime.date(2025, 1, 31))
    steps = {(s["from"], s["to"]): s for s in funnel["steps"]}
    summary = {
        key: (s["entered"], s["converted"], s["rate"], s["median_days"], s["mean_days"])
        for key, s in steps.items()
    }
    assert summary == {
        ("lead", "mql"): (6, 5, 0.8333, 9.0, 9.4),  # 1, 4, 9, 14, 19 days after creation
        ("mql", "sal"): (5, 3, 0.6, 4.0, 4.0),  # 2, 4, 6 days
        ("sal", "sql"): (4, 1, 0.25, 6.0, 6.0),
        ("mql", "sql"): (5, 1, 0.2, 3.0, 3.0),  # direct only
        ("sql", "opportunity"): (2, 1, 0.5, 10.0, 10.0),
        ("opportunity", "customer"): (1, 0, 0.0, None, None),
    }
    assert (
        steps[("mql", "sql")]["direct_only"] and steps[("mql", "sql")]["label"] == "MQL → SQL (SAL skipped)"
    )
    assert funnel["recycled"] == {"transitions": 1, "contacts": 1}
    assert funnel["disqualified"] == {"transitions": 1, "contacts": 1}
    assert funnel["reopened"] == {"transitions": 0, "contacts": 0}


def test_funnel_counts_a_contact_once_at_its_first_entry(known_history):
    # c[1] is recycled, becomes an MQL again later in January and is accepted the next day.
    _history(known_history[1], (1, 1), ("recycled", "mql", (1, 25)), ("mql", "sal", (1, 26)))
    funnel = metrics.lifecycle_funnel(since=datetime.date(2025, 1, 1), until=datetime.date(2025, 1, 31))
    step = next(s for s in funnel["steps"] if (s["from"], s["to"]) == ("mql", "sal"))
    assert (step["entered"], step["converted"]) == (5, 3)  # c[1] still counted once, from its first entry


def test_funnel_of_an_empty_period():
    funnel = metrics.lifecycle_funnel(since=datetime.date(2030, 1, 1), until=datetime.date(2030, 1, 2))
    assert all(s["entered"] == 0 and s["rate"] is None and s["median_days"] is None for s in funnel["steps"])


# --- reject and recycle reasons ----------------------------------------------------------------------
def _decided(seller, decision, code, when, to_stage="recycled"):
    return LifecycleTransitionFactory(
        from_stage="mql", to_stage=to_stage, at=_at(*when), actor=seller, rule="", decision=decision,
        reason_code=code,
    )  # fmt: skip


def test_reasons_are_counted_per_decision_and_code_over_the_period(seller, django_assert_max_num_queries):
    _decided(seller, "reject", "no_budget", (1, 5))
    _decided(seller, "reject", "no_budget", (1, 6), to_stage="disqualified")
    _decided(seller, "reject", "junk", (1, 31))
    _decided(seller, "recycle", "no_budget", (1, 10))  # the same code under the other decision
    _decided(seller, "reject", "junk", (2, 1))  # after the period
    _decided(seller, "", "", (1, 7))  # a person's move before codes were recorded
    LifecycleTransitionFactory(from_stage="mql", to_stage="recycled", at=_at(1, 8))  # automatic: not counted
    with django_assert_max_num_queries(2):
        reasons = selectors.lifecycle_reasons(
            since=datetime.date(2025, 1, 1), until=datetime.date(2025, 1, 31)
        )
    reject = reasons["reject"]
    assert reject["total"] == 3
    assert [(r["code"], r["count"]) for r in reject["reasons"][:3]] == [
        ("no_budget", 2),
        ("junk", 1),
        ("not_a_fit", 0),
    ]
    assert reject["reasons"][0]["share"] == pytest.approx(2 / 3) and reject["reasons"][2]["share"] == 0
    assert {r["code"] for r in reject["reasons"]} == {str(c) for c in lifecycle.reason_codes("reject")}
    recycle = reasons["recycle"]
    assert recycle["total"] == 1 and recycle["reasons"][0] == {
        "code": "no_budget", "label": "No budget", "count": 1, "share": 1.0,
    }  # fmt: skip
    assert reasons["uncoded"] == 1


def test_reasons_of_an_empty_period_have_no_share():
    reasons = selectors.lifecycle_reasons(since=datetime.date(2030, 1, 1), until=datetime.date(2030, 1, 2))
    assert reasons["reject"]["total"] == 0 and all(r["share"] is None for r in reasons["reject"]["reasons"])
    assert reasons["uncoded"] == 0
