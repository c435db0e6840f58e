"""Every error an answer (issue 12, items 9 and 10): the API answers every error as JSON with a status that
says what happened — never HTML, never a traceback — and refuses what it used to ignore."""

import json
import logging

import pytest
from django.db import OperationalError
from django.test import Client

from accounts.models import Account
from revops.api.parsers import MAX_DEPTH
from revops.choices import Role, TeamKind
from scoring.models import LifecycleTransition
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import LifecycleTransitionFactory, starter_ruleset

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(user_in):
    return user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)


@pytest.fixture
def client(client_for, lead):
    return client_for(lead)


def _json(response):
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()


# --- item 9: bodies the database cannot store ---------------------------------------------------------
def test_nul_character_in_json_field_is_400_naming_the_field(client):
    account = AccountFactory()
    response = client.patch(
        f"/api/accounts/{account.pk}/",
        json.dumps({"custom": {"note": "a\u0000b"}}),
        content_type="application/json",
    )
    assert response.status_code == 400
    body = _json(response)
    assert list(body) == ["custom"] and "NUL" in body["custom"][0] and "custom.note" in body["custom"][0]


@pytest.mark.parametrize("path", ["/api/accounts/", "/api/contacts/", "/api/rulesets/", "/api/tokens/"])
def test_deeply_nested_json_is_400_on_any_endpoint(client, path):
    response = client.post(path, "[" * 5000 + "]" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in json.dumps(_json(response))


def test_nesting_within_the_bound_is_read(client):
    nested = json.dumps({"custom": {"a": json.loads("[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3))}})
    response = client.post("/api/accounts/", nested, content_type="application/json")
    assert response.status_code == 400 and "name" in _json(response)  # the serializer, not the parser


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400(client, constant):
    response = client.post(
        "/api/accounts/", f'{{"name": "x", "custom": {{"a": {constant}}}}}', content_type="application/json"
    )
    assert response.status_code == 400 and constant.lstrip("-") in json.dumps(_json(response))


def _event(**extra):
    return {
        "message_id": "m-1",
        "type": "page_view",
        "occurred_at": "2025-05-01T09:30:00Z",
        "account_domain": "acme.example",
        **extra,
    }


def test_nan_in_event_properties_is_refused_with_index_and_field(client):
    body = json.dumps({"events": [_event(), _event(message_id="m-2", properties={"score": "X"})]})
    response = client.post("/api/events/batch/", body.replace('"X"', "NaN"), content_type="application/json")
    assert response.status_code == 400
    errors = _json(response)["errors"]
    assert errors[0]["field"] == "non_field_errors" and "NaN" in errors[0]["message"]
    assert not Account.objects.filter(domain="acme.example").exists()


def test_nul_in_event_properties_names_the_event_and_field(client):
    body = json.dumps({"events": [_event(), _event(message_id="m-2", properties={"ref": "a\u0000"})]})
    response = client.post("/api/events/batch/", body, content_type="application/json")
    assert response.status_code == 400
    assert _json(response)["errors"] == [
        {
            "index": 1,
            "field": "properties",
            "message": "Text may not contain the NUL character (\\u0000). (at ref)",
        }
    ]


def test_too_large_body_is_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"name": "x" * 2000})
    assert client.post("/api/accounts/", big, content_type="application/json").status_code == 413
    events = json.dumps({"events": [_event(properties={"pad": "x" * 2000})]})
    response = client.post("/api/events/batch/", events, content_type="application/json")
    assert response.status_code == 413 and "detail" in _json(response)


def test_unsupported_media_type_is_415_json(client):
    response = client.post("/api/accounts/", "name=x", content_type="text/plain")
    assert response.status_code == 415 and "detail" in _json(response)


# --- item 9: date filters with an impossible offset ---------------------------------------------------
@pytest.mark.parametrize("offset", ["+19:51", "-18:30"])
def test_time_zone_offset_out_of_range_is_400_naming_the_filter(client, offset):
    response = client.get("/api/events/", {"occurred_after": f"2025-01-01T00:00:00{offset}"})
    assert response.status_code == 400
    assert "occurred_after" in _json(response)


@pytest.mark.parametrize("offset", ["+14:00", "+17:30", "-17:59"])
def test_time_zone_offset_in_range_filters_in_utc(client, offset):
    """Offsets past PostgreSQL's ±15:59 but within ±18:00 are read too: the filter compares in UTC."""
    response = client.get("/api/events/", {"occurred_after": f"2025-01-01T00:00:00{offset}"})
    assert response.status_code == 200


def test_token_expiry_with_a_far_offset_is_stored_in_utc(client):
    response = client.post(
        "/api/tokens/",
        {"name": "t", "scopes": ["read"], "expires_at": "2030-01-01T00:00:00+17:30"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["expires_at"].startswith("2029-12-31T06:30:00")


# --- item 9: errors outside DRF, and unexpected ones ----------------------------------------------------
def test_unknown_api_url_is_json_404_and_ui_keeps_html(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404 and "detail" in _json(response)
    page = client.get("/accounts/no-such-thing/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_method_not_allowed_is_json_405(client):
    response = client.put("/api/lifecycle/funnel/", "{}", content_type="application/json")
    assert response.status_code == 405 and "detail" in _json(response)


def test_unexpected_error_is_json_500_with_request_id_and_logged(lead, monkeypatch, caplog):
    from accounts.api import views

    def boom(self, request, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.AccountViewSet, "list", boom)
    client = Client(raise_request_exception=False)
    client.force_login(lead)
    with caplog.at_level(logging.ERROR, logger="revops.api"):
        response = client.get("/api/accounts/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 500
    body = _json(response)
    assert body["request_id"] == "req-123" and "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any("req-123" in r.getMessage() and r.exc_info for r in caplog.records)


def test_error_outside_drf_is_json_500_under_api(lead, monkeypatch):
    from config import urls  # noqa: F401  (handler500 is set there)
    from revops.api.exceptions import server_error

    request = Client().get("/api/").wsgi_request
    response = server_error(request)
    assert response.status_code == 500 and "request_id" in json.loads(response.content)


def test_database_unavailable_is_503_with_retry_after(client, monkeypatch):
    from accounts.api import views

    def unavailable(self, request, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(views.AccountViewSet, "list", unavailable)
    response = client.get("/api/accounts/")
    assert response.status_code == 503 and response["Retry-After"]
    assert "could not connect" not in response.content.decode()
    assert "detail" in _json(response)


def test_id_beyond_64_bits_is_400(client):
    response = client.get("/api/contacts/", {"account": "9" * 30})
    assert response.status_code == 400 and "account" in _json(response)


# --- item 10: schema truth ----------------------------------------------------------------------------
def test_ruleset_comments_and_history_are_paginated(client):
    ruleset = starter_ruleset()
    for text in ["first", "second", "third"]:
        assert (
            client.post(f"/api/rulesets/{ruleset.pk}/comments/", {"body": text}, format="json").status_code
            == 201
        )
    page = _json(client.get(f"/api/rulesets/{ruleset.pk}/comments/", {"page_size": 2}))
    assert [c["body"] for c in page["results"]] == ["first", "second"] and page["next"]
    rest = _json(client.get(page["next"]))
    assert [c["body"] for c in rest["results"]] == ["third"]
    history = _json(client.get(f"/api/rulesets/{ruleset.pk}/history/"))
    assert {"next", "previous", "results"} <= set(history)


def test_transition_without_version_or_actor_is_null_in_schema_and_answer(client):
    LifecycleTransitionFactory(contact=ContactFactory(), ruleset=None, actor=None)
    row = _json(client.get("/api/lifecycle/transitions/"))["results"][0]
    assert row["ruleset_number"] is None and row["actor_username"] is None
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    properties = schema["components"]["schemas"]["LifecycleTransition"]["properties"]
    assert properties["ruleset_number"]["nullable"] and properties["actor_username"]["nullable"]
    assert LifecycleTransition.objects.count() == 1


@pytest.mark.parametrize("value", ["false", "0", "-1", "1001", "ten", ""])
def test_page_size_must_be_a_whole_number_in_range(client, value):
    response = client.get("/api/accounts/", {"page_size": value})
    assert response.status_code == 400 and "page_size" in _json(response)


def test_page_size_in_range_is_used(client):
    AccountFactory.create_batch(3)
    assert len(_json(client.get("/api/accounts/", {"page_size": "2"}))["results"]) == 2


def test_unknown_filter_is_400_listing_the_accepted_ones(client):
    AccountFactory(employee_count=114)
    response = client.get("/api/accounts/", {"employee_count_min": 200})
    assert response.status_code == 400
    message = _json(response)["employee_count_min"][0]
    assert "Unknown query parameter" in message and "employees_min" in message and "ordering" in message
    assert _json(client.get("/api/accounts/", {"employees_min": 200}))["results"] == []


def test_bogus_ordering_is_400(client):
    response = client.get("/api/contacts/", {"ordering": "bogus"})
    assert response.status_code == 400 and "bogus" in _json(response)["ordering"][0]
    assert client.get("/api/contacts/", {"ordering": "-created"}).status_code == 200


def test_ui_lists_still_take_their_filters(client_for, lead):
    """The HTML lists share the filtersets and keep ignoring what is not theirs (a bookmark's leftovers)."""
    ui = client_for(lead)
    assert ui.get("/accounts/", {"employees_min": 10, "utm_source": "mail"}).status_code == 200


def test_ruleset_patch_documents_its_etag_answers(client):
    """Schemathesis found PATCH answering 412/428 that only PUT declared."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    patch = schema["paths"]["/api/rulesets/{id}/"]["patch"]["responses"]
    assert {"412", "428"} <= set(patch)


def test_every_operation_documents_json_errors(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                for code in ("400", "401", "403", "404", "429", "503"):
                    assert "application/json" in operation["responses"][code]["content"], (method, path, code)


def test_database_down_before_any_view_is_503_under_api(lead, monkeypatch):
    """The session cannot be read (database down): 503 JSON under /api/, the HTML 500 page in the UI."""
    from django.contrib.sessions.backends import db as session_db

    def unavailable(self):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(session_db.SessionStore, "load", unavailable)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32
    response = client.get("/api/accounts/")
    assert response.status_code == 503 and response["Retry-After"] and "detail" in _json(response)
    page = client.get("/accounts/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_database_down_outside_drf_views_is_503_under_api():
    """Django's own 500 handler (an error in a middleware) tells a database outage apart too."""
    from django.test import RequestFactory

    from revops.api.exceptions import server_error

    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        response = server_error(RequestFactory().get("/api/accounts/"))
    assert response.status_code == 503 and response["Retry-After"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_strict_decoder_finds_nul_in_any_encoding(encoding):
    from rest_framework.exceptions import ValidationError

    from revops.api.parsers import json_loads_strict

    with pytest.raises(ValidationError):
        json_loads_strict(json.dumps({"custom": {"tags": ["ok", "x\u0000"]}}).encode(encoding))
    clean = {"custom": {"tags": ["ok"]}}
    assert json_loads_strict(json.dumps(clean).encode(encoding)) == clean
