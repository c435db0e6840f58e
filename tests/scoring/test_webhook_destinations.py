"""Webhooks go to public hosts only (unless a deployment allows internal receivers): an endpoint on
loopback, a private or link-local network is refused when saved, and a name that resolves there is
refused when sending, so an endpoint cannot be used to probe the server's own network."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from revops.choices import TeamKind
from scoring.choices import DeliveryStatus
from scoring.delivery import webhooks
from scoring.models import WebhookAttempt, WebhookEndpoint
from tests.revops.factories import TeamFactory
from tests.scoring.test_webhooks import Receiver, make_delivery, make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def team():
    return TeamFactory(kind=TeamKind.SALES)


def _resolves_to(monkeypatch, address: str):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def fake(host, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 443))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        # IPv6 forms that carry a loopback or private IPv4 address: a translator or relay delivers there.
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 well-known prefix → 127.0.0.1
        "http://[64:ff9b::a00:1]/hook",  # NAT64 → 10.0.0.1
        "http://[64:ff9b:1::7f00:1]/hook",  # local-use NAT64 prefix (refused whole)
        "http://[2002:7f00:1::]/hook",  # 6to4 → 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/hook",  # 6to4 → 169.254.169.254
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
    ],
)
def test_an_internal_address_is_refused_when_saved_and_nothing_is_created(team, url):
    with pytest.raises(ValidationError) as raised:
        make_endpoint(team, url)
    assert "not a public address" in str(raised.value.message_dict["url"])
    assert not WebhookEndpoint.objects.exists()


def test_public_hosts_are_accepted_without_a_lookup_when_saved(team, monkeypatch):
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: pytest.fail("no lookup on save"))
    assert make_endpoint(team, "https://crm.example.com/hook").pk
    assert make_endpoint(team, "https://93.184.216.34/hook").pk


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "10.1"])
def test_legacy_ipv4_spellings_are_judged_as_the_address_they_connect_to(monkeypatch, host, settings):
    """URL validation refuses these on save today; the check does not lean on it (nor on a lookup)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: pytest.fail("no lookup"))
    assert "not a public address" in webhooks.destination_refusal(f"http://{host}/hook", resolve=False)


@pytest.mark.parametrize("url", ["https://[64:ff9b::808:808]/hook", "https://[2002:808:808::1]/hook"])
def test_translated_forms_of_a_public_address_are_accepted(team, url):
    """NAT64 and 6to4 are legitimate ways to reach a public IPv4 receiver: only where they lead counts."""
    assert make_endpoint(team, url).pk


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:127.0.0.1", "::10.0.0.7"])
def test_a_name_resolving_to_an_ipv6_form_of_loopback_is_not_sent_to(team, monkeypatch, settings, address):
    with Receiver() as receiver:
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
        endpoint = make_endpoint(team, receiver.url.replace("127.0.0.1", "hooks.example.com"))
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        _resolves_to(monkeypatch, address)
        delivery = make_delivery(endpoint)
        status = webhooks.delivery_attempt(delivery=delivery, now=timezone.now())
        assert status == DeliveryStatus.RETRYING and receiver.requests == []
    assert "not public" in WebhookAttempt.objects.get(delivery=delivery).error


def test_a_name_resolving_to_a_private_address_is_not_sent_to(team, monkeypatch, settings):
    with Receiver() as receiver:
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # saved while allowed (or a name that moved since)
        endpoint = make_endpoint(team, receiver.url.replace("127.0.0.1", "hooks.example.com"))
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        _resolves_to(monkeypatch, "10.0.0.7")
        delivery = make_delivery(endpoint)
        status = webhooks.delivery_attempt(delivery=delivery, now=timezone.now())
        assert status == DeliveryStatus.RETRYING and receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "not public" in attempt.error


def test_allowed_internal_receivers_get_their_webhooks(team, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    with Receiver() as receiver:
        endpoint = make_endpoint(team, receiver.url)
        status = webhooks.delivery_attempt(delivery=make_delivery(endpoint), now=timezone.now())
        assert status == DeliveryStatus.DELIVERED and len(receiver.requests) == 1


def test_the_refusal_reads_as_an_error_in_the_api(team, client_for, user_in):
    from revops.choices import Role

    lead = client_for(user_in(TeamKind.SALES, Role.LEAD))
    response = lead.post(
        "/api/webhooks/", {"team": team.pk, "name": "CRM", "url": "http://169.254.169.254/x"}, format="json"
    )
    assert response.status_code == 400 and "not a public address" in str(response.json()["url"])
    assert not WebhookEndpoint.objects.exists()


def test_the_checked_address_is_the_one_connected_to(team, monkeypatch, settings):
    """DNS rebinding: the name resolves to a public address for the check, then to loopback. The
    connection goes to the checked address; the loopback receiver never hears of it."""
    with Receiver() as receiver:
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
        endpoint = make_endpoint(team, receiver.url.replace("127.0.0.1", "hooks.example.com"))
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        answers = iter(["93.184.216.34"])

        def rebinding(host, *args, **kwargs):
            address = next(answers, "127.0.0.1")  # public once, loopback afterwards
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 80))]

        connected = []

        def create_connection(target, *args, **kwargs):
            connected.append(target)
            raise ConnectionRefusedError("refused (test)")

        monkeypatch.setattr(webhooks.socket, "getaddrinfo", rebinding)
        monkeypatch.setattr(webhooks.socket, "create_connection", create_connection)
        delivery = make_delivery(endpoint)
        status = webhooks.delivery_attempt(delivery=delivery, now=timezone.now())
        assert status == DeliveryStatus.RETRYING and receiver.requests == []
    assert connected == [("93.184.216.34", receiver.server.server_address[1])]
    assert "refused (test)" in WebhookAttempt.objects.get(delivery=delivery).error


def test_a_pinned_post_keeps_the_host_name_in_the_request():
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        status, error = webhooks.http_post(
            url=f"http://hooks.example.com:{port}/hooks/revops", body=b"{}", headers={}, address="127.0.0.1"
        )
    assert (status, error) == (200, "")
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.com:{port}"
