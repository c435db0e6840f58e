"""The ingestion engine: identities, rollup keys and counts, idempotency, all-or-nothing validation."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.choices import EventSource, EventType
from accounts.ingest import (
    FREE_MAIL_DOMAINS,
    IngestResult,
    IngestValidationError,
    account_name_from_domain,
    events_ingest,
    events_validate,
)
from accounts.models import Account, AccountActivityDaily, Contact, ContactActivityDaily, EngagementEvent
from revops.models import ChangeRecord
from tests.accounts.factories import AccountFactory, CampaignFactory, ContactFactory

pytestmark = pytest.mark.django_db

WHEN = "2025-05-01T10:00:00Z"
_seq = iter(range(1, 10**9))


def item(**fields) -> dict:
    """A valid page view unless told otherwise (give it an account or a contact)."""
    data = {"message_id": f"m-{next(_seq)}", "type": "page_view", "occurred_at": WHEN}
    data.update(fields)
    return data


def account_rollups() -> set[tuple]:
    return set(
        AccountActivityDaily.objects.values_list(
            "account_id", "day", "event_type", "key", "count", "known_count"
        )
    )


def contact_rollups() -> set[tuple]:
    return set(
        ContactActivityDaily.objects.values_list(
            "contact_id", "account_id", "day", "event_type", "key", "count"
        )
    )


def test_rollups_fold_events_per_account_contact_day_type_and_key(member):
    acme = AccountFactory(domain="acme.com")
    ada = ContactFactory(account=acme, email="ada@acme.com")
    day = datetime.date(2025, 5, 1)
    items = [
        item(account_domain="acme.com", url="https://acme.example/Pricing/?utm=x"),
        item(account_id=acme.pk, url="/pricing#plans"),
        item(contact_email="ADA@acme.com", url="https://acme.example/pricing"),
        item(contact_id=ada.pk, url="/blog/abm-101"),
        item(account_domain="acme.com", type="intent", topic="  Revenue Operations "),
        item(contact_email="ada@acme.com", type="webinar"),
        # 23:30 at UTC-2 is the next UTC day
        item(account_domain="acme.com", url="/pricing", occurred_at="2025-05-01T23:30:00-02:00"),
    ]
    result = events_ingest(actor=member, items=items)

    assert result == IngestResult(received=7, created=7, duplicates=0, accounts_created=0, contacts_created=0)
    assert account_rollups() == {
        (acme.pk, day, "page_view", "/pricing", 3, 1),
        (acme.pk, day, "page_view", "/blog/abm-101", 1, 1),
        (acme.pk, day, "intent", "revenue operations", 1, 0),
        (acme.pk, day, "webinar", "", 1, 1),
        (acme.pk, datetime.date(2025, 5, 2), "page_view", "/pricing", 1, 0),
    }
    assert contact_rollups() == {
        (ada.pk, acme.pk, day, "page_view", "/pricing", 1),
        (ada.pk, acme.pk, day, "page_view", "/blog/abm-101", 1),
        (ada.pk, acme.pk, day, "webinar", "", 1),
    }
    intent = EngagementEvent.objects.get(event_type=EventType.INTENT)
    assert intent.source == EventSource.THIRD_PARTY and intent.topic == "Revenue Operations"
    assert EngagementEvent.objects.get(url="/blog/abm-101").source == EventSource.FIRST_PARTY
    assert EngagementEvent.objects.filter(contact=ada, account=acme).count() == 3


def test_event_fields_are_stored(member):
    campaign = CampaignFactory()
    events_ingest(
        actor=member,
        items=[
            item(
                message_id="web-1",
                type="form_fill",
                occurred_at="2025-05-01T12:00:00.250+02:00",
                account_domain="https://www.Acme.com/about",
                campaign_id=campaign.pk,
                url="https://acme.com/demo",
                source="third_party",
                properties={"form": "demo", "fields": [1, 2]},
            )
        ],
    )
    event = EngagementEvent.objects.get(message_id="web-1")
    assert event.account.domain == "acme.com"
    assert event.occurred_at == datetime.datetime(2025, 5, 1, 10, 0, 0, 250000, tzinfo=datetime.UTC)
    assert (event.event_type, event.source, event.campaign_id) == ("form_fill", "third_party", campaign.pk)
    assert event.properties == {"form": "demo", "fields": [1, 2]}


def test_replay_writes_nothing_and_counts_nothing_twice(member):
    acme = AccountFactory(domain="acme.com")
    items = [item(account_domain="acme.com", url="/pricing") for _ in range(3)]
    items.append(item(contact_email="new@newco.io", url="/pricing"))
    first = events_ingest(actor=member, items=items)
    before = (account_rollups(), contact_rollups())

    replay = events_ingest(actor=member, items=items)

    assert (first.created, first.accounts_created, first.contacts_created) == (4, 1, 1)
    assert replay == IngestResult(received=4, created=0, duplicates=4, accounts_created=0, contacts_created=0)
    assert (account_rollups(), contact_rollups()) == before
    assert EngagementEvent.objects.count() == 4
    assert AccountActivityDaily.objects.get(account=acme).count == 3


def test_partial_replay_counts_only_the_new_events(member):
    acme = AccountFactory(domain="acme.com")
    old = [item(account_id=acme.pk, url="/pricing") for _ in range(2)]
    events_ingest(actor=member, items=old)

    result = events_ingest(actor=member, items=[*old, item(account_id=acme.pk, url="/pricing")])

    assert (result.created, result.duplicates) == (1, 2)
    assert AccountActivityDaily.objects.get(account=acme).count == 3


def test_unknown_domain_creates_the_account_named_after_it(member):
    result = events_ingest(
        actor=member,
        items=[item(account_domain="WWW.Acme-Corp.co.uk"), item(account_domain="acme-corp.co.uk")],
    )
    account = Account.objects.get(domain="acme-corp.co.uk")
    assert account.name == "Acme Corp"
    assert result.accounts_created == 1
    assert EngagementEvent.objects.filter(account=account).count() == 2


def test_unknown_email_creates_the_contact_at_the_events_account(member):
    acme = AccountFactory(domain="acme.com")
    result = events_ingest(actor=member, items=[item(account_id=acme.pk, contact_email="Grace@Other.org")])
    contact = Contact.objects.get(email="grace@other.org")
    assert contact.account == acme
    assert (result.contacts_created, result.accounts_created) == (1, 0)


def test_email_alone_resolves_the_account_from_its_domain(member):
    acme = AccountFactory(domain="acme.com")
    result = events_ingest(
        actor=member,
        items=[
            item(contact_email="ada@acme.com"),
            item(contact_email="bob@newco.io"),
            item(contact_email="bob@newco.io"),
        ],
    )
    assert Contact.objects.get(email="ada@acme.com").account == acme
    newco = Account.objects.get(domain="newco.io")
    assert Contact.objects.get(email="bob@newco.io").account == newco
    assert (result.accounts_created, result.contacts_created) == (1, 2)
    assert EngagementEvent.objects.filter(account=newco, contact__email="bob@newco.io").count() == 2
    assert AccountActivityDaily.objects.get(account=newco).known_count == 2


def test_known_contact_alone_brings_its_own_account(member):
    acme = AccountFactory(domain="acme.com")
    ContactFactory(email="ada@gmail.com", account=acme)  # a known contact on free mail keeps its account
    events_ingest(actor=member, items=[item(contact_email="ada@gmail.com")])
    assert EngagementEvent.objects.get().account == acme


def test_free_mail_contact_is_created_without_an_account(member):
    assert "gmail.com" in FREE_MAIL_DOMAINS
    result = events_ingest(actor=member, items=[item(contact_email="someone@gmail.com", type="form_fill")])
    contact = Contact.objects.get(email="someone@gmail.com")
    assert contact.account is None
    assert (result.accounts_created, result.contacts_created) == (0, 1)
    assert not Account.objects.exists()
    event = EngagementEvent.objects.get()
    assert event.account is None and event.contact == contact
    assert not AccountActivityDaily.objects.exists()
    assert contact_rollups() == {(contact.pk, None, datetime.date(2025, 5, 1), "form_fill", "", 1)}


def test_unknown_free_mail_domain_is_not_an_account(member):
    with pytest.raises(IngestValidationError) as exc:
        events_ingest(actor=member, items=[item(account_domain="gmail.com")])
    assert [(e.index, e.field) for e in exc.value.errors] == [(0, "account_domain")]


def test_first_event_of_a_new_contact_decides_its_account(member):
    acme = AccountFactory(domain="acme.com")
    events_ingest(
        actor=member,
        items=[item(account_id=acme.pk, contact_email="x@partner.net"), item(contact_email="x@partner.net")],
    )
    assert Contact.objects.get(email="x@partner.net").account == acme
    assert set(EngagementEvent.objects.values_list("account_id", flat=True)) == {acme.pk}
    assert not Account.objects.filter(domain="partner.net").exists()


def test_one_audit_record_per_batch(member):
    events_ingest(actor=member, items=[item(account_domain="acme.com"), item(account_domain="acme.com")])
    record = ChangeRecord.objects.get(action="ingest")
    assert (record.action, record.actor, record.object_type.model) == ("ingest", member, "engagementevent")
    assert record.after == {
        "received": 2, "created": 2, "duplicates": 0, "accounts_created": 1, "contacts_created": 0,
    }  # fmt: skip


def test_invalid_batch_lists_every_error_and_writes_nothing(member):
    AccountFactory(domain="acme.com")
    items = [
        item(account_domain="new.com"),
        item(account_id=999_999),
        item(contact_id=999_998, campaign_id=999_997),
        item(account_domain="acme.com", type="nope", color="red"),
        item(account_domain="acme.com", message_id="m-dup"),
        item(account_domain="acme.com", message_id="m-dup"),
    ]
    with pytest.raises(IngestValidationError) as exc:
        events_ingest(actor=member, items=items)
    assert [(e.index, e.field) for e in exc.value.errors] == [
        (1, "account_id"),
        (2, "contact_id"),
        (2, "campaign_id"),
        (3, "color"),
        (3, "type"),
        (5, "message_id"),
    ]
    assert not EngagementEvent.objects.exists()
    assert not Account.objects.filter(domain="new.com").exists()
    assert not ChangeRecord.objects.filter(action="ingest").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"message_id": None}, "message_id"),
        ({"message_id": 12}, "message_id"),
        ({"message_id": "x" * 201}, "message_id"),
        ({"message_id": "  "}, "message_id"),
        ({"type": "visit"}, "type"),
        ({"type": None}, "type"),
        ({"occurred_at": "2025-05-01T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": 1714557600}, "occurred_at"),
        ({"source": "second_party"}, "source"),
        ({"account_id": "12"}, "account_id"),
        ({"account_id": True}, "account_id"),
        ({"account_id": -1}, "account_id"),
        ({"account_domain": "not a domain"}, "account_domain"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"contact_email": "a@-bad-.com"}, "contact_email"),
        ({"campaign_id": 1.5}, "campaign_id"),
        ({"url": 7}, "url"),
        ({"url": "/" + "x" * 3000}, "url"),
        ({"topic": "t" * 201}, "topic"),
        ({"type": "intent"}, "topic"),
        ({"properties": ["a"]}, "properties"),
        ({"properties": {"a": "nul\x00"}}, "properties"),
        ({"url": "/caf\udce9"}, "url"),
        ({"properties": {"name": "\ud800"}}, "properties"),
        ({"topic": "nul\x00"}, "topic"),
        ({"account_domain": None}, "account"),
        ({"referrer": "x"}, "referrer"),
    ],
)
def test_bad_values_name_their_field(member, fields, field):
    data = item(account_domain="acme.com")
    data.update(fields)
    if field == "account":
        data.pop("account_domain")
    with pytest.raises(IngestValidationError) as exc:
        events_validate(items=[data])
    assert field in [e.field for e in exc.value.errors]
    assert all(e.index == 0 for e in exc.value.errors)


def test_occurred_at_more_than_a_day_ahead_is_refused(member):
    soon = (timezone.now() + datetime.timedelta(hours=20)).isoformat()
    later = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    with pytest.raises(IngestValidationError) as exc:
        events_validate(
            items=[
                item(account_domain="a.com", occurred_at=soon),
                item(account_domain="a.com", occurred_at=later),
            ]
        )
    assert [(e.index, e.field) for e in exc.value.errors] == [(1, "occurred_at")]


def test_both_account_id_and_domain_is_ambiguous(member):
    acme = AccountFactory(domain="acme.com")
    with pytest.raises(IngestValidationError) as exc:
        events_validate(items=[item(account_id=acme.pk, account_domain="acme.com")])
    assert exc.value.errors[0].field == "account_domain"


def test_batch_size_is_limited(member):
    items = [item(account_domain="acme.com") for _ in range(4)]
    with pytest.raises(IngestValidationError) as exc:
        events_ingest(actor=member, items=items, max_items=3)
    assert [(e.index, e.field) for e in exc.value.errors] == [(None, "events")]
    assert events_ingest(actor=member, items=items, max_items=None).created == 4


def test_non_object_items_are_refused(member):
    with pytest.raises(IngestValidationError) as exc:
        events_validate(items=[item(account_domain="a.com"), "page_view", None])
    assert [(e.index, e.field) for e in exc.value.errors] == [
        (1, "non_field_errors"),
        (2, "non_field_errors"),
    ]


def test_empty_batch_is_fine(member):
    assert events_ingest(actor=member, items=[]) == IngestResult(0, 0, 0, 0, 0)


def test_two_batches_in_one_outer_transaction(member):
    """The CSV import may call the service several times inside its own transaction."""
    first, second = [item(account_domain="acme.com") for _ in range(2)], [item(account_domain="acme.com")]
    with transaction.atomic():
        assert events_ingest(actor=member, items=first).created == 2
        assert events_ingest(actor=member, items=[*first, *second]).created == 1
    assert AccountActivityDaily.objects.get().count == 3


def test_query_count_does_not_grow_with_the_batch(member, django_assert_max_num_queries):
    AccountFactory(domain="acme.com")
    ContactFactory(email="ada@acme.com")
    items = []
    for n in range(300):
        items.append(item(account_domain="acme.com", url=f"/blog/{n % 7}"))
        items.append(item(contact_email=f"p{n}@new{n % 5}.com", type="email_open"))
        items.append(item(contact_email="ada@acme.com", type="intent", topic=f"topic {n % 3}"))
    with django_assert_max_num_queries(30):
        result = events_ingest(actor=member, items=items, max_items=None)
    assert (result.created, result.accounts_created, result.contacts_created) == (900, 5, 300)


def test_account_name_from_domain():
    assert account_name_from_domain("acme.com") == "Acme"
    assert account_name_from_domain("app.big-co.io") == "Big Co"
    assert account_name_from_domain("shop.example.com.br") == "Example"
