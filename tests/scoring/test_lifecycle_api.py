"""/api/lifecycle/… (transitions, sales decisions, funnel) and /api/contact-scores/ through the API."""

import datetime

import pytest

from accounts.models import Contact
from revops import services
from revops.choices import Role, TeamKind
from scoring.models import DEFAULT_SQL_CHECKLIST, LifecycleTransition
from scoring.rescore import contact_score_explanation
from tests.accounts.factories import ContactFactory
from tests.scoring.factories import (
    FAST_PASSWORD_HASHERS,
    ContactScoreFactory,
    ContactScoreHistoryFactory,
    LifecycleTransitionFactory,
    stub_notify,
)

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


def token_client(api_client, user, scopes):
    _, key = services.api_token_create(actor=user, user=user, name="t", scopes=scopes)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def stage(contact) -> str:
    return Contact.objects.get(pk=contact.pk).lifecycle_stage


# --- decisions --------------------------------------------------------------------------------------
def test_accept_through_the_api(client_for, seller, notified, django_capture_on_commit_callbacks):
    contact = ContactFactory(lifecycle_stage="mql")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(seller).post(
            f"/api/lifecycle/contacts/{contact.pk}/accept/", {"reason": "Called her"}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["from_stage"], body["to_stage"], body["actor_username"], body["reason"]) == (
        "mql",
        "sal",
        seller.username,
        "Called her",
    )
    assert body["ruleset_number"] == 1 and body["contact_email"] == contact.email
    assert stage(contact) == "sal" and len(notified) == 1


@pytest.mark.parametrize(
    ("action", "current", "payload", "to_stage"),
    [
        ("reject", "mql", {"reason_code": "no_budget", "reason": "Q3"}, "recycled"),
        ("reject", "sal", {"reason_code": "junk", "reason": "Student", "disqualify": True}, "disqualified"),
        ("qualify", "sal", {"checklist": ALL_CONFIRMED, "reason": "Demo booked"}, "sql"),
        ("recycle", "opportunity", {"reason_code": "stalled"}, "recycled"),
        ("reopen", "disqualified", {"reason": "Changed jobs"}, "lead"),
    ],
)
def test_each_decision(client_for, seller, notified, action, current, payload, to_stage):
    contact = ContactFactory(lifecycle_stage=current)
    response = client_for(seller).post(
        f"/api/lifecycle/contacts/{contact.pk}/{action}/", payload, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["to_stage"] == to_stage and stage(contact) == to_stage
    assert (body["decision"], body["reason_code"]) == (action, payload.get("reason_code", ""))


@pytest.mark.parametrize(
    ("action", "current", "payload", "field"),
    [
        ("reject", "mql", {}, "reason_code"),
        ("reject", "mql", {"reason": "No budget"}, "reason_code"),
        ("reject", "mql", {"reason_code": "", "reason": "x"}, "reason_code"),
        ("reject", "mql", {"reason_code": "nurture"}, "reason_code"),
        ("reject", "mql", {"reason_code": "other", "reason": " "}, "reason"),
        ("reject", "mql", {"reason_code": "junk", "disqualify": "maybe"}, "disqualify"),
        ("recycle", "sql", {}, "reason_code"),
        ("recycle", "sql", {"reason_code": "duplicate"}, "reason_code"),
        ("recycle", "sql", {"reason_code": ["timing"]}, "reason_code"),
        ("recycle", "sql", {"reason_code": "other"}, "reason"),
        ("recycle", "sql", {"reason_code": "timing", "colour": "red"}, "colour"),
        ("qualify", "sal", {}, "checklist"),
        ("qualify", "sal", {"checklist": {DEFAULT_SQL_CHECKLIST[0]: True}}, "checklist"),
        ("qualify", "sal", {"checklist": {**ALL_CONFIRMED, "Likes golf": True}}, "checklist"),
        ("qualify", "sal", {"checklist": ["a list"]}, "checklist"),
        ("reopen", "disqualified", {}, "reason"),
    ],
)
def test_bad_input_is_400_with_the_field_and_changes_nothing(
    client_for, seller, notified, action, current, payload, field
):
    contact = ContactFactory(lifecycle_stage=current)
    response = client_for(seller).post(
        f"/api/lifecycle/contacts/{contact.pk}/{action}/", payload, format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.content
    assert stage(contact) == current and not LifecycleTransition.objects.exists()


def test_wrong_stage_is_409_saying_where_it_is(client_for, seller, notified):
    contact = ContactFactory(lifecycle_stage="lead")
    response = client_for(seller).post(f"/api/lifecycle/contacts/{contact.pk}/accept/", {}, format="json")
    assert response.status_code == 409
    assert "is Lead: only MQL contacts can be accepted" in response.json()["detail"]


def test_unknown_contact_is_404(client_for, seller):
    assert (
        client_for(seller).post("/api/lifecycle/contacts/987654/accept/", {}, format="json").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (TeamKind.SALES, Role.VIEWER),
        (TeamKind.MARKETING, Role.MEMBER),
        (TeamKind.MARKETING, Role.LEAD),
        (TeamKind.CUSTOMER_SUCCESS, Role.LEAD),
    ],
)
def test_who_may_not_decide(client_for, user_in, notified, kind, role):
    contact = ContactFactory(lifecycle_stage="mql")
    response = client_for(user_in(kind, role)).post(
        f"/api/lifecycle/contacts/{contact.pk}/reject/", {"reason_code": "not_a_fit"}, format="json"
    )
    assert response.status_code == 403
    assert stage(contact) == "mql"


def test_outsider_read_token_and_anonymous_may_not_decide(client_for, api_client, outsider, seller, notified):
    contact = ContactFactory(lifecycle_stage="mql")
    url = f"/api/lifecycle/contacts/{contact.pk}/accept/"
    assert client_for(outsider).post(url, {}, format="json").status_code == 403
    assert api_client.post(url, {}, format="json").status_code in (401, 403)
    assert token_client(api_client, seller, ["read"]).post(url, {}, format="json").status_code == 403
    assert stage(contact) == "mql"
    assert token_client(api_client, seller, ["read", "write"]).post(url, {}, format="json").status_code == 201


def test_bdr_and_revops_members_decide(client_for, user_in, notified):
    for kind in (TeamKind.BDR, TeamKind.REVENUE_OPERATIONS):
        contact = ContactFactory(lifecycle_stage="mql")
        response = client_for(user_in(kind, Role.MEMBER)).post(
            f"/api/lifecycle/contacts/{contact.pk}/accept/", {}, format="json"
        )
        assert response.status_code == 201


@pytest.mark.parametrize(
    ("action", "payload", "listed"),
    [
        ("reject", {}, "not_a_fit (Not a fit (outside the ICP)), wrong_person"),
        ("reject", {"reason_code": "maybe"}, "“maybe” is not a reject reason: use one of not_a_fit"),
        ("recycle", {"reason_code": "junk"}, "“junk” is not a recycle reason: use one of no_response"),
    ],
)
def test_a_bad_reason_code_lists_the_valid_ones(client_for, seller, notified, action, payload, listed):
    contact = ContactFactory(lifecycle_stage="mql")
    response = client_for(seller).post(
        f"/api/lifecycle/contacts/{contact.pk}/{action}/", payload, format="json"
    )
    assert response.status_code == 400
    message = response.json()["reason_code"][0]
    assert listed in message and "other (Other (say why))" in message
    assert stage(contact) == "mql" and not LifecycleTransition.objects.exists()


def test_the_schema_documents_the_reason_codes(client_for, user_in):
    schema = client_for(user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert schema.status_code == 200
    components = schema.json()["components"]["schemas"]
    reject = components["LifecycleRejectRequest"]
    assert "reason_code" in reject["required"] and "reason" not in reject.get("required", [])
    paths = schema.json()["paths"]
    assert "/api/lifecycle/reasons/" in paths
    text = str(components)
    assert "not_a_fit" in text and "no_response" in text


# --- transitions ------------------------------------------------------------------------------------
def _at(day: int) -> datetime.datetime:
    return datetime.datetime(2025, 3, day, 12, tzinfo=datetime.UTC)


def test_transitions_list_filters_and_pages(client_for, user_in):
    viewer = user_in(TeamKind.MARKETING, Role.VIEWER)
    ada, bob = ContactFactory(), ContactFactory()
    LifecycleTransitionFactory(contact=ada, from_stage="lead", to_stage="mql", at=_at(1))
    LifecycleTransitionFactory(contact=ada, from_stage="mql", to_stage="sal", at=_at(5))
    LifecycleTransitionFactory(contact=bob, from_stage="lead", to_stage="mql", at=_at(10))
    client = client_for(viewer)
    rows = client.get("/api/lifecycle/transitions/").json()["results"]
    assert [r["at"][:10] for r in rows] == ["2025-03-10", "2025-03-05", "2025-03-01"]  # newest first
    assert len(client.get(f"/api/lifecycle/transitions/?contact={ada.pk}").json()["results"]) == 2
    assert len(client.get("/api/lifecycle/transitions/?to_stage=mql").json()["results"]) == 2
    dated = client.get("/api/lifecycle/transitions/?since=2025-03-05&until=2025-03-05").json()["results"]
    assert [r["to_stage"] for r in dated] == ["sal"]
    first = client.get("/api/lifecycle/transitions/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    assert len(client.get(first["next"]).json()["results"]) == 1
    assert client.get("/api/lifecycle/transitions/?since=yesterday").status_code == 400
    assert client.get("/api/lifecycle/transitions/?to_stage=limbo").status_code == 400
    assert client.get(f"/api/lifecycle/transitions/{rows[0]['id']}/").json()["contact"] == bob.pk


def test_an_automatic_moves_reason_reads_in_words(client_for, user_in):
    """Stored before it was worded for people ("engagement 21.4421", "demo request on 2025-03-01"), an
    automatic move's reason is read in today's words; a person's reason is theirs, as written."""
    ada = ContactFactory()
    LifecycleTransitionFactory(
        contact=ada, rule="MQL definition", reason="fit 45 ≥ 40 and engagement 21.4421 ≥ 20", at=_at(1)
    )
    LifecycleTransitionFactory(
        contact=ada,
        rule="fast-track",
        from_stage="mql",
        to_stage="sal",
        reason="free trial on 2025-03-04",
        at=_at(5),
    )
    LifecycleTransitionFactory(contact=ada, rule="", reason="Met 2.3456 people", at=_at(6))
    rows = client_for(user_in(TeamKind.MARKETING, Role.VIEWER)).get("/api/lifecycle/transitions/").json()
    assert [r["reason"] for r in rows["results"]] == [
        "Met 2.3456 people",
        "Free trial on 4 Mar 2025",
        "fit 45 ≥ 40 and engagement 21.4 ≥ 20",
    ]


def test_transitions_list_query_count(client_for, user_in, django_assert_max_num_queries):
    for _ in range(20):
        LifecycleTransitionFactory()
    client = client_for(user_in(TeamKind.SALES, Role.VIEWER))
    with django_assert_max_num_queries(8):
        response = client.get("/api/lifecycle/transitions/")
    assert len(response.json()["results"]) == 20


# --- funnel -----------------------------------------------------------------------------------------
def test_funnel_endpoint(client_for, user_in, outsider):
    contact = ContactFactory()
    LifecycleTransitionFactory(contact=contact, from_stage="lead", to_stage="mql", at=_at(1))
    LifecycleTransitionFactory(contact=contact, from_stage="mql", to_stage="sal", at=_at(4))
    client = client_for(user_in(TeamKind.SALES, Role.VIEWER))
    response = client.get("/api/lifecycle/funnel/?since=2025-03-01&until=2025-03-31")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["since"], body["until"]) == ("2025-03-01", "2025-03-31")
    step = next(s for s in body["steps"] if (s["from"], s["to"]) == ("mql", "sal"))
    assert (step["entered"], step["converted"], step["rate"], step["median_days"]) == (1, 1, 1.0, 3.0)
    assert client.get("/api/lifecycle/funnel/").status_code == 200  # default: the last 90 days
    assert "since" in client.get("/api/lifecycle/funnel/?since=2025-04-01&until=2025-03-01").json()
    assert "until" in client.get("/api/lifecycle/funnel/?until=someday").json()
    assert client_for(outsider).get("/api/lifecycle/funnel/").status_code == 403


def test_transitions_filter_by_decision_and_reason_code(client_for, user_in, seller):
    LifecycleTransitionFactory(to_stage="recycled", actor=seller, decision="reject", reason_code="junk")
    LifecycleTransitionFactory(to_stage="recycled", actor=seller, decision="recycle", reason_code="timing")
    LifecycleTransitionFactory()
    client = client_for(user_in(TeamKind.MARKETING, Role.VIEWER))
    rows = client.get("/api/lifecycle/transitions/?reason_code=junk").json()["results"]
    assert [(r["decision"], r["reason_code"]) for r in rows] == [("reject", "junk")]
    assert (
        len(client.get("/api/lifecycle/transitions/?decision=recycle&decision=reject").json()["results"]) == 2
    )
    assert client.get("/api/lifecycle/transitions/?reason_code=bored").status_code == 400


def test_reasons_endpoint(client_for, user_in, outsider, seller):
    LifecycleTransitionFactory(
        to_stage="recycled", actor=seller, at=_at(2), decision="reject", reason_code="junk"
    )
    LifecycleTransitionFactory(
        to_stage="recycled", actor=seller, at=_at(3), decision="reject", reason_code="junk"
    )
    LifecycleTransitionFactory(
        to_stage="recycled", actor=seller, at=_at(3), decision="recycle", reason_code="no_response"
    )
    client = client_for(user_in(TeamKind.MARKETING, Role.VIEWER))
    response = client.get("/api/lifecycle/reasons/?since=2025-03-01&until=2025-03-31")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reject"]["total"] == 2 and body["reject"]["reasons"][0] == {
        "code": "junk",
        "label": "Junk (job seeker, student, vendor, spam)",
        "count": 2,
        "share": 1.0,
    }
    assert body["recycle"]["reasons"][0]["code"] == "no_response" and body["uncoded"] == 0
    assert (
        client.get("/api/lifecycle/reasons/?since=2025-03-04&until=2025-03-31").json()["reject"]["total"] == 0
    )
    assert "since" in client.get("/api/lifecycle/reasons/?since=2025-04-01&until=2025-03-01").json()
    assert client.get("/api/lifecycle/reasons/?until=someday").status_code == 400
    assert client_for(outsider).get("/api/lifecycle/reasons/").status_code == 403


# --- scores -----------------------------------------------------------------------------------------
def test_contact_scores_list_filters_and_detail(client_for, user_in):
    a1 = ContactScoreFactory(fit_grade="A", engagement_grade="1", fit=50, engagement=70)
    b2 = ContactScoreFactory()
    excluded = ContactScoreFactory(fit_grade="C", engagement_grade="3", excluded="Free-mail address")
    client = client_for(user_in(TeamKind.MARKETING, Role.VIEWER))
    rows = client.get("/api/contact-scores/").json()["results"]
    assert {r["contact"] for r in rows} == {a1.pk, b2.pk, excluded.pk}
    assert [r["contact"] for r in client.get("/api/contact-scores/?grade=A1").json()["results"]] == [a1.pk]
    assert len(client.get("/api/contact-scores/?grade=A1&grade=B2").json()["results"]) == 2
    assert [r["contact"] for r in client.get("/api/contact-scores/?fit_grade=C").json()["results"]] == [
        excluded.pk
    ]
    assert [r["contact"] for r in client.get("/api/contact-scores/?excluded=true").json()["results"]] == [
        excluded.pk
    ]
    assert len(client.get("/api/contact-scores/?excluded=false").json()["results"]) == 2
    assert client.get("/api/contact-scores/?grade=Z9").status_code == 400
    detail = client.get(f"/api/contact-scores/{b2.pk}/").json()
    assert detail["grade"] == "B2" and detail["email"] == b2.contact.email
    # Recomputed from the contact's data: the factory's invented numbers are not what the rules give.
    expected = contact_score_explanation(b2)["explanation"]
    assert detail["explanation"] == [{"rule": r, "name": n, "points": p} for r, n, p in expected]
    assert detail["explanation_current"] is False and detail["as_of"] == b2.as_of.isoformat()
    assert "explanation" not in rows[0]
    assert client.get("/api/contact-scores/987654/").status_code == 404


def test_contact_score_history(client_for, user_in):
    score = ContactScoreFactory()
    for days in range(3):
        ContactScoreHistoryFactory(
            contact=score.contact, as_of=datetime.date(2025, 3, 1) + datetime.timedelta(days=days)
        )
    ContactScoreHistoryFactory()  # someone else
    client = client_for(user_in(TeamKind.SALES, Role.VIEWER))
    body = client.get(f"/api/contact-scores/{score.pk}/history/?page_size=2").json()
    assert len(body["results"]) == 2 and body["next"]
    assert len(client.get(body["next"]).json()["results"]) == 1
    assert client.get("/api/contact-scores/987654/history/").status_code == 404
    assert client.get("/api/contact-scores/abc/history/").status_code == 404


def test_contact_scores_are_read_only(client_for, api_client, user_in, outsider):
    score = ContactScoreFactory()
    lead = user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)
    # Nobody may add or delete scores (403 before 405: the permission check comes first).
    assert client_for(lead).post("/api/contact-scores/", {}, format="json").status_code in (403, 405)
    assert client_for(lead).delete(f"/api/contact-scores/{score.pk}/").status_code in (403, 405)
    assert client_for(outsider).get(f"/api/contact-scores/{score.pk}/").status_code == 403
    assert client_for(outsider).get(f"/api/contact-scores/{score.pk}/history/").status_code == 403
    assert token_client(api_client, lead, ["read"]).get("/api/contact-scores/").status_code == 200


def test_contact_scores_query_count(client_for, user_in, django_assert_max_num_queries):
    for _ in range(20):
        ContactScoreFactory()
    client = client_for(user_in(TeamKind.SALES, Role.VIEWER))
    with django_assert_max_num_queries(8):
        response = client.get("/api/contact-scores/")
    assert len(response.json()["results"]) == 20
