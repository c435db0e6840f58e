"""The playbook pages as people use them: build a playbook, sign it off, see plays due, finish a task, and the
account page's next best action."""

import pytest
from django.test import Client

from playbooks.choices import PlayKind
from playbooks.models import Playbook, PlayTask
from playbooks.triggers import plays_trigger
from revops.choices import Role, TeamKind
from tests.accounts.factories import AccountFactory
from tests.revops.factories import make_member

from .factories import enter, published_playbook

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def play_row(index: int, **fields) -> dict:
    row = {"name": "", "kind": "task", "team_kind": "bdr", "channel": "", "due_days": "7", "touches": "1",
           "stop_on": "regression", "instructions": "", **fields}  # fmt: skip
    return {f"plays-{index}-{key}": value for key, value in row.items() if value is not False}


def test_a_playbook_is_built_in_the_editor_and_signed_off_by_marketing_and_sales():
    editor = make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mark")
    sales_lead = make_member(kind=TeamKind.SALES, role=Role.LEAD, username="sam")
    marketing_lead = make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mona")
    client = browser(editor)
    assert client.get("/playbooks/").status_code == 200
    assert client.post("/playbooks/add/", {"stage": "decision"}).status_code == 302
    book = Playbook.objects.get()
    assert client.get(f"/playbooks/{book.pk}/edit/").status_code == 200
    form = {
        "revision": book.revision, "name": "Decision plays", "description": "",
        "plays-TOTAL_FORMS": "2", "plays-INITIAL_FORMS": "0", "plays-MIN_NUM_FORMS": "0",
        "plays-MAX_NUM_FORMS": "30",
        **play_row(0, name="Outbound", kind="bdr_cadence", touches="30"),
        **play_row(1),
    }  # fmt: skip
    bad = client.post(f"/playbooks/{book.pk}/edit/", form)
    assert bad.status_code == 400 and book.plays.count() == 0
    form.update(play_row(0, name="Outbound", kind="bdr_cadence", touches="12", include_open_deals="on"))
    assert client.post(f"/playbooks/{book.pk}/edit/", form).status_code == 302
    play = book.plays.get()
    assert (play.touches, play.include_open_deals, play.include_customers) == (12, True, False)
    client.post(f"/playbooks/{book.pk}/propose/")
    page = client.get(f"/playbooks/{book.pk}/").content.decode()
    assert 'id="approve-playbook"' not in page  # the proposer
    assert 'id="approve-playbook"' in browser(sales_lead).get(f"/playbooks/{book.pk}/").content.decode()
    browser(sales_lead).post(f"/playbooks/{book.pk}/approve/")
    browser(marketing_lead).post(f"/playbooks/{book.pk}/approve/")
    browser(sales_lead).post(f"/playbooks/{book.pk}/publish/")
    book.refresh_from_db()
    assert book.status == "published"


def test_plays_due_are_finished_from_the_list_and_the_account_page_shows_the_next_best_action():
    bdr = make_member(kind=TeamKind.BDR, role=Role.MEMBER, username="bo")
    published_playbook(
        "decision", {"name": "Call", "kind": PlayKind.MEETING, "team_kind": TeamKind.BDR, "due_days": 2},
        {"name": "Ads", "kind": PlayKind.DISPLAY_ADS, "team_kind": TeamKind.BDR},
    )  # fmt: skip
    account = AccountFactory(owner=bdr, name="Globex", domain="globex.example")
    enter(account, "decision")
    plays_trigger()
    client = browser(bdr)
    account_page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="next-best-action"><strong>Call</strong>' in account_page
    tasks = client.get("/playbooks/tasks/")
    assert "Globex" in tasks.content.decode()
    task = PlayTask.objects.get()
    assert client.post(f"/playbooks/tasks/{task.pk}/finish/", {"status": "done"}).status_code == 302
    task.refresh_from_db()
    assert task.status == "done"
    assert "Nothing open" in client.get(f"/accounts/{account.pk}/").content.decode()
    ads = task.run.play.playbook.plays.get(name="Ads")
    audience = client.get(f"/playbooks/plays/{ads.pk}/audience.csv").content.decode().splitlines()
    assert audience[0] == "domain,account,stage,since" and audience[1].startswith(
        "globex.example,Globex,decision"
    )


def test_admin_shows_plans_playbooks_and_runs_read_only(admin_client):
    book = published_playbook("awareness", {"name": "Ads", "kind": PlayKind.DISPLAY_ADS})
    account = AccountFactory()
    enter(account, "awareness")
    plays_trigger()
    for url in (
        "/admin/playbooks/playbook/",
        f"/admin/playbooks/playbook/{book.pk}/change/",
        "/admin/playbooks/playrun/",
        "/admin/plans/revenueplan/",
    ):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/playbooks/playbook/add/").status_code == 403
