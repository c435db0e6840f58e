"""The accounts web pages: permissions, filters, sorting, paging without COUNT, the account page's
selectors (buying team, timeline, weekly activity), and create/edit through the audited services."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import selectors
from accounts.choices import EventType, LifecycleStage, OpportunityStage
from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, Persona
from revops.choices import ChangeAction
from revops.models import ChangeRecord
from tests.accounts.factories import (
    AccountFactory,
    ContactFactory,
    EngagementEventFactory,
    OpportunityFactory,
    PersonaFactory,
    TechnologyFactory,
)

TODAY = timezone.now().date()


@pytest.fixture
def world(db):
    """Two personas (one required), a few accounts, contacts, rollups, events and opportunities."""
    cmo = PersonaFactory(name="Marketing leader", required_in_buying_team=True, priority=10)
    cfo = PersonaFactory(name="Economic buyer", required_in_buying_team=True, priority=20)
    user = PersonaFactory(name="Day-to-day user", required_in_buying_team=False, priority=30)
    snowflake = TechnologyFactory(name="Snowflake", category="Data warehouse")
    acme = AccountFactory(
        name="Acme Analytics", domain="acme.com", industry="software", employee_count=800, country="US"
    )
    acme.technologies.add(snowflake)
    globex = AccountFactory(
        name="Globex Health", domain="globex.com", industry="healthcare", employee_count=5000, country="DE"
    )
    initech = AccountFactory(
        name="Initech", domain="initech.io", industry="software", employee_count=40, country="GB"
    )
    sub = AccountFactory(name="Acme Europe", domain="acme.eu", industry="software", parent=acme, country="FR")

    ada = ContactFactory(
        account=acme, email="ada@acme.com", first_name="Ada", last_name="Active", persona=cmo
    )
    quinn = ContactFactory(
        account=acme, email="quinn@acme.com", first_name="Quinn", last_name="Quiet", persona=cmo
    )
    una = ContactFactory(
        account=acme, email="una@acme.com", first_name="Una", last_name="Unmapped", persona=None
    )
    ContactFactory(account=globex, email="gus@globex.com", first_name="Gus", persona=cfo)

    # Rollups: Ada engaged 10 days ago; Quinn only 200 days ago (outside the 90-day window).
    ContactActivityDaily.objects.create(
        contact=ada,
        account=acme,
        day=TODAY - datetime.timedelta(days=10),
        event_type=EventType.PAGE_VIEW,
        key="/pricing",
        count=4,
    )
    ContactActivityDaily.objects.create(
        contact=quinn,
        account=acme,
        day=TODAY - datetime.timedelta(days=200),
        event_type=EventType.PAGE_VIEW,
        key="/blog",
        count=2,
    )
    AccountActivityDaily.objects.create(
        account=acme,
        day=TODAY - datetime.timedelta(days=10),
        event_type=EventType.PAGE_VIEW,
        key="/pricing",
        count=4,
        known_count=4,
    )
    AccountActivityDaily.objects.create(
        account=acme,
        day=TODAY - datetime.timedelta(days=2),
        event_type=EventType.INTENT,
        key="revenue operations",
        count=7,
    )
    AccountActivityDaily.objects.create(
        account=globex, day=TODAY - datetime.timedelta(days=40), event_type=EventType.WEBINAR, key="", count=3
    )
    now = timezone.now()
    EngagementEventFactory(
        account=acme,
        contact=ada,
        event_type=EventType.DEMO_REQUEST,
        occurred_at=now - datetime.timedelta(days=1),
        url="https://acme-vendor.example/demo",
    )
    EngagementEventFactory(
        account=acme,
        contact=None,
        event_type=EventType.INTENT,
        topic="revenue operations",
        occurred_at=now - datetime.timedelta(days=3),
        url="",
    )
    deal = OpportunityFactory(
        account=acme,
        name="Acme platform deal",
        amount=50_000,
        stage=OpportunityStage.PROPOSAL,
        created_date=TODAY - datetime.timedelta(days=2),
    )
    won = OpportunityFactory(
        account=acme,
        name="Acme pilot",
        amount=8_000,
        stage=OpportunityStage.WON,
        created_date=TODAY - datetime.timedelta(days=120),
        engaged_date=TODAY - datetime.timedelta(days=110),
        close_date=TODAY - datetime.timedelta(days=60),
    )
    OpportunityFactory(account=globex, name="Globex expansion", amount=20_000, stage=OpportunityStage.LOST)
    return {
        "personas": {"cmo": cmo, "cfo": cfo, "user": user},
        "snowflake": snowflake,
        "acme": acme,
        "globex": globex,
        "initech": initech,
        "sub": sub,
        "ada": ada,
        "quinn": quinn,
        "una": una,
        "deal": deal,
        "won": won,
    }


def _logged_in(client, user):
    client.force_login(user)
    return client


def _page_urls(world) -> list[str]:
    return [
        reverse("accounts:account_list"),
        reverse("accounts:account_detail", kwargs={"pk": world["acme"].pk}),
        reverse("accounts:account_timeline", kwargs={"pk": world["acme"].pk}),
        reverse("accounts:contact_list"),
        reverse("accounts:contact_detail", kwargs={"pk": world["ada"].pk}),
        reverse("accounts:persona_list"),
        reverse("accounts:persona_detail", kwargs={"pk": world["personas"]["cmo"].pk}),
        reverse("accounts:opportunity_list"),
        reverse("accounts:opportunity_detail", kwargs={"pk": world["deal"].pk}),
    ]


# --- permissions ---------------------------------------------------------------------------------
def test_every_page_is_200_for_a_viewer(client, viewer, world):
    _logged_in(client, viewer)
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url


def test_every_page_is_403_for_a_user_in_no_team(client, outsider, world):
    _logged_in(client, outsider)
    for url in _page_urls(world):
        assert client.get(url).status_code == 403, url
    for url in (reverse("accounts:account_create"), reverse("accounts:contact_create")):
        assert client.get(url).status_code == 403, url


def test_every_page_redirects_anonymous_users_to_login(client, world):
    for url in [*_page_urls(world), reverse("accounts:account_create"), reverse("home")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/login/?next="), url


def test_detail_of_a_missing_row_is_404(client, viewer, db):
    _logged_in(client, viewer)
    assert client.get(reverse("accounts:account_detail", kwargs={"pk": 999999})).status_code == 404


def test_login_page_renders_and_logs_in(client, viewer):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    response = client.post("/login/", {"username": viewer.username, "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == "/"


def test_navigation_shows_what_the_user_may_see_and_highlights_the_section(client, viewer, world):
    _logged_in(client, viewer)
    html = client.get(reverse("accounts:contact_list")).content.decode()
    for label in ("Dashboard", "Accounts", "Contacts", "Personas", "Opportunities", "Campaigns"):
        assert f">{label}</a>" in html
    # Viewers may not import.
    assert ">Import</a>" not in html
    # The longest matching prefix wins: on /accounts/contacts/ "Contacts" is active, not "Accounts".
    assert 'class="nav-link active" href="/accounts/contacts/"' in html
    assert 'class="nav-link active" href="/accounts/"' not in html
    assert "Sales · Viewer" in html  # the user's teams
    assert 'action="/logout/"' in html


# --- the dashboard ---------------------------------------------------------------------------------
def test_dashboard_headlines_come_from_rollups_never_the_events_table(client, viewer, world):
    _logged_in(client, viewer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.accounts.value == 4
    assert summary.contacts.value == 4
    assert summary.open_opportunities.value == 1
    assert summary.open_pipeline.value == 50_000
    assert summary.events_30d.value == 4 + 7  # acme's two rollups in the last 30 days; globex's is older
    assert not any("accounts_engagementevent" in q["sql"] for q in queries.captured_queries)
    # 12 + the notification bell + accounts by buying stage + contacts by lifecycle stage (PostgreSQL)
    assert len(queries.captured_queries) <= 15
    html = response.content.decode()
    assert "Acme platform deal" in html
    assert 'id="events-by-day-data"' in html


def test_dashboard_for_a_user_in_no_team_says_so(client, outsider, db):
    _logged_in(client, outsider)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"not in a team yet" in response.content
    assert response.context["summary"].accounts is None


# --- the account list --------------------------------------------------------------------------------
def _names(response) -> list[str]:
    return [a.name for a in response.context["object_list"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Acme Analytics", "Acme Europe", "Globex Health", "Initech"]),
        ({"industry": "Software"}, ["Acme Analytics", "Acme Europe", "Initech"]),
        ({"q": "acme"}, ["Acme Analytics", "Acme Europe"]),
        ({"q": "globex.com"}, ["Globex Health"]),
        ({"industry": "software", "q": "init"}, ["Initech"]),
        ({"country": ["DE", "GB"]}, ["Globex Health", "Initech"]),
        ({"employees_min": "500", "employees_max": "1000"}, ["Acme Analytics"]),
        ({"has_parent": "true"}, ["Acme Europe"]),
    ],
)
def test_account_list_filters_with_the_account_filterset(client, viewer, world, params, expected):
    _logged_in(client, viewer)
    response = client.get(reverse("accounts:account_list"), params)
    assert response.status_code == 200
    assert _names(response) == expected


def test_account_list_filters_by_technology_and_shows_contact_counts(client, viewer, world):
    _logged_in(client, viewer)
    response = client.get(reverse("accounts:account_list"), {"technology": world["snowflake"].pk})
    assert _names(response) == ["Acme Analytics"]
    assert response.context["object_list"][0].contact_count == 3


def test_account_list_bad_filter_value_shows_the_error_and_no_rows(client, viewer, world):
    _logged_in(client, viewer)
    response = client.get(reverse("accounts:account_list"), {"employees_min": "lots"})
    assert response.status_code == 200
    assert response.context["object_list"] == []
    assert "employees_min" in response.context["filter_form"].errors
    assert b"Fix the filters" in response.content


def test_account_list_sorts_by_any_sortable_column(client, viewer, world):
    _logged_in(client, viewer)
    url = reverse("accounts:account_list")
    by_employees = _names(client.get(url, {"sort": "-employees"}))
    # Acme Europe has the factory's 250 employees.
    assert by_employees == ["Globex Health", "Acme Analytics", "Acme Europe", "Initech"]
    assert _names(client.get(url, {"sort": "employees"})) == list(reversed(by_employees))
    # An unknown sort key falls back to the default.
    assert _names(client.get(url, {"sort": "password"}))[0] == "Acme Analytics"


def test_account_list_pages_without_counting(client, viewer, world):
    _logged_in(client, viewer)
    url = reverse("accounts:account_list")
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url, {"per_page": 25})
    assert not any("COUNT(*)" in q["sql"].upper() and "accounts_account" in q["sql"] for q in queries)
    assert first.context["page"].has_next is False
    AccountFactory.create_batch(30, industry="retail")
    first = client.get(url, {"industry": "retail", "per_page": 25})
    assert len(first.context["object_list"]) == 25
    assert first.context["page"].has_next is True
    second = client.get(url, {"industry": "retail", "per_page": 25, "page": 2})
    assert len(second.context["object_list"]) == 5
    assert second.context["page"].has_next is False
    assert second.context["page"].has_previous is True
    assert not set(_names(first)) & set(_names(second))
    # The next-page link keeps the filters.
    assert b"industry=retail" in first.content and b"page=2" in first.content


def test_account_list_query_count_does_not_grow_with_rows(
    client, viewer, world, django_assert_max_num_queries
):
    _logged_in(client, viewer)
    for account in AccountFactory.create_batch(20):
        ContactFactory.create_batch(2, account=account)
    # session, user, 2 x permissions, memberships, page rows, contact counts, the notification bell, and
    # the filter form's pickers: technologies (any of, all of), owners (one, any of), segments (in, not in)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("accounts:account_list"))
    assert len(response.context["object_list"]) == 24


@pytest.mark.parametrize(
    "url_name", ["accounts:contact_list", "accounts:persona_list", "accounts:opportunity_list"]
)
def test_other_lists_have_query_ceilings(client, viewer, world, url_name, django_assert_max_num_queries):
    _logged_in(client, viewer)
    for account in AccountFactory.create_batch(10):
        ContactFactory.create_batch(3, account=account, persona=world["personas"]["user"])
        OpportunityFactory(account=account)
    with django_assert_max_num_queries(9):  # 8 + the notification bell
        response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert response.context["object_list"]


# --- the other lists filter with their FilterSets -----------------------------------------------------
def test_contact_list_filters(client, viewer, world):
    _logged_in(client, viewer)
    url = reverse("accounts:contact_list")

    def emails(params):
        return [c.email for c in client.get(url, params).context["object_list"]]

    assert emails({"account_domain": "acme.com"}) == ["ada@acme.com", "quinn@acme.com", "una@acme.com"]
    assert emails({"persona": world["personas"]["cmo"].pk}) == ["ada@acme.com", "quinn@acme.com"]
    assert emails({"has_persona": "false"}) == ["una@acme.com"]
    assert emails({"q": "gus"}) == ["gus@globex.com"]
    assert emails({"lifecycle_stage": LifecycleStage.CUSTOMER}) == []
    assert emails({"account": world["acme"].pk, "sort": "-email"}) == [
        "una@acme.com",
        "quinn@acme.com",
        "ada@acme.com",
    ]


def test_persona_list_filters_and_counts_contacts(client, viewer, world):
    _logged_in(client, viewer)
    response = client.get(reverse("accounts:persona_list"), {"required_in_buying_team": "true"})
    rows = {p.name: p.contact_count for p in response.context["object_list"]}
    assert rows == {"Marketing leader": 2, "Economic buyer": 1}
    # The yes/no and choice filters offer "Any" rather than django-filter's "Unknown" / "---------".
    html = response.content.decode()
    assert '<option value="unknown">Any</option>' in html and '<option value="" selected>Any</option>' in html


def test_opportunity_list_filters(client, viewer, world):
    _logged_in(client, viewer)
    url = reverse("accounts:opportunity_list")

    def names(params):
        return [o.name for o in client.get(url, params).context["object_list"]]

    assert names({"stage": [OpportunityStage.WON, OpportunityStage.LOST], "sort": "name"}) == [
        "Acme pilot",
        "Globex expansion",
    ]
    assert names({"q": "platform"}) == ["Acme platform deal"]
    assert names({"account": world["acme"].pk, "sort": "-amount"}) == ["Acme platform deal", "Acme pilot"]
    assert names({"created_after": str(TODAY - datetime.timedelta(days=5))}) == ["Acme platform deal"]


# --- the account page and its selectors ------------------------------------------------------------------
def test_account_page_shows_firmographics_buying_team_and_timeline(client, viewer, world):
    _logged_in(client, viewer)
    response = client.get(reverse("accounts:account_detail", kwargs={"pk": world["acme"].pk}))
    html = response.content.decode()
    assert "Acme Analytics" in html and "Snowflake" in html and "Acme Europe" in html  # tech, subsidiary
    team = response.context["buying_team"]
    slots = {s.persona.name: s for s in team.slots}
    assert [c.contact.email for c in slots["Marketing leader"].contacts] == ["ada@acme.com", "quinn@acme.com"]
    assert [c.engaged for c in slots["Marketing leader"].contacts] == [True, False]
    assert [p.name for p in team.missing_required] == ["Economic buyer"]
    assert [c.contact.email for c in team.unmapped] == ["una@acme.com"]
    assert 'id="missing-personas"' in html and "Economic buyer" in html
    kinds = [(i.kind, (i.event or i.opportunity).pk) for i in response.context["timeline"].items]
    assert [k for k, _ in kinds] == [
        "event",  # demo request, yesterday
        "opportunity_opened",  # platform deal, 2 days ago
        "event",  # intent, 3 days ago
        "opportunity_closed",  # pilot won, 60 days ago
        "opportunity_opened",  # pilot opened, 120 days ago
    ]
    weekly = response.context["weekly_activity"]
    assert len(weekly) == 26 and sum(n for _, n in weekly) == 11
    assert 'id="weekly-data"' in html
    assert [s["key"] for s in response.context["top_signals"]] == ["revenue operations", "/pricing"]


def test_account_page_query_count_does_not_grow_with_contacts_or_events(client, viewer, world):
    _logged_in(client, viewer)
    url = reverse("accounts:account_detail", kwargs={"pk": world["acme"].pk})
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for i in range(15):
        contact = ContactFactory(account=world["acme"], persona=world["personas"]["cfo"])
        ContactActivityDaily.objects.create(
            contact=contact,
            account=world["acme"],
            day=TODAY,
            event_type=EventType.EMAIL_CLICK,
            key="",
            count=1,
        )
        EngagementEventFactory(account=world["acme"], contact=contact)
        OpportunityFactory(account=world["acme"], created_date=TODAY - datetime.timedelta(days=i))
        AccountFactory(parent=world["acme"])
    with CaptureQueriesContext(connection) as after:
        response = client.get(url)
    assert response.status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)
    # 16 + the notification bell + the campaigns that touched it (touches, audience; bounded, ≤ 5)
    assert len(after.captured_queries) <= 22


def test_timeline_pages_with_a_cursor_without_gaps_or_repeats(world):
    acme = world["acme"]
    base = timezone.now().replace(microsecond=0)
    same_moment = base - datetime.timedelta(hours=5)
    for i in range(7):
        # Several events share a timestamp: paging must still neither skip nor repeat them.
        EngagementEventFactory(
            account=acme, occurred_at=same_moment if i < 4 else base - datetime.timedelta(hours=i)
        )
    everything = selectors.account_timeline(account=acme, limit=100)
    assert everything.next_cursor is None
    seen, cursor = [], None
    while True:
        page = selectors.account_timeline(
            account=acme, limit=3, before=selectors.parse_timeline_cursor(cursor)
        )
        seen.extend(item.key for item in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [item.key for item in everything.items]
    assert len(seen) == 7 + 2 + 3  # new events + world's events + opportunity entries (opened, opened, won)


def test_timeline_fragment_for_htmx(client, viewer, world):
    _logged_in(client, viewer)
    acme = world["acme"]
    for i in range(25):
        EngagementEventFactory(account=acme, occurred_at=timezone.now() - datetime.timedelta(minutes=i))
    detail = client.get(reverse("accounts:account_detail", kwargs={"pk": acme.pk}))
    cursor = detail.context["timeline"].next_cursor
    assert cursor and b"Show older" in detail.content and b"hx-get" in detail.content
    fragment = client.get(reverse("accounts:account_timeline", kwargs={"pk": acme.pk}), {"before": cursor})
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    first_keys = {i.key for i in detail.context["timeline"].items}
    assert not first_keys & {i.key for i in fragment.context["timeline"].items}
    # A malformed cursor starts from the newest again rather than failing.
    assert (
        client.get(reverse("accounts:account_timeline", kwargs={"pk": acme.pk}), {"before": "x"}).status_code
        == 200
    )


def test_weekly_activity_buckets_by_monday_week(world):
    acme = world["acme"]
    today = datetime.date(2025, 6, 18)  # a Wednesday
    AccountActivityDaily.objects.create(
        account=acme, day=datetime.date(2025, 6, 16), event_type=EventType.PAGE_VIEW, key="/a", count=2
    )
    AccountActivityDaily.objects.create(
        account=acme, day=datetime.date(2025, 6, 18), event_type=EventType.WEBINAR, key="", count=3
    )
    AccountActivityDaily.objects.create(
        account=acme, day=datetime.date(2025, 6, 15), event_type=EventType.PAGE_VIEW, key="/a", count=5
    )
    weeks = selectors.account_weekly_activity(account=acme, weeks=3, today=today)
    assert weeks == [
        (datetime.date(2025, 6, 2), 0),
        (datetime.date(2025, 6, 9), 5),
        (datetime.date(2025, 6, 16), 5),
    ]


def test_buying_team_query_count_is_constant(world, django_assert_num_queries):
    with django_assert_num_queries(3):
        team = selectors.account_buying_team(account=world["acme"])
        # Reading the personas of the mapped contacts costs nothing more.
        [entry.contact.persona.name for slot in team.slots for entry in slot.contacts]


def test_contact_and_persona_pages_show_their_details(client, viewer, world):
    _logged_in(client, viewer)
    contact = client.get(reverse("accounts:contact_detail", kwargs={"pk": world["ada"].pk}))
    assert contact.context["activity"]["total"] == 4
    html = contact.content.decode()
    assert "Marketing leader" in html and "Acme Analytics" in html and "Demo request" in html
    persona = client.get(reverse("accounts:persona_detail", kwargs={"pk": world["personas"]["cmo"].pk}))
    assert persona.context["stats"]["total"] == 2
    assert "Director" in persona.content.decode()  # matching seniorities as labels
    opp = client.get(reverse("accounts:opportunity_detail", kwargs={"pk": world["won"].pk}))
    assert b"Sales cycle" in opp.content


# --- create and edit ----------------------------------------------------------------------------------
ACCOUNT_FORM = {
    "name": "Umbrella Corp",
    "domain": "https://WWW.Umbrella.com/about",
    "industry": "biotech",
    "employee_count": "1200",
    "annual_revenue": "90000000",
    "founded_year": "1990",
    "country": "US",
    "parent": "",
    "custom": '{"tier": "gold"}',
}


def test_member_creates_an_account_through_the_audited_service(client, member, world):
    _logged_in(client, member)
    data = {**ACCOUNT_FORM, "parent": "acme.com", "technologies": [world["snowflake"].pk]}
    response = client.post(reverse("accounts:account_create"), data)
    account = Account.objects.get(name="Umbrella Corp")
    assert response.status_code == 302
    assert response.url == reverse("accounts:account_detail", kwargs={"pk": account.pk})
    assert account.domain == "umbrella.com"  # normalised
    assert account.parent == world["acme"]
    assert list(account.technologies.all()) == [world["snowflake"]]
    assert account.custom == {"tier": "gold"}
    record = ChangeRecord.objects.get(object_id=str(account.pk), action=ChangeAction.CREATE)
    assert record.actor == member


def test_member_edits_an_account_and_the_audit_sees_before_and_after(client, member, world):
    _logged_in(client, member)
    acme = world["acme"]
    url = reverse("accounts:account_update", kwargs={"pk": acme.pk})
    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"]["domain"].value() == "acme.com"
    response = client.post(
        url, {**ACCOUNT_FORM, "name": "Acme Analytics", "domain": "acme.com", "employee_count": "900"}
    )
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.employee_count == 900
    record = ChangeRecord.objects.get(object_id=str(acme.pk), action=ChangeAction.UPDATE)
    assert record.before["employee_count"] == 800
    assert record.after["employee_count"] == 900


def test_viewer_may_not_create_or_edit(client, viewer, world):
    _logged_in(client, viewer)
    urls = [
        reverse("accounts:account_create"),
        reverse("accounts:account_update", kwargs={"pk": world["acme"].pk}),
        reverse("accounts:contact_create"),
        reverse("accounts:contact_update", kwargs={"pk": world["ada"].pk}),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(url, ACCOUNT_FORM).status_code == 403, url
    assert not Account.objects.filter(name="Umbrella Corp").exists()
    # And the page does not offer the buttons.
    html = client.get(reverse("accounts:account_detail", kwargs={"pk": world["acme"].pk})).content.decode()
    assert ">Edit</a>" not in html and "Add contact" not in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"employee_count": "-5"}, "employee_count", "cannot be negative"),
        ({"annual_revenue": "-1"}, "annual_revenue", "cannot be negative"),
        ({"domain": "not a domain"}, "domain", "is not a valid domain"),
        ({"domain": "WWW.ACME.COM"}, "domain", "already the domain of “Acme Analytics”"),
        ({"parent": "nowhere.example"}, "parent", "No account has the domain"),
        ({"founded_year": "3000"}, "founded_year", "Founded must be a year"),
        ({"custom": "[1, 2]"}, "custom", "must be a JSON object"),
        ({"custom": "{oops"}, "custom", "Enter a valid JSON"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_account_form_errors_are_clear_and_save_nothing(client, member, world, changes, field, message):
    _logged_in(client, member)
    before = Account.objects.count()
    response = client.post(reverse("accounts:account_create"), {**ACCOUNT_FORM, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert message.split("“")[0] in response.content.decode()
    assert Account.objects.count() == before
    assert not ChangeRecord.objects.filter(action=ChangeAction.CREATE, object_repr="Umbrella Corp").exists()


def test_account_cannot_become_its_own_ancestor(client, member, world):
    _logged_in(client, member)
    acme = world["acme"]
    url = reverse("accounts:account_update", kwargs={"pk": acme.pk})
    data = {**ACCOUNT_FORM, "name": "Acme Analytics", "domain": "acme.com"}
    response = client.post(url, {**data, "parent": "acme.eu"})  # acme.eu is Acme's subsidiary
    assert response.status_code == 400
    assert "is a subsidiary of this account" in " ".join(response.context["form"].errors["parent"])
    response = client.post(url, {**data, "parent": str(acme.pk)})
    assert "cannot be its own parent" in " ".join(response.context["form"].errors["parent"])


CONTACT_FORM = {
    "email": "  New.Person@Acme.COM ",
    "first_name": "New",
    "last_name": "Person",
    "title": "VP Finance",
    "seniority": "vp",
    "department": "finance",
    "country": "US",
    "account": "acme.com",
    "persona": "",
    "lifecycle_stage": "lead",
    "custom": "",
}


def test_member_creates_and_edits_a_contact(client, member, world):
    _logged_in(client, member)
    response = client.post(
        reverse("accounts:contact_create"), {**CONTACT_FORM, "persona": world["personas"]["cfo"].pk}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="new.person@acme.com")  # normalised
    assert (
        contact.account == world["acme"]
        and contact.persona == world["personas"]["cfo"]
        and contact.custom == {}
    )
    url = reverse("accounts:contact_update", kwargs={"pk": contact.pk})
    assert client.get(url).context["form"]["account"].value() == "acme.com"
    response = client.post(url, {**CONTACT_FORM, "email": "new.person@acme.com", "title": "CFO"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.title == "CFO"
    record = ChangeRecord.objects.get(object_id=str(contact.pk), action=ChangeAction.UPDATE)
    assert record.before["title"] == "VP Finance" and record.after["title"] == "CFO"


def test_a_contact_added_in_the_form_gets_the_persona_and_seniority_its_title_says(client, member, world):
    revops = Persona.objects.create(name="RevOps leader", match_titles=["revops"], match_seniorities=[])
    _logged_in(client, member)
    form = {**CONTACT_FORM, "title": "Head of Revenue Operations", "seniority": "unknown"}
    form["department"] = "other"
    assert client.post(reverse("accounts:contact_create"), form).status_code == 302
    contact = Contact.objects.get(email="new.person@acme.com")
    assert contact.seniority == "director" and contact.persona == revops
    # an edit keeps what a person chose, even "not mapped"
    url = reverse("accounts:contact_update", kwargs={"pk": contact.pk})
    client.post(url, {**form, "email": contact.email, "persona": "", "seniority": "unknown"})
    contact.refresh_from_db()
    assert contact.persona is None and contact.seniority == "unknown"


def test_the_contact_form_shows_the_stage_but_never_changes_it(client, member, world):
    """The stage moves only through lifecycle decisions: a posted stage is ignored, on edit and create."""
    _logged_in(client, member)
    response = client.post(reverse("accounts:contact_create"), {**CONTACT_FORM, "lifecycle_stage": "sql"})
    assert response.status_code == 302
    contact = Contact.objects.get(email="new.person@acme.com")
    assert contact.lifecycle_stage == "lead"
    url = reverse("accounts:contact_update", kwargs={"pk": contact.pk})
    assert client.get(url).context["form"].fields["lifecycle_stage"].disabled
    response = client.post(url, {**CONTACT_FORM, "email": contact.email, "lifecycle_stage": "customer"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "lead"
    assert not contact.transitions.exists()


def test_add_contact_from_an_account_page_prefills_the_account(client, member, world):
    _logged_in(client, member)
    response = client.get(reverse("accounts:contact_create"), {"account": world["acme"].pk})
    assert response.context["form"]["account"].value() == str(world["acme"].pk)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "is not a valid e-mail address"),
        ({"email": "ADA@acme.com"}, "email", "already belongs to another contact"),
        ({"account": "ghost.example"}, "account", "No account has the domain"),
        ({"seniority": "emperor"}, "seniority", "Select a valid choice"),
    ],
)
def test_contact_form_errors(client, member, world, changes, field, message):
    _logged_in(client, member)
    before = Contact.objects.count()
    response = client.post(reverse("accounts:contact_create"), {**CONTACT_FORM, **changes})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Contact.objects.count() == before


def test_table_row_count_is_exact_on_small_tables(world):
    assert selectors.table_row_count(Account.objects.all()) == (4, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's")
def test_table_row_count_uses_planner_statistics_past_the_threshold(world):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_account")
    with CaptureQueriesContext(connection) as queries:
        count, estimated = selectors.table_row_count(Account.objects.all(), exact_below=1)
    assert estimated is True and count == 4
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_denied_page_explains_how_to_get_access(client, outsider):
    client.force_login(outsider)
    response = client.get("/accounts/")
    assert response.status_code == 403
    assert b"Ask a lead of your revenue-operations team" in response.content


def test_the_owner_filter_lists_people_by_name(client, viewer, world):
    from tests.revops.factories import UserFactory

    owner = UserFactory(first_name="Ada", last_name="Lovelace")
    Account.objects.filter(name="Acme Analytics").update(owner=owner)
    _logged_in(client, viewer)
    for url in (reverse("accounts:account_list"), reverse("accounts:contact_list")):
        form = client.get(url).context["filter_form"]
        assert dict(form.fields["owner"].widget.choices)[str(owner.pk)] == "Ada Lovelace"
        assert form.fields["owner"].label == "Owner"
    response = client.get(reverse("accounts:account_list"), {"owner": owner.pk})
    assert _names(response) == ["Acme Analytics"]


@pytest.mark.parametrize("count, words", [(1, "1 event</span>"), (2, "2 events</span>")])
def test_the_account_page_counts_its_events_in_agreement(client, viewer, count, words):
    account = AccountFactory()
    AccountActivityDaily.objects.create(
        account=account, day=timezone.localdate(), event_type=EventType.PAGE_VIEW, key="/a", count=count
    )
    _logged_in(client, viewer)
    html = client.get(reverse("accounts:account_detail", kwargs={"pk": account.pk})).content.decode()
    assert words in html
