"""Webhooks and notifications in a real browser: a lead adds an endpoint pointing at a local receiver,
sends a test that arrives signed, and a lifecycle change rings the notification bell."""

import datetime
import json
import re

import pytest
from playwright.sync_api import expect

from accounts.choices import LifecycleStage
from revops.choices import Role, TeamKind
from scoring.delivery import notifications, webhooks
from scoring.models import LifecycleTransition, WebhookEndpoint
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.test_webhooks import Receiver


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def test_lead_adds_an_endpoint_sends_a_test_and_hears_the_bell(page, login, user_in, receiver):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    login(lead)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(page.locator("#notification-count")).to_have_count(0)  # nothing unread yet

    nav.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(nav.locator("a.nav-link.active")).to_have_text("Webhooks")
    page.get_by_role("link", name="Add endpoint").click()

    # A bad URL is refused with the reason, and nothing is saved.
    page.get_by_label("Name").fill("Local CRM")
    page.get_by_label("URL").fill("ftp://127.0.0.1/hook")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#error-url")).to_contain_text("http:// or https://")
    assert not WebhookEndpoint.objects.exists()

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Local CRM")
    endpoint = WebhookEndpoint.objects.get()
    page.locator("#endpoint-secret summary").click()
    expect(page.locator("#endpoint-secret code")).to_have_text(endpoint.secret)

    page.get_by_role("button", name="Send test").click()
    expect(page.locator(".alert")).to_contain_text("Test event sent")
    row = page.locator("#delivery-table tbody tr").first
    expect(row.locator(".delivery-status")).to_have_text("Delivered")
    expect(row).to_contain_text("ping")
    row.locator("summary").click()
    expect(row.locator(".attempt-list")).to_contain_text("HTTP 200")
    page.screenshot(path="/tmp/ui-webhook-detail.png", full_page=True)

    [request] = receiver.requests
    headers = request["headers"]
    assert headers["X-Revops-Event"] == "ping"
    assert webhooks.verify(secret=endpoint.secret, header=headers["X-Revops-Signature"], body=request["body"])
    assert json.loads(request["body"])["data"]["sent_by"] == lead.username

    # A contact becomes SQL: the sales team's bell rings, and the CRM hears about it.
    contact = ContactFactory(first_name="Ada", last_name="Byron", account=AccountFactory(domain="acme.com"))
    transition = LifecycleTransition.objects.create(
        contact=contact,
        from_stage=LifecycleStage.SAL,
        to_stage=LifecycleStage.SQL,
        at=datetime.datetime.now(datetime.UTC),
        actor=lead,
    )
    notifications.stage_change_notify(transitions=[transition])
    page.reload()
    expect(page.locator("#notification-count")).to_have_text("1")
    assert [r["headers"]["X-Revops-Event"] for r in receiver.requests] == ["ping", "contact.sql"]

    page.locator("#notification-bell").click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    item = page.locator("#notification-list li").first
    expect(item).to_contain_text("Ada Byron at acme.com became SQL")
    expect(item).to_have_attribute("data-unread", "true")
    page.screenshot(path="/tmp/ui-notifications.png", full_page=True)
    item.get_by_role("button", name="Mark read").click()
    expect(page.locator("#notification-list li").first).to_have_attribute("data-unread", "false")
    expect(page.locator("#notification-count")).to_be_hidden()
    page.locator("#notification-list li a.notification-title").first.click()
    expect(page).to_have_url(re.compile(rf"/accounts/contacts/{contact.pk}/$"))
