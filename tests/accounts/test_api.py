"""The revenue-data API as an integration uses it: CRUD, filters, cursors, bad input, audit."""

import pytest

from accounts.models import Account, Campaign, Contact, Opportunity, Persona
from revops.models import ChangeRecord
from tests.accounts.factories import AccountFactory, ContactFactory, OpportunityFactory, TechnologyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client_for, member):
    return client_for(member)


def test_create_account_normalises_domain_and_audits(client, member):
    TechnologyFactory(name="Salesforce")
    response = client.post(
        "/api/accounts/",
        {
            "name": "Acme",
            "domain": "https://WWW.Acme.com/about",
            "employee_count": 120,
            "country": "DE",
            "technologies": ["Salesforce"],
            "custom": {"tier": "gold"},
        },
        format="json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == "acme.com" and body["technologies"] == ["Salesforce"] and body["country"] == "DE"
    record = ChangeRecord.objects.get(
        action="create", object_type__model="account", object_id=str(body["id"])
    )
    assert record.actor == member and record.request_id == "req-123"
    assert record.after["domain"] == "acme.com" and record.after["technologies"]


def test_update_records_before_and_after(client):
    account = AccountFactory(employee_count=10)
    response = client.patch(f"/api/accounts/{account.pk}/", {"employee_count": 20}, format="json")
    assert response.status_code == 200
    record = ChangeRecord.objects.get(action="update", object_type__model="account")
    assert (record.before["employee_count"], record.after["employee_count"]) == (10, 20)


def test_delete_is_audited(client_for, user_in):
    lead = user_in("sales", "lead")
    account = AccountFactory()
    assert client_for(lead).delete(f"/api/accounts/{account.pk}/").status_code == 204
    record = ChangeRecord.objects.get(action="delete", object_type__model="account")
    assert record.before["name"] == account.name and not Account.objects.exists()


BAD_ACCOUNTS = [
    ({"name": "A", "employee_count": -5}, "employee_count"),
    ({"name": "A", "employee_count": "many"}, "employee_count"),
    ({"name": "A", "domain": "not a domain"}, "domain"),
    ({"name": "A", "country": "Atlantis"}, "country"),
    ({"name": "A", "annual_revenue": -1}, "annual_revenue"),
    ({"name": "A", "custom": ["not", "an", "object"]}, "custom"),
    ({"name": "A", "technologies": ["Nonexistent"]}, "technologies"),
    ({"name": "A", "colour": "blue"}, "colour"),
    ({"domain": "a.com"}, "name"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_ACCOUNTS)
def test_bad_account_input_says_where_and_changes_nothing(client, payload, field):
    before = (Account.objects.count(), ChangeRecord.objects.count())
    response = client.post("/api/accounts/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert (Account.objects.count(), ChangeRecord.objects.count()) == before


def test_malformed_json_is_a_400(client):
    response = client.post("/api/accounts/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert not Account.objects.exists()


def test_domain_uniqueness_sees_through_spelling(client):
    AccountFactory(domain="acme.com")
    response = client.post("/api/accounts/", {"name": "Acme 2", "domain": "WWW.ACME.COM"}, format="json")
    assert response.status_code == 400 and "domain" in response.json()


def test_account_cannot_be_its_own_ancestor(client):
    parent = AccountFactory()
    child = AccountFactory(parent=parent)
    response = client.patch(f"/api/accounts/{parent.pk}/", {"parent": child.pk}, format="json")
    assert response.status_code == 400 and "parent" in response.json()
    parent.refresh_from_db()
    assert parent.parent is None


def test_contact_email_is_validated_and_normalised(client):
    account = AccountFactory()
    bad = client.post("/api/contacts/", {"email": "not-an-email", "account": account.pk}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()
    ok = client.post("/api/contacts/", {"email": " Ada@Example.COM ", "account": account.pk}, format="json")
    assert ok.status_code == 201 and ok.json()["email"] == "ada@example.com"
    dup = client.post("/api/contacts/", {"email": "ADA@example.com"}, format="json")
    assert dup.status_code == 400 and "email" in dup.json()
    assert Contact.objects.count() == 1


def test_persona_criteria_are_checked(client):
    bad = client.post("/api/personas/", {"name": "CMO", "match_seniorities": ["galactic"]}, format="json")
    assert bad.status_code == 400 and "match_seniorities" in bad.json()
    ok = client.post(
        "/api/personas/",
        {
            "name": "CMO",
            "match_titles": ["CMO", "Head of Marketing"],
            "match_seniorities": ["c_level"],
            "match_departments": ["marketing"],
            "required_in_buying_team": True,
        },
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["match_titles"] == ["cmo", "head of marketing"]
    assert Persona.objects.count() == 1


def test_opportunity_rules(client):
    account = AccountFactory()
    base = {"name": "Deal", "account": account.pk, "amount": 1000, "channel": "inbound"}
    assert client.post("/api/opportunities/", {**base, "stage": "won"}, format="json").status_code == 400
    response = client.post(
        "/api/opportunities/",
        {**base, "stage": "lost", "engaged_date": "2024-05-01", "close_date": "2024-04-01"},
        format="json",
    )
    assert response.status_code == 400 and "close_date" in response.json()
    assert client.post("/api/opportunities/", {**base, "amount": -1}, format="json").status_code == 400
    assert (
        client.post("/api/opportunities/", {**base, "channel": "carrier-pigeon"}, format="json").status_code
        == 400
    )
    assert not Opportunity.objects.exists()
    orphan = client.post("/api/opportunities/", {"name": "No account", "stage": "prospecting"}, format="json")
    assert orphan.status_code == 201 and orphan.json()["account"] is None


def test_campaign_dates_and_cost(client):
    base = {"name": "Launch", "channel": "events", "start_date": "2025-02-01"}
    assert (
        client.post("/api/campaigns/", {**base, "end_date": "2025-01-01"}, format="json").status_code == 400
    )
    assert client.post("/api/campaigns/", {**base, "cost": "-5"}, format="json").status_code == 400
    assert not Campaign.objects.exists()
    assert client.post("/api/campaigns/", {**base, "cost": "5000.00"}, format="json").status_code == 201


def test_lists_filter_like_the_ui(client):
    AccountFactory(name="Alpha Health", industry="healthcare", employee_count=50)
    AccountFactory(name="Beta Bank", industry="finance", employee_count=5000)
    AccountFactory(name="Gamma Health", industry="healthcare", employee_count=800)
    names = lambda q: sorted(a["name"] for a in client.get(f"/api/accounts/?{q}").json()["results"])  # noqa: E731
    assert names("industry=Healthcare") == ["Alpha Health", "Gamma Health"]
    assert names("industry=healthcare&employees_min=100") == ["Gamma Health"]
    assert names("q=bank") == ["Beta Bank"]
    assert client.get("/api/accounts/?employees_min=lots").status_code == 400


def test_opportunity_filters(client):
    OpportunityFactory(stage="won", close_date="2025-01-01", engaged_date="2024-12-01")
    OpportunityFactory(stage="engaging")
    OpportunityFactory(account=None, stage="prospecting")
    assert len(client.get("/api/opportunities/?stage=won").json()["results"]) == 1
    assert len(client.get("/api/opportunities/?has_account=false").json()["results"]) == 1


@pytest.mark.parametrize("inline", [1000, 0])
def test_opportunity_search_reads_the_account_name(client, monkeypatch, inline):
    """``q`` matches an opportunity's own name or external id, or its account's name, whether the
    account ids are few enough to be inlined or stay a subquery (revops.filtersets.SearchFilter)."""
    monkeypatch.setattr("revops.filtersets.SEARCH_RELATED_IDS_INLINE", inline)
    OpportunityFactory(name="Renewal", account=AccountFactory(name="Zephyr Labs"))
    OpportunityFactory(name="Zephyr expansion", account=AccountFactory(name="Other"))
    OpportunityFactory(name="Upsell", external_id="CRM-ZEPH-9", account=None)
    OpportunityFactory(name="Unrelated", account=AccountFactory(name="Acme"))
    names = lambda q: sorted(o["name"] for o in client.get(f"/api/opportunities/?q={q}").json()["results"])  # noqa: E731
    assert names("zephyr") == ["Renewal", "Zephyr expansion"]
    assert names("zeph") == ["Renewal", "Upsell", "Zephyr expansion"]
    assert names("nothing-matches") == []


def test_account_list_shows_technology_names_in_order(client, django_assert_max_num_queries):
    crm, bi = TechnologyFactory(name="Salesforce"), TechnologyFactory(name="Looker")
    both = AccountFactory(name="Both")
    both.technologies.set([crm, bi])
    AccountFactory(name="None")
    body = client.get("/api/accounts/").json()["results"]
    assert {a["name"]: a["technologies"] for a in body} == {"Both": ["Looker", "Salesforce"], "None": []}
    AccountFactory.create_batch(5)
    with django_assert_max_num_queries(8):  # one query for every account's technologies
        assert len(client.get("/api/accounts/").json()["results"]) == 7
    assert client.get(f"/api/accounts/{both.pk}/").json()["technologies"] == ["Looker", "Salesforce"]


def test_technology_filters_list_each_account_once(client):
    crm, bi, other = (TechnologyFactory(name=n) for n in ("Salesforce", "Looker", "Zendesk"))
    both, one = AccountFactory(name="Both"), AccountFactory(name="One")
    both.technologies.set([crm, bi])
    one.technologies.set([crm, other])
    names = lambda q: [a["name"] for a in client.get(f"/api/accounts/?{q}").json()["results"]]  # noqa: E731
    assert names(f"technology={crm.pk}&technology={bi.pk}") == ["One", "Both"]
    assert names(f"technology_all={crm.pk}&technology_all={bi.pk}") == ["Both"]
    assert names(f"technology={other.pk}") == ["One"]


def test_cursor_pagination_walks_everything_without_count(client):
    contacts = [ContactFactory() for _ in range(7)]
    seen, url = [], "/api/contacts/?page_size=3"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(c.pk for c in contacts)


def test_events_are_read_only_here(client):
    response = client.post("/api/events/", {"message_id": "x"}, format="json")
    assert response.status_code == 405


def test_a_new_contacts_title_gives_its_seniority_and_persona_as_an_import_would(client):
    revops = Persona.objects.create(
        name="RevOps leader", match_titles=["revenue operations"], match_seniorities=[], match_departments=[]
    )
    new = {"email": "kim@example.com", "title": "Head of RevOps"}
    made = client.post("/api/contacts/", new, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["seniority"] == "director" and made.json()["persona"] == revops.pk
    # what the client sent wins: a seniority, or an explicit "no persona"
    sent = client.post(
        "/api/contacts/",
        {"email": "lee@example.com", "title": "Head of RevOps", "seniority": "manager", "persona": None},
        format="json",
    )
    assert sent.status_code == 201
    assert sent.json()["seniority"] == "manager" and sent.json()["persona"] is None
    # an edit keeps what the contact has
    contact = Contact.objects.get(email="lee@example.com")
    client.patch(f"/api/contacts/{contact.pk}/", {"title": "VP Revenue Operations"}, format="json")
    contact.refresh_from_db()
    assert contact.seniority == "manager" and contact.persona is None
    nothing = client.post("/api/contacts/", {"email": "sam@example.com", "title": "Gardener"}, format="json")
    assert nothing.json()["seniority"] == "unknown" and nothing.json()["persona"] is None
