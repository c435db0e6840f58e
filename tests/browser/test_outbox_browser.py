"""The scoring outbox in a real browser: revenue operations find it in the navigation, read a parked
row's error and replay it; the row leaves the parked list."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from scoring.models import ScoringOutbox


def test_revops_finds_a_parked_row_and_replays_it(page, login, revops_admin):
    row = ScoringOutbox.objects.create(
        contact_ids=[], account_ids=[9_999_999], attempts=5, parked_at=timezone.now(),
        last_error="account 9999999: ValueError: annual revenue is NaN",
    )  # fmt: skip
    login(revops_admin)
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("button", name="Scoring").or_(nav.get_by_role("link", name="Scoring")).first.click()
    page.locator("#nav-outbox").click()
    expect(page).to_have_url(re.compile(r"/scoring/outbox/$"))
    expect(page.get_by_role("heading", name="Parked (1)")).to_be_visible()
    expect(page.locator(f"#outbox-row-{row.pk}")).to_contain_text("annual revenue is NaN")

    page.get_by_label(f"Replay row {row.pk}").check()
    page.locator("#replay-chosen").click()
    expect(page.locator(".alert")).to_contain_text("1 row queued again for scoring.")
    expect(page.get_by_role("heading", name="Parked (0)")).to_be_visible()
    expect(page.get_by_text("No parked rows")).to_be_visible()
    row.refresh_from_db()
    assert (row.parked_at, row.attempts) == (None, 0)


def test_a_member_is_not_offered_the_outbox(page, login, member):
    login(member)
    expect(page.locator("#nav-outbox")).to_have_count(0)
    assert page.goto("/scoring/outbox/").status == 403
