"""/api/rulesets/: the document with its ETag, guarded edits, the workflow actions, and who may do what."""

import datetime

import pytest
from django.utils import timezone

from revops import services
from revops.choices import Role, TeamKind
from scoring import selectors, workflow
from scoring.choices import RulesetStatus
from scoring.models import Ruleset, RulesetComment, RulesetHistory
from tests.scoring.factories import FAST_PASSWORD_HASHERS, stub_rescore, workflow_people

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def people(user_in):
    return workflow_people(user_in)


@pytest.fixture
def rescores(monkeypatch):
    return stub_rescore(monkeypatch)


@pytest.fixture
def draft(people):
    return workflow.ruleset_draft_create(user=people.marketer)


def token_client(api_client, user, scopes):
    _, key = services.api_token_create(actor=user, user=user, name="t", scopes=scopes)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def v1() -> Ruleset:
    return Ruleset.objects.get(number=1)


# --- reading ----------------------------------------------------------------------------------------
def test_list_and_filter_by_status(client_for, people, draft):
    client = client_for(people.viewer)
    response = client.get("/api/rulesets/")
    assert response.status_code == 200
    assert [r["number"] for r in response.json()["results"]] == [2, 1]
    assert "rules" not in response.json()["results"][0]
    response = client.get("/api/rulesets/?status=published")
    assert [r["number"] for r in response.json()["results"]] == [1]
    assert client.get("/api/rulesets/?status=nonsense").status_code == 400


def test_document_with_etag(client_for, people):
    response = client_for(people.viewer).get(f"/api/rulesets/{v1().pk}/")
    assert response.status_code == 200
    body = response.json()
    assert response["ETag"] == body["etag"] == f'"ruleset-{v1().pk}-r1"'
    assert body["status"] == "published" and body["revision"] == 1
    for name in selectors.DEFINITION_FIELDS:
        assert name in body, name
    assert [r["name"] for r in body["rules"]] == [r.name for r in v1().rules.order_by("position")]
    assert {"id", "position", "kind", "field", "operator", "value", "points"} <= set(body["rules"][0])


@pytest.mark.parametrize("url", ["/api/rulesets/", "/api/lifecycle/transitions/", "/api/contact-scores/"])
def test_outsiders_and_anonymous_are_refused(api_client, client_for, outsider, url):
    assert api_client.get(url).status_code in (401, 403)
    assert client_for(outsider).get(url).status_code == 403


def test_list_query_count_does_not_grow(client_for, people, django_assert_max_num_queries):
    for _ in range(10):
        workflow.ruleset_draft_create(user=people.marketer)
    client = client_for(people.viewer)
    with django_assert_max_num_queries(8):
        response = client.get("/api/rulesets/")
    assert len(response.json()["results"]) == 11


# --- creating ---------------------------------------------------------------------------------------
def test_member_starts_a_draft_from_the_published_version(client_for, people):
    response = client_for(people.seller).post("/api/rulesets/", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["status"], body["based_on"], body["revision"]) == (2, "draft", v1().pk, 1)
    assert len(body["rules"]) == v1().rules.count()
    assert response["ETag"] == body["etag"]


def test_draft_from_a_chosen_version(client_for, people, draft):
    response = client_for(people.seller).post(
        "/api/rulesets/", {"based_on": draft.pk, "name": "Mine"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["based_on"], response.json()["name"]) == (draft.pk, "Mine")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"based_on": 987654}, "based_on"), ({"name": "x" * 201}, "name"), ({"colour": "red"}, "colour")],
)
def test_bad_create_input_is_400_and_creates_nothing(client_for, people, payload, field):
    response = client_for(people.seller).post("/api/rulesets/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert Ruleset.objects.count() == 1


def test_who_may_create_drafts(client_for, api_client, people, user_in, outsider):
    assert client_for(people.viewer).post("/api/rulesets/", {}, format="json").status_code == 403
    assert client_for(outsider).post("/api/rulesets/", {}, format="json").status_code == 403
    response = client_for(user_in(TeamKind.CUSTOMER_SUCCESS, Role.LEAD)).post(
        "/api/rulesets/", {}, format="json"
    )
    assert response.status_code == 403 and "marketing, sales" in response.json()["detail"]
    assert token_client(api_client, people.marketer, ["read"]).post("/api/rulesets/", {}).status_code == 403
    assert Ruleset.objects.count() == 1
    response = token_client(api_client, people.marketer, ["read", "write"]).post("/api/rulesets/", {})
    assert response.status_code == 201


# --- editing: ETag, 428, 412, 400 ----------------------------------------------------------------
def test_edit_without_if_match_is_428_and_changes_nothing(client_for, people, draft):
    client = client_for(people.marketer)
    for if_match in ({}, {"HTTP_IF_MATCH": "*"}):
        response = client.patch(f"/api/rulesets/{draft.pk}/", {"mql_fit_min": 5}, format="json", **if_match)
        assert response.status_code == 428, response.content
        assert "If-Match" in response.json()["detail"]
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.revision) == (20, 1)


def test_edit_with_the_etag_saves_and_returns_a_new_etag(client_for, people, draft):
    client = client_for(people.marketer)
    etag = client.get(f"/api/rulesets/{draft.pk}/")["ETag"]
    response = client.patch(
        f"/api/rulesets/{draft.pk}/",
        {"mql_fit_min": 25, "status": "published"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200, response.content
    assert response.json()["revision"] == 2 and response.json()["mql_fit_min"] == 25
    assert response.json()["status"] == "draft"  # read-only keys are ignored
    assert response["ETag"] == f'"ruleset-{draft.pk}-r2"' != etag


def test_put_sends_the_whole_document_back(client_for, people, draft):
    client = client_for(people.seller)
    response = client.get(f"/api/rulesets/{draft.pk}/")
    document = response.json()
    document["rules"][0]["points"] = 42
    document["rules"] = document["rules"][:3]
    document["sql_checklist"] = ["Budget confirmed"]
    saved = client.put(f"/api/rulesets/{draft.pk}/", document, format="json", HTTP_IF_MATCH=response["ETag"])
    assert saved.status_code == 200, saved.content
    assert [r["id"] for r in saved.json()["rules"]] == [r["id"] for r in document["rules"]]
    assert saved.json()["rules"][0]["points"] == 42 and saved.json()["sql_checklist"] == ["Budget confirmed"]
    del document["rules"]
    response = client.put(f"/api/rulesets/{draft.pk}/", document, format="json", HTTP_IF_MATCH=saved["ETag"])
    assert response.status_code == 400 and "rules" in response.json()


def test_stale_etag_is_412_with_what_changed_and_the_current_document(client_for, people, draft):
    mine, theirs = client_for(people.marketer), client_for(people.seller)
    etag = mine.get(f"/api/rulesets/{draft.pk}/")["ETag"]
    assert (
        theirs.patch(f"/api/rulesets/{draft.pk}/", {"fit_grade_a_min": 45}, format="json", HTTP_IF_MATCH=etag)
    ).status_code == 200
    response = mine.patch(f"/api/rulesets/{draft.pk}/", {"mql_fit_min": 5}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    body = response.json()
    assert (body["your_revision"], body["current_revision"]) == (1, 2)
    assert body["current"]["fit_grade_a_min"] == 45 and body["current"]["mql_fit_min"] == 20
    assert body["changes_since_yours"] == [
        {
            "revision": 2,
            "actor": people.seller.username,
            "at": body["changes_since_yours"][0]["at"],
            "settings": [{"field": "fit_grade_a_min", "label": "Fit grade A from", "old": 40.0, "new": 45.0}],
            "rules": {"added": [], "removed": [], "changed": []},
        }
    ]
    assert response["ETag"] == body["current"]["etag"]
    assert Ruleset.objects.get(pk=draft.pk).mql_fit_min == 20
    unrelated = mine.patch(
        f"/api/rulesets/{draft.pk}/", {"mql_fit_min": 5}, format="json", HTTP_IF_MATCH='"something-else"'
    )
    assert unrelated.status_code == 412


def test_validation_errors_name_the_field_and_the_rule(client_for, people, draft):
    client = client_for(people.marketer)
    response = client.get(f"/api/rulesets/{draft.pk}/")
    rules = response.json()["rules"][:2]
    rules[1]["points"] = "lots"
    response = client.patch(
        f"/api/rulesets/{draft.pk}/",
        {"fit_grade_a_min": 5, "rules": rules},
        format="json",
        HTTP_IF_MATCH=response["ETag"],
    )
    assert response.status_code == 400
    assert set(response.json()) == {"fit_grade_a_min", "rules[1].points"}
    draft.refresh_from_db()
    assert draft.revision == 1 and draft.rules.count() == v1().rules.count()


@pytest.mark.parametrize("body", [[1, 2], "text"])
def test_edit_body_must_be_an_object(client_for, people, draft, body):
    response = client_for(people.marketer).patch(
        f"/api/rulesets/{draft.pk}/", body, format="json", HTTP_IF_MATCH=draft.etag
    )
    assert response.status_code == 400


def test_published_version_is_not_editable(client_for, people):
    response = client_for(people.marketer).patch(
        f"/api/rulesets/{v1().pk}/", {"mql_fit_min": 1}, format="json", HTTP_IF_MATCH=v1().etag
    )
    assert response.status_code == 409 and "only drafts" in response.json()["detail"]
    assert v1().mql_fit_min == 20


def test_who_may_edit(client_for, api_client, people, outsider, draft):
    url = f"/api/rulesets/{draft.pk}/"
    for user in (people.viewer, outsider):
        response = client_for(user).patch(url, {"mql_fit_min": 1}, format="json", HTTP_IF_MATCH=draft.etag)
        assert response.status_code == 403
    response = token_client(api_client, people.marketer, ["read"]).patch(
        url, {"mql_fit_min": 1}, format="json", HTTP_IF_MATCH=draft.etag
    )
    assert response.status_code == 403
    assert Ruleset.objects.get(pk=draft.pk).revision == 1


def test_delete_only_drafts(client_for, people, draft):
    assert client_for(people.seller).delete(f"/api/rulesets/{draft.pk}/").status_code == 403  # not the author
    assert client_for(people.viewer).delete(f"/api/rulesets/{draft.pk}/").status_code == 403
    assert client_for(people.marketer).delete(f"/api/rulesets/{v1().pk}/").status_code == 409
    assert client_for(people.marketer).delete(f"/api/rulesets/{draft.pk}/").status_code == 204
    assert not Ruleset.objects.filter(pk=draft.pk).exists()


# --- the workflow -----------------------------------------------------------------------------------
def test_full_workflow_through_the_api(
    client_for, people, rescores, draft, django_capture_on_commit_callbacks
):
    url = f"/api/rulesets/{draft.pk}/"
    assert client_for(people.seller).post(f"{url}propose/").json()["status"] == "proposed"
    response = client_for(people.marketing_lead).post(f"{url}approve/")
    assert response.status_code == 200 and response.json()["status"] == "proposed"
    assert [a["team_kind"] for a in response.json()["approvals"]] == ["marketing"]
    assert client_for(people.sales_lead).post(f"{url}approve/").json()["status"] == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(people.sales_lead).post(f"{url}publish/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert v1().status == RulesetStatus.SUPERSEDED
    assert rescores == [{"user": people.sales_lead, "reason": "v2 published"}]
    response = client_for(people.marketing_lead).post(f"/api/rulesets/{v1().pk}/rollback/")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.SUPERSEDED
    history = client_for(people.viewer).get(f"{url}history/").json()["results"]
    assert [h["action"] for h in history] == [
        "created",
        "proposed",
        "approval",
        "approval",
        "approved",
        "published",
        "superseded",
    ]
    assert history[1]["actor_username"] == people.seller.username


def test_four_eyes_and_roles_on_approve(client_for, api_client, people, draft):
    url = f"/api/rulesets/{draft.pk}/"
    client_for(people.sales_lead).post(f"{url}propose/")
    response = client_for(people.sales_lead).post(f"{url}approve/")
    assert response.status_code == 403 and "Four eyes" in response.json()["detail"]
    for user in (people.marketer, people.viewer):
        assert client_for(user).post(f"{url}approve/").status_code == 403
    assert token_client(api_client, people.marketing_lead, ["read"]).post(f"{url}approve/").status_code == 403
    assert not Ruleset.objects.get(pk=draft.pk).approvals.exists()
    assert client_for(people.marketing_lead).post(f"{url}approve/").status_code == 200
    response = client_for(people.marketing_lead).post(f"{url}approve/")
    assert response.status_code == 409 and "already approved" in response.json()["detail"]


def test_state_errors_are_409(client_for, people, draft, rescores):
    url = f"/api/rulesets/{draft.pk}/"
    assert client_for(people.marketing_lead).post(f"{url}approve/").status_code == 409
    assert client_for(people.sales_lead).post(f"{url}publish/").status_code == 409
    assert client_for(people.sales_lead).post(f"{url}rollback/").status_code == 409
    assert client_for(people.marketer).post(f"{url}withdraw/").status_code == 409
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.DRAFT


def test_reject_needs_a_reason(client_for, people, draft):
    url = f"/api/rulesets/{draft.pk}/"
    client_for(people.marketer).post(f"{url}propose/")
    for payload in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        response = client_for(people.sales_lead).post(f"{url}reject/", payload, format="json")
        assert response.status_code == 400
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.PROPOSED
    assert client_for(people.seller).post(f"{url}reject/", {"reason": "No"}, format="json").status_code == 403
    response = client_for(people.sales_lead).post(f"{url}reject/", {"reason": "Too generous"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "draft"
    assert RulesetComment.objects.get(ruleset=draft).body == "Rejected: Too generous"


def test_publish_later_and_bad_times(client_for, people, draft, rescores):
    url = f"/api/rulesets/{draft.pk}/"
    client_for(people.marketer).post(f"{url}propose/")
    client_for(people.marketing_lead).post(f"{url}approve/")
    client_for(people.sales_lead).post(f"{url}approve/")
    response = client_for(people.sales_lead).post(f"{url}publish/", {"at": "tomorrow"}, format="json")
    assert response.status_code == 400 and "at" in response.json()
    assert client_for(people.marketer).post(f"{url}publish/", {}, format="json").status_code == 403
    at = (timezone.now() + datetime.timedelta(days=2)).replace(microsecond=0)
    response = client_for(people.sales_lead).post(f"{url}publish/", {"at": at.isoformat()}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "scheduled"
    assert Ruleset.objects.get(pk=draft.pk).publish_at == at
    assert workflow.rulesets_publish_due(now=at + datetime.timedelta(seconds=1)) == 1
    assert client_for(people.viewer).get(url).json()["status"] == "published"


def test_diff_against_based_on_or_another_version(client_for, people, draft):
    client = client_for(people.marketer)
    client.patch(f"/api/rulesets/{draft.pk}/", {"mql_fit_min": 33}, format="json", HTTP_IF_MATCH=draft.etag)
    body = client_for(people.viewer).get(f"/api/rulesets/{draft.pk}/diff/").json()
    assert (body["old"], body["new"]) == (v1().pk, draft.pk)
    assert body["settings"] == [
        {"field": "mql_fit_min", "label": "MQL: minimum fit points", "old": 20, "new": 33}
    ]
    assert body["rules"] == {"added": [], "removed": [], "changed": []}
    other = client_for(people.viewer).get(f"/api/rulesets/{v1().pk}/diff/?other={draft.pk}").json()
    assert other["settings"][0]["old"] == 33
    assert client.get(f"/api/rulesets/{v1().pk}/diff/").status_code == 400  # v1 has no based_on
    assert client.get(f"/api/rulesets/{draft.pk}/diff/?other=abc").status_code == 400
    assert client.get(f"/api/rulesets/{draft.pk}/diff/?other=987654").status_code == 400


def test_comments(client_for, api_client, people):
    url = f"/api/rulesets/{v1().pk}/comments/"
    response = client_for(people.seller).post(url, {"body": "Careers pages should cost more."}, format="json")
    assert response.status_code == 201 and response.json()["author_username"] == people.seller.username
    assert client_for(people.seller).post(url, {"body": ""}, format="json").status_code == 400
    assert client_for(people.viewer).post(url, {"body": "Me too"}, format="json").status_code == 403
    assert token_client(api_client, people.seller, ["read"]).post(url, {"body": "x"}).status_code == 403
    listed = client_for(people.viewer).get(url)
    assert listed.status_code == 200 and [c["body"] for c in listed.json()["results"]] == [
        "Careers pages should cost more."
    ]
    assert RulesetHistory.objects.filter(ruleset=v1(), action="commented").count() == 1


def test_read_token_reads(api_client, people):
    client = token_client(api_client, people.viewer, ["read"])
    assert client.get("/api/rulesets/").status_code == 200
    assert client.get(f"/api/rulesets/{v1().pk}/history/").status_code == 200


def test_schema_describes_the_scoring_endpoints(client_for, people):
    response = client_for(people.viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/rulesets/",
        "/api/rulesets/{id}/",
        "/api/rulesets/{id}/propose/",
        "/api/rulesets/{id}/approve/",
        "/api/rulesets/{id}/publish/",
        "/api/rulesets/{id}/rollback/",
        "/api/rulesets/{id}/diff/",
        "/api/rulesets/{id}/comments/",
        "/api/lifecycle/transitions/",
        "/api/lifecycle/contacts/{contact_id}/qualify/",
        "/api/lifecycle/funnel/",
        "/api/contact-scores/",
        "/api/contact-scores/{contact_id}/history/",
    ]:
        assert path in paths, path
    put = paths["/api/rulesets/{id}/"]["put"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in put["parameters"])
    assert {"412", "428"} <= set(put["responses"])
