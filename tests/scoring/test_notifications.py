"""Notifications for lifecycle changes: who hears about what, payloads, bulk behaviour, the pages."""

import datetime

import pytest
from django.utils import timezone

from accounts.choices import LifecycleStage
from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring.delivery import notifications, webhooks
from scoring.models import (
    AccountModelScore,
    ContactScore,
    LifecycleTransition,
    Notification,
    NotificationRead,
    Ruleset,
    WebhookDelivery,
)
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.revops.factories import TeamFactory
from tests.scoring.factories import AccountModelScoreFactory
from tests.scoring.test_webhooks import Receiver

pytestmark = pytest.mark.django_db
AT = datetime.datetime(2025, 5, 1, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users here never log in with a password: skip the slow hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def teams(db):
    return {kind: TeamFactory(kind=kind) for kind in TeamKind.values}


def transition(contact, to_stage, from_stage=LifecycleStage.LEAD, **kwargs) -> LifecycleTransition:
    kwargs.setdefault("at", AT)
    kwargs.setdefault("rule", "MQL threshold")
    return LifecycleTransition.objects.create(
        contact=contact, from_stage=from_stage, to_stage=to_stage, **kwargs
    )


def endpoint_for(team, url="https://crm.example.com/hook", **kwargs):
    return webhooks.webhook_endpoint_create(actor=None, team=team, name=f"{team.name} CRM", url=url, **kwargs)


def notified_kinds() -> set[str]:
    return set(Notification.objects.values_list("team__kind", flat=True))


# --- who hears about what --------------------------------------------------------------------------
def test_mql_of_an_unowned_contact_goes_to_sales_bdr_and_marketing(teams):
    contact = ContactFactory(first_name="Ada", last_name="Byron", account=AccountFactory(domain="acme.com"))
    notifications.stage_change_notify(transitions=[transition(contact, LifecycleStage.MQL)])
    assert notified_kinds() == {TeamKind.SALES, TeamKind.BDR, TeamKind.MARKETING}
    note = Notification.objects.get(team=teams[TeamKind.SALES])
    assert note.title == "Ada Byron at acme.com became MQL"
    assert note.kind == "contact.mql" and note.contact == contact
    assert note.url == f"/accounts/contacts/{contact.pk}/" and not note.reads.exists()


def test_sql_of_an_unowned_contact_goes_to_sales_only(teams):
    contact = ContactFactory()
    notifications.stage_change_notify(
        transitions=[transition(contact, LifecycleStage.SQL, from_stage=LifecycleStage.SAL)]
    )
    assert notified_kinds() == {TeamKind.SALES}
    assert Notification.objects.get().kind == "contact.sql"


def test_an_owners_teams_hear_about_their_contacts(teams, user_in):
    owner = user_in(TeamKind.CUSTOMER_SUCCESS, Role.MEMBER)
    contact = ContactFactory(owner=owner)
    notifications.stage_change_notify(
        transitions=[
            transition(contact, LifecycleStage.MQL),
            transition(contact, LifecycleStage.SQL, from_stage=LifecycleStage.SAL),
        ]
    )
    by_team = sorted(Notification.objects.values_list("team__kind", "kind"))
    assert by_team == [
        (TeamKind.CUSTOMER_SUCCESS, "contact.mql"),
        (TeamKind.CUSTOMER_SUCCESS, "contact.sql"),
        (TeamKind.MARKETING, "contact.mql"),  # marketing hears about every MQL
    ]


def test_owner_without_a_team_falls_back_to_the_default_teams(teams, outsider):
    contact = ContactFactory(owner=outsider)
    notifications.stage_change_notify(transitions=[transition(contact, LifecycleStage.SQL)])
    assert notified_kinds() == {TeamKind.SALES}


@pytest.mark.parametrize(
    ("from_stage", "to_stage", "expected"),
    [
        (LifecycleStage.LEAD, LifecycleStage.SAL, "contact.mql"),  # fast-track crosses the MQL threshold
        (LifecycleStage.RECYCLED, LifecycleStage.SAL, "contact.mql"),
        (LifecycleStage.RECYCLED, LifecycleStage.MQL, "contact.mql"),
        (LifecycleStage.MQL, LifecycleStage.SAL, None),  # accepted by sales: not news
        (LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, None),
        (LifecycleStage.MQL, LifecycleStage.RECYCLED, None),
        (LifecycleStage.LEAD, LifecycleStage.DISQUALIFIED, None),
        (LifecycleStage.SAL, LifecycleStage.SQL, "contact.sql"),
    ],
)
def test_which_transitions_count(teams, from_stage, to_stage, expected):
    contact = ContactFactory()
    notifications.stage_change_notify(transitions=[transition(contact, to_stage, from_stage=from_stage)])
    assert set(Notification.objects.values_list("kind", flat=True)) == ({expected} if expected else set())


def test_fast_track_is_said_in_the_title(teams):
    contact = ContactFactory(first_name="Grace", last_name="Hopper", account=None)
    notifications.stage_change_notify(transitions=[transition(contact, LifecycleStage.SAL)])
    assert Notification.objects.filter(title="Grace Hopper became MQL (fast-tracked to SAL)").count() == 3


# --- webhooks queued -------------------------------------------------------------------------------
def test_payload_and_endpoint_selection(teams, user_in):
    ruleset = Ruleset.objects.get(number=1)
    actor = user_in(TeamKind.MARKETING, Role.MEMBER, username="mia")
    account = AccountFactory(domain="acme.com")
    contact = ContactFactory(
        account=account, email="ada@acme.com", first_name="Ada", last_name="Byron", title="CMO"
    )
    ContactScore.objects.create(
        contact=contact,
        ruleset=ruleset,
        fit=42.123,
        engagement=35,
        fit_grade="A",
        engagement_grade="2",
        scored_at=timezone.now(),
    )
    everything = endpoint_for(teams[TeamKind.SALES])
    sql_only = endpoint_for(teams[TeamKind.BDR], event_types=["contact.sql"])
    mql_only = endpoint_for(teams[TeamKind.MARKETING], event_types=["contact.mql"])
    endpoint_for(teams[TeamKind.CUSTOMER_SUCCESS])  # not an owning team
    inactive = webhooks.webhook_endpoint_create(
        actor=None, team=teams[TeamKind.SALES], name="Old", url="https://old.example.com", active=False
    )
    t = transition(contact, LifecycleStage.MQL, ruleset=ruleset, actor=actor, reason="Crossed the bar")
    notifications.stage_change_notify(transitions=[t])

    deliveries = list(WebhookDelivery.objects.order_by("endpoint_id"))
    assert sorted(d.endpoint_id for d in deliveries) == sorted([everything.pk, mql_only.pk])
    assert not WebhookDelivery.objects.filter(endpoint__in=[sql_only, inactive]).exists()
    # One event, one id, whichever endpoint receives it.
    assert len({d.event_id for d in deliveries}) == 1
    delivery = deliveries[0]
    assert delivery.status == "pending" and delivery.event_type == "contact.mql"
    assert delivery.payload == {
        "id": str(delivery.event_id),
        "type": "contact.mql",
        "occurred_at": "2025-05-01T09:30:00Z",
        "data": {
            "contact": {
                "id": contact.pk,
                "email": "ada@acme.com",
                "first_name": "Ada",
                "last_name": "Byron",
                "title": "CMO",
                "account_id": account.pk,
                "account_domain": "acme.com",
                "lifecycle_stage": "mql",
            },
            "transition": {
                "from": "lead",
                "to": "mql",
                "at": "2025-05-01T09:30:00Z",
                "rule": "MQL threshold",
                "reason": "Crossed the bar",
                "ruleset_version": 1,
                "actor": "mia",
            },
            "scores": {"fit": 42.12, "engagement": 35.0, "grade": "A2"},
        },
    }


def test_no_scores_key_without_a_score(teams):
    endpoint_for(teams[TeamKind.SALES])
    notifications.stage_change_notify(transitions=[transition(ContactFactory(), LifecycleStage.SQL)])
    payload = WebhookDelivery.objects.get().payload
    assert "scores" not in payload["data"] and payload["data"]["transition"]["actor"] is None


def test_deliveries_are_sent_after_commit(teams, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        endpoint_for(teams[TeamKind.SALES], url=receiver.url)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            notifications.stage_change_notify(transitions=[transition(ContactFactory(), LifecycleStage.SQL)])
        assert receiver.requests == []  # nothing before the commit
        for callback in callbacks:
            callback()
    assert WebhookDelivery.objects.get().status == "delivered"
    assert receiver.requests[0]["headers"]["X-Revops-Event"] == "contact.sql"


def test_bulk_makes_one_summary_per_team_and_one_delivery_per_contact_in_bounded_queries(
    teams, user_in, django_assert_max_num_queries
):
    owner = user_in(TeamKind.BDR, Role.MEMBER)
    sales_hook = endpoint_for(teams[TeamKind.SALES])
    bdr_hook = endpoint_for(teams[TeamKind.BDR])
    marketing_hook = endpoint_for(teams[TeamKind.MARKETING], event_types=["contact.sql"])
    account = AccountFactory()
    contacts = [ContactFactory(account=account, owner=owner if i < 5 else None) for i in range(50)]
    ruleset = Ruleset.objects.get(number=1)
    transitions = LifecycleTransition.objects.bulk_create(
        [
            LifecycleTransition(
                contact=c, from_stage="lead", to_stage="mql", at=AT, rule="MQL threshold", ruleset=ruleset
            )
            for c in contacts
        ]
    )
    with django_assert_max_num_queries(12):
        notifications.stage_change_notify(transitions=transitions)

    summaries = {n.team.kind: n for n in Notification.objects.select_related("team")}
    assert Notification.objects.count() == 3  # sales, BDR, marketing: one each
    assert summaries[TeamKind.MARKETING].title == "50 contacts became MQL"
    assert summaries[TeamKind.SALES].title == "45 contacts became MQL"  # the 5 owned are the BDR's
    assert summaries[TeamKind.BDR].title == "50 contacts became MQL"
    assert summaries[TeamKind.SALES].url == "/accounts/contacts/?lifecycle_stage=mql"
    assert (
        summaries[TeamKind.SALES].kind == "contact.mql.summary" and summaries[TeamKind.SALES].contact is None
    )
    assert WebhookDelivery.objects.filter(endpoint=sales_hook).count() == 45
    assert WebhookDelivery.objects.filter(endpoint=bdr_hook).count() == 50
    assert not WebhookDelivery.objects.filter(endpoint=marketing_hook).exists()
    assert WebhookDelivery.objects.values("event_id").distinct().count() == 50


def test_query_count_does_not_grow_with_the_batch(teams):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    endpoint_for(teams[TeamKind.SALES])

    def queries_for(n: int) -> tuple[int, int]:
        contacts = [ContactFactory() for _ in range(n)]
        transitions = [
            LifecycleTransition(contact_id=c.pk, from_stage="sal", to_stage="sql", at=AT) for c in contacts
        ]
        with CaptureQueriesContext(connection) as captured:
            notifications.stage_change_notify(transitions=transitions)
        inserts = sum(1 for q in captured if q["sql"].startswith("INSERT"))
        return len(captured) - inserts, inserts

    small_other, _ = queries_for(25)
    big_other, big_inserts = queries_for(300)
    assert small_other == big_other <= 8
    # Inserts go in the database's largest batches (SQLite takes ~76 deliveries per statement).
    assert big_inserts <= 1 + -(-300 // min(500, connection.ops.bulk_batch_size(["x"] * 13, [None] * 300)))
    assert Notification.objects.filter(title="300 contacts became SQL").count() == 1
    assert WebhookDelivery.objects.count() == 325


def test_summary_links_to_sal_too_when_fast_tracks_are_in_it(teams):
    contacts = [ContactFactory() for _ in range(25)]
    transitions = [
        transition(c, LifecycleStage.SAL if i % 2 else LifecycleStage.MQL) for i, c in enumerate(contacts)
    ]
    notifications.stage_change_notify(transitions=transitions)
    note = Notification.objects.get(team=teams[TeamKind.SALES])
    assert note.title == "25 contacts became MQL"
    assert note.url == "/accounts/contacts/?lifecycle_stage=mql&lifecycle_stage=sal"


def test_twenty_or_fewer_stay_one_notification_each(teams):
    contacts = [ContactFactory() for _ in range(20)]
    notifications.stage_change_notify(transitions=[transition(c, LifecycleStage.SQL) for c in contacts])
    assert Notification.objects.filter(kind="contact.sql").count() == 20


def test_nothing_to_say_makes_no_queries(django_assert_num_queries):
    contact = ContactFactory()
    t = LifecycleTransition(contact=contact, from_stage="mql", to_stage="sal", at=AT)
    with django_assert_num_queries(0):
        notifications.stage_change_notify(transitions=[t])


# --- reading ---------------------------------------------------------------------------------------
@pytest.fixture
def reader(user_in):
    """The sales member who has read "Old news" (the inbox marks it read by them)."""
    return user_in(TeamKind.SALES, Role.MEMBER)


@pytest.fixture
def inbox(teams, reader):
    """Two sales notifications (one read by ``reader``) and one marketing notification."""
    sales, marketing = teams[TeamKind.SALES], teams[TeamKind.MARKETING]
    old = Notification.objects.create(team=sales, kind="contact.sql", title="Old news")
    NotificationRead.objects.create(notification=old, user=reader, read_at=timezone.now())
    return {
        "sales_new": Notification.objects.create(
            team=sales, kind="contact.sql", title="Ada became SQL", url="/"
        ),
        "sales_read": old,
        "marketing_new": Notification.objects.create(
            team=marketing, kind="contact.mql", title="Bo became MQL"
        ),
    }


def test_selectors_are_scoped_to_the_users_teams(inbox, reader):
    seller = reader
    assert set(notifications.notification_list(user=seller)) == {inbox["sales_new"], inbox["sales_read"]}
    assert notifications.notification_unread_count(user=seller) == 1
    assert notifications.notification_unread_count(user=seller, cap=1) == 1


def test_mark_all_read_marks_only_the_users_teams_and_is_audited(inbox, reader):
    seller = reader
    assert notifications.notification_mark_all_read(actor=seller) == 1
    assert set(NotificationRead.objects.filter(user=seller).values_list("notification", flat=True)) == {
        inbox["sales_new"].pk,
        inbox["sales_read"].pk,
    }
    assert not inbox["marketing_new"].reads.exists()
    record = ChangeRecord.objects.get(object_type__model="notification")
    assert record.actor == seller and record.after == {"marked_read": 1, "read_by": seller.pk}
    assert record.object_repr == "1 notification marked read"
    assert notifications.notification_mark_all_read(actor=seller) == 0


def test_bell_shows_the_unread_count_with_one_count_query(
    client, inbox, reader, django_assert_max_num_queries
):
    seller = reader
    client.force_login(seller)
    page = client.get("/webhooks/").content.decode()
    assert 'id="notification-bell"' in page and 'id="notification-count">1</span>' in page
    assert "Notifications: 1 unread" in page
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/webhooks/")
    counts = [
        q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "scoring_notification" in q["sql"]
    ]
    assert len(counts) == 1


def test_bell_caps_the_count(client, teams, user_in):
    seller = user_in(TeamKind.SALES, Role.VIEWER)
    Notification.objects.bulk_create(
        [Notification(team=teams[TeamKind.SALES], kind="x", title=f"n{i}") for i in range(120)]
    )
    client.force_login(seller)
    assert 'id="notification-count">99+</span>' in client.get("/notifications/").content.decode()


def test_no_bell_for_a_user_without_a_team(client, outsider):
    client.force_login(outsider)
    assert "notification-bell" not in client.get("/").content.decode()


def test_notification_page_lists_filters_and_marks_read(client, inbox, reader):
    seller = reader
    client.force_login(seller)
    page = client.get("/notifications/").content.decode()
    assert "Ada became SQL" in page and "Old news" in page and "Bo became MQL" not in page
    assert "Mark all read" in page
    unread = client.get("/notifications/?unread=true").content.decode()
    assert "Ada became SQL" in unread and "Old news" not in unread

    pk = inbox["sales_new"].pk
    row = client.post(f"/notifications/{pk}/read/", HTTP_HX_REQUEST="true")
    html = row.content.decode()
    assert row.status_code == 200 and f'id="notification-{pk}"' in html and 'data-unread="false"' in html
    assert 'hx-swap-oob="true"' in html and "d-none" in html  # the bell's count goes away
    assert inbox["sales_new"].reads.get().user == seller
    # Another team's notification is out of reach.
    assert client.post(f"/notifications/{inbox['marketing_new'].pk}/read/").status_code == 404
    response = client.post("/notifications/read-all/", {"next": "https://evil.example.com/"})
    assert response.status_code == 302 and response["Location"] == "/notifications/"


def test_viewers_read_but_do_not_mark(client, inbox, user_in):
    viewer = user_in(TeamKind.SALES, Role.VIEWER)
    client.force_login(viewer)
    page = client.get("/notifications/").content.decode()
    assert "Ada became SQL" in page and "Mark read" not in page and "Mark all read" not in page
    assert client.post(f"/notifications/{inbox['sales_new'].pk}/read/").status_code == 403
    assert client.post("/notifications/read-all/").status_code == 403
    assert NotificationRead.objects.count() == 1  # only the inbox's own mark


# --- read by me is not read by my team ---------------------------------------------------------------
def test_read_by_me_is_not_read_by_my_team(client_for, inbox, reader, user_in):
    teammate = user_in(TeamKind.SALES, Role.MEMBER)
    assert notifications.notification_unread_count(user=reader) == 1
    assert notifications.notification_unread_count(user=teammate) == 2  # "Old news" is unread for them

    response = client_for(reader).post(f"/api/notifications/{inbox['sales_new'].pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    mine = {n["title"]: n["read_at"] for n in client_for(reader).get("/api/notifications/").json()["results"]}
    theirs = {
        n["title"]: n["read_at"] for n in client_for(teammate).get("/api/notifications/").json()["results"]
    }
    assert all(mine.values()) and not any(theirs.values())
    # Marking again changes nothing and audits nothing.
    records = ChangeRecord.objects.count()
    client_for(reader).post(f"/api/notifications/{inbox['sales_new'].pk}/read/")
    assert (
        ChangeRecord.objects.count() == records and NotificationRead.objects.filter(user=reader).count() == 2
    )


def test_a_notification_to_one_person_reaches_only_them(client_for, teams, reader, user_in):
    teammate = user_in(TeamKind.SALES, Role.MEMBER)
    note = Notification.objects.create(team=teams[TeamKind.SALES], user=reader, kind="x", title="Yours")
    assert [n["title"] for n in client_for(reader).get("/api/notifications/").json()["results"]] == ["Yours"]
    assert client_for(reader).get("/api/notifications/").json()["results"][0]["user"] == reader.pk
    assert client_for(teammate).get("/api/notifications/").json()["results"] == []
    assert client_for(teammate).post(f"/api/notifications/{note.pk}/read/").status_code == 404


def test_a_qualified_account_notifies_its_owner_and_links_to_exactly_its_accounts(
    client, teams, reader, user_in
):
    teammate = user_in(TeamKind.SALES, Role.MEMBER)
    sales = teams[TeamKind.SALES]
    owned = [
        AccountFactory(owner=reader, owner_team=sales) for _ in range(notifications.SUMMARY_THRESHOLD + 1)
    ]
    single = AccountFactory(owner=teammate, owner_team=sales)
    unowned = AccountFactory()
    others = AccountFactory.create_batch(3, owner=reader)  # not qualified: not in the link
    for account in [*owned, single, unowned]:
        AccountModelScoreFactory(account=account, qualified=True)

    notifications.account_qualified_notify(account_ids=[a.pk for a in [*owned, single, unowned]], at=AT)

    summary = Notification.objects.get(user=reader)
    assert summary.kind == "account.qualified.summary" and summary.team == sales
    assert summary.title == f"{len(owned)} accounts of yours became qualified"
    assert summary.account_ids == sorted(a.pk for a in owned)
    personal = Notification.objects.get(user=teammate)
    assert personal.account_ids == [single.pk] and personal.url == f"/accounts/{single.pk}/"
    # The account nobody owns goes to the sales and BDR/SDR teams, to everyone in them.
    assert set(Notification.objects.filter(user=None).values_list("team__kind", flat=True)) == {
        TeamKind.SALES,
        TeamKind.BDR,
    }
    # The link opens the accounts list filtered to exactly those accounts.
    client.force_login(reader)
    page = client.get(summary.url).content.decode()
    assert all(a.name in page for a in owned) and not any(a.name in page for a in [*others, single, unowned])
    assert AccountModelScore.objects.count() == len(owned) + 2


def test_a_notification_about_more_accounts_than_a_url_holds_links_by_its_own_ids(client, teams, reader):
    sales = teams[TeamKind.SALES]
    accounts = AccountFactory.create_batch(120, owner=reader, owner_team=sales)
    for account in accounts:
        AccountModelScoreFactory(account=account, qualified=True)
    other = AccountFactory(name="Aaa not in the notification")
    notifications.account_qualified_notify(account_ids=[a.pk for a in accounts], at=AT)
    note = Notification.objects.get(user=reader)
    assert note.url == f"/accounts/?notification={note.pk}" and len(note.account_ids) == 120
    client.force_login(reader)
    page = client.get(note.url).content.decode()
    assert min(a.name for a in accounts) in page and other.name not in page


# --- reasons in words people read ----------------------------------------------------------------------
def test_a_qualified_accounts_webhook_gives_its_reasons_in_probability_points(teams):
    endpoint_for(teams[TeamKind.SALES])
    score = AccountModelScoreFactory(
        account=AccountFactory(),
        qualified=True,
        in_market=0.35,
        contributions=[["key__intent__pricing_30d", 1.0, 0.42], ["known_30d", 1.0, -0.1]],
    )
    notifications.account_qualified_notify(account_ids=[score.account_id], at=AT)
    data = WebhookDelivery.objects.get(event_type="account.qualified").payload["data"]
    # 0.42 log-odds take a 35% account from 26.1% to 35% (8.9 points); -0.1 costs it 2.3 points.
    assert data["reasons"] == [
        "1 intent signal on “Pricing” in the last 30 days: +9 pts (moderate raise)",
        "1 event by known people in the last 30 days: -2 pts (slight lower)",
    ]
    first, second = data["explanation"]
    assert first["feature"] == "key__intent__pricing_30d" and first["contribution"] == 0.42
    assert first["probability_points"] == pytest.approx(8.87, abs=0.01)
    assert (first["points"], first["strength"]) == ("+9 pts", "moderate raise")
    assert second["contribution"] == -0.1 and second["probability_points"] == pytest.approx(-2.31, abs=0.01)
    assert set(first) == set(notifications.EXPLANATION_KEYS)


@pytest.mark.parametrize(
    "rule, stored, sent",
    [
        ("MQL definition", "fit 45 ≥ 40 and engagement 21.4421 ≥ 20", "fit 45 ≥ 40 and engagement 21.4 ≥ 20"),
        ("fast-track", "demo request on 2025-04-30", "Demo request on 30 Apr 2025"),
        ("", "Spoke to her: 21.4421 ≥ 20", "Spoke to her: 21.4421 ≥ 20"),  # a person's words stay theirs
    ],
)
def test_a_lifecycle_webhook_gives_an_automatic_reason_in_todays_words(teams, rule, stored, sent):
    endpoint_for(teams[TeamKind.SALES])
    moved = transition(ContactFactory(), LifecycleStage.MQL, rule=rule, reason=stored)
    notifications.stage_change_notify(transitions=[moved])
    assert WebhookDelivery.objects.get().payload["data"]["transition"]["reason"] == sent
