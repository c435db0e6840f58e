"""/api/playbooks/, /api/play-runs/ and /api/play-tasks/ as integrations and teams use them."""

import pytest
from rest_framework.test import APIClient

from playbooks.models import PlayRun
from revops.choices import Role, TeamKind
from tests.accounts.factories import AccountFactory
from tests.revops.factories import make_member

from .factories import enter

pytestmark = pytest.mark.django_db
CADENCE = {"name": "Outbound", "kind": "bdr_cadence", "team_kind": "bdr", "touches": 3, "due_days": 10}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def people():
    return {
        "editor": make_member(kind=TeamKind.MARKETING, role=Role.MEMBER, username="mia"),
        "mlead": make_member(kind=TeamKind.MARKETING, role=Role.LEAD, username="mark"),
        "slead": make_member(kind=TeamKind.SALES, role=Role.LEAD, username="sam"),
        "bdr": make_member(kind=TeamKind.BDR, role=Role.MEMBER, username="bo"),
        "viewer": make_member(kind=TeamKind.SALES, role=Role.VIEWER, username="vic"),
        "revops": make_member(kind=TeamKind.REVENUE_OPERATIONS, role=Role.LEAD, username="rex"),
    }


def test_a_playbook_is_drafted_signed_off_published_and_then_acts(people):
    editor = client_for(people["editor"])
    bad = editor.post(
        "/api/playbooks/", {"stage": "decision", "plays": [{**CADENCE, "touches": 22}]}, format="json"
    )
    assert bad.status_code == 400 and "touches" in bad.json()["plays"][0]
    assert editor.post("/api/playbooks/", {"stage": "nowhere"}, format="json").status_code == 400
    created = editor.post("/api/playbooks/", {"stage": "decision", "plays": [CADENCE]}, format="json")
    assert created.status_code == 201, created.json()
    book = created.json()
    assert book["scope_label"] == "Decision" and book["plays"][0]["touches"] == 3
    url = f"/api/playbooks/{book['id']}/"
    changed = editor.patch(
        url, {"plays": [CADENCE, {"name": "Meeting", "kind": "meeting", "team_kind": "bdr"}]},
        format="json", HTTP_IF_MATCH=created.headers["ETag"],
    )  # fmt: skip
    assert changed.status_code == 200 and len(changed.json()["plays"]) == 2
    assert editor.patch(url, {"name": "x"}, format="json").status_code == 428
    assert editor.post(f"{url}propose/").status_code == 200
    assert editor.post(f"{url}approve/").status_code == 403  # members do not approve
    assert client_for(people["mlead"]).post(f"{url}approve/").status_code == 200
    assert client_for(people["slead"]).post(f"{url}approve/").json()["status"] == "approved"
    assert client_for(people["viewer"]).post(f"{url}publish/").status_code == 403
    assert client_for(people["slead"]).post(f"{url}publish/").json()["status"] == "published"

    account = AccountFactory(owner=people["bdr"])
    enter(account, "decision", from_stage="consideration")
    assert client_for(people["viewer"]).post("/api/playbooks/trigger/").status_code == 403
    counts = client_for(people["revops"]).post("/api/playbooks/trigger/").json()
    assert counts["started"] == 2 and counts["tasks"] == 4

    bdr = client_for(people["bdr"])
    mine = bdr.get("/api/play-tasks/").json()["results"]
    assert [t["title"] for t in mine[:2]] == ["Outbound: touch 1 of 3", "Outbound: touch 2 of 3"]
    best = bdr.get("/api/play-tasks/next-best/", {"account": account.pk}).json()
    assert best[0]["id"] == mine[0]["id"]
    assert bdr.get("/api/play-tasks/next-best/", {"account": "x"}).status_code == 400
    # Someone else's task is refused; the assignee finishes it, once.
    assert client_for(people["editor"]).post(f"/api/play-tasks/{mine[0]['id']}/done/").status_code == 403
    assert bdr.post(f"/api/play-tasks/{mine[0]['id']}/done/").json()["status"] == "done"
    assert bdr.post(f"/api/play-tasks/{mine[0]['id']}/done/").status_code == 409
    runs = client_for(people["viewer"]).get("/api/play-runs/", {"account": account.pk}).json()["results"]
    assert {r["play_name"] for r in runs} == {"Outbound", "Meeting"}
    outbound = next(r for r in runs if r["play_name"] == "Outbound")
    assert [a["action"] for a in outbound["actions"]] == ["started", "task_done"]
    # The meeting's one task done: that run is done.
    meeting_task = next(r for r in runs if r["play_name"] == "Meeting")["tasks"][0]["id"]
    bdr.post(f"/api/play-tasks/{meeting_task}/done/")
    assert PlayRun.objects.get(play__name="Meeting").status == "done"


def test_a_playbook_version_says_what_changed(people):
    editor = client_for(people["editor"])
    first = editor.post("/api/playbooks/", {"stage": "purchase", "plays": [CADENCE]}, format="json").json()
    second = editor.post(
        "/api/playbooks/", {"stage": "purchase", "based_on": first["id"]}, format="json"
    ).json()
    mail = {"name": "Mail", "kind": "direct_mail", "team_kind": "marketing"}
    editor.patch(
        f"/api/playbooks/{second['id']}/", {"plays": [{**CADENCE, "touches": 10}, mail]},
        format="json", HTTP_IF_MATCH=f'"playbook-{second["id"]}-r1"',
    )  # fmt: skip
    diff = editor.get(f"/api/playbooks/{second['id']}/diff/").json()
    assert [p["name"] for p in diff["plays"]["added"]] == ["Mail"]
    assert diff["plays"]["changed"] == [
        {"name": "Outbound", "changes": [{"field": "touches", "old": 3, "new": 10}]}
    ]
    page = client_for(people["editor"])
    assert page.get(f"/api/playbooks/{first['id']}/diff/").status_code == 400
