"""The API tokens page and the Schedule page in a real browser (issue 17): a lead creates a token, sees
its key once, uses it against the live API and revokes it; revenue operations retimes a task."""

import importlib
import json
import urllib.error
import urllib.request

from django.apps import apps as django_apps
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from revops.choices import Role, TeamKind
from revops.models import ApiToken

BEAT_MIGRATION = importlib.import_module("scoring.migrations.0008_beat_schedule")


def api_get(base_url: str, path: str, key: str) -> tuple[int, dict]:
    """A request as an integration makes it: no browser, no cookie, the token only."""
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_a_lead_creates_a_token_sees_it_once_uses_it_and_revokes_it(page, login, user_in, live_server):
    lead = user_in(TeamKind.SALES, Role.LEAD)
    login(lead)
    page.locator("#user-menu").click()
    page.locator("#nav-tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    expect(page.locator("#token-list")).to_contain_text("No API tokens yet.")

    # Nothing chosen: an error, nothing created.
    page.fill("#id_name", "CRM sync")
    page.locator("#token-create").click()
    expect(page.locator("#error-scopes")).to_be_visible()
    assert not ApiToken.objects.exists()

    page.get_by_label("Read", exact=False).check()
    page.locator("#token-create").click()
    expect(page.locator("#token-created")).to_contain_text("shown only this once")
    key = page.locator("#token-key").input_value()
    token = ApiToken.objects.get()
    assert key.startswith("rvo_") and key.startswith(token.prefix) and token.scopes == ["read"]
    row = page.locator(f"#token-{token.pk}")
    expect(row).to_contain_text("CRM sync")
    expect(row.locator("td").nth(4)).to_have_text("never")

    # The key works against the live API, and only for what its scope allows.
    status, body = api_get(live_server.url, "/api/teams/", key)
    assert status == 200 and body["results"]

    # Shown once: a reload does not show it again; the last use is there.
    page.reload()
    expect(page.locator("#token-key")).to_have_count(0)
    assert key not in page.content()
    expect(row.locator("td").nth(4)).not_to_have_text("never")
    expect(row.locator(".token-status")).to_have_text("Active")

    # Revoke: asked first, then done; the key stops working.
    page.locator(f"#revoke-{token.pk}").click()
    expect(page.locator("h1")).to_have_text("Revoke “CRM sync”?")
    page.locator("#revoke-confirm").click()
    expect(page.locator(".alert-success")).to_contain_text("Revoked “CRM sync”")
    expect(row.locator(".token-status")).to_contain_text("Revoked")
    status, body = api_get(live_server.url, "/api/teams/", key)
    assert status == 401 and "revoked" in body["detail"]


def test_revenue_operations_retimes_the_nightly_rescore(page, login, revops_admin):
    BEAT_MIGRATION.forwards(django_apps, None)  # the live server's tests start from flushed tables
    nightly = PeriodicTask.objects.get(name="Nightly full rescore")
    login(revops_admin)
    page.locator("#user-menu").click()
    page.locator("#nav-schedule").click()
    row = page.locator(f"#periodic-task-{nightly.pk}")
    expect(row.locator(".task-when")).to_have_text("every day at 03:00 UTC")
    row.get_by_role("link", name="Edit").click()

    page.fill("#id_hour", "25")
    page.locator("#schedule-save").click()
    expect(page.locator("#error-hour")).to_be_visible()
    nightly.refresh_from_db()
    assert nightly.crontab.hour == "3"

    page.fill("#id_hour", "4")
    page.fill("#id_minute", "30")
    page.locator("#schedule-save").click()
    expect(page.locator(".alert-success")).to_contain_text("every day at 04:30 UTC")
    expect(row.locator(".task-when")).to_have_text("every day at 04:30 UTC")
    nightly.refresh_from_db()
    assert (nightly.crontab.minute, nightly.crontab.hour, nightly.enabled) == ("30", "4", True)
