"""E-mail and domain normalisation, shared by the API, event ingestion and CSV import.

Decision: an e-mail's local part may be any letters (``zoë.müller``), stored lower-case in Unicode
NFC; its domain is stored as ``normalize_domain`` stores an account's domain, in the ASCII (IDNA)
form, so ``email_domain(email)`` finds the account of an internationalised domain.
"""

import pytest

from accounts.ingest import events_ingest
from accounts.models import Account, Contact
from accounts.normalize import email_domain, normalize_domain, normalize_email

BUECHER = "xn--bcher-kva.de"  # bücher.de


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Jane@Acme.com", "jane@acme.com"),
        ("  user+tag@Sub.Example.co.uk ", "user+tag@sub.example.co.uk"),
        ("zoë.müller@beispiel.de", "zoë.müller@beispiel.de"),
        ("Zoë.Müller@Beispiel.DE", "zoë.müller@beispiel.de"),
        ("zoe\u0308@beispiel.de", "zoë@beispiel.de"),  # a decomposed ë (macOS) is the same address
        ("müller@bücher.de", f"müller@{BUECHER}"),
        ("MÜLLER@BÜCHER.DE", f"müller@{BUECHER}"),
        (f"müller@{BUECHER}", f"müller@{BUECHER}"),
        ("josé@例え.jp", "josé@xn--r8jz45g.jp"),
        ("δοκιμή@παράδειγμα.gr", "δοκιμή@xn--hxajbheg2az3al.gr"),
    ],
)
def test_valid_addresses_are_trimmed_lower_cased_and_their_domain_ascii(raw, stored):
    assert normalize_email(raw) == stored
    assert email_domain(stored) == normalize_domain(raw.rsplit("@", 1)[1])  # one form for both


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not-an-email",
        "@acme.com",
        "jane@",
        "jane@localhost",
        "jane@acme..com",
        "jane@-acme.com",
        "jane@acme_corp.com",
        "ja ne@acme.com",
        "jane..doe@acme.com",
        ".jane@acme.com",
        "jane.@acme.com",
        "a@b@acme.com",
        "«jane»@acme.com",  # punctuation beyond ASCII is not a letter
        "jane\u200b@acme.com",  # nor is a zero-width space
        "x" * 250 + "@acme.com",
    ],
)
def test_invalid_addresses_are_refused(raw):
    with pytest.raises(ValueError, match="is not a valid e-mail address"):
        normalize_email(raw)


def test_domains_are_stored_in_their_ascii_form():
    assert normalize_domain("https://www.Bücher.de/katalog") == BUECHER
    assert normalize_domain(BUECHER) == BUECHER
    with pytest.raises(ValueError):
        normalize_domain("bücher..de")


# --- the places that share it ---------------------------------------------------------------------
@pytest.mark.django_db
def test_ingestion_creates_unicode_contacts_at_the_account_of_their_domain(member):
    view = {"type": "page_view", "occurred_at": "2025-05-01T10:00:00Z"}
    items = [
        {**view, "message_id": "m1", "contact_email": "Zoë.Müller@Beispiel.de"},
        {**view, "message_id": "m2", "contact_email": "MÜLLER@bücher.de"},
    ]
    result = events_ingest(actor=member, items=items)
    assert (result.contacts_created, result.accounts_created) == (2, 2)
    zoe = Contact.objects.get(email="zoë.müller@beispiel.de")
    assert zoe.account.domain == "beispiel.de"
    mueller = Contact.objects.get(email=f"müller@{BUECHER}")
    assert mueller.account == Account.objects.get(domain=BUECHER)


@pytest.mark.django_db
def test_api_takes_an_internationalised_domain(client_for, member):
    response = client_for(member).post("/api/contacts/", {"email": "Info@Bücher.de"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["email"] == f"info@{BUECHER}"


@pytest.mark.django_db
def test_api_takes_a_non_ascii_local_part(client_for, member):
    response = client_for(member).post("/api/contacts/", {"email": "Zoë.Müller@beispiel.de"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "zoë.müller@beispiel.de"
