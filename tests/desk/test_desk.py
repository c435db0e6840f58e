"""The sales desk: my accounts and my queue, as pages and API, mine or my team's, with the denied path."""

import datetime

import pytest
from django.utils import timezone

from accounts.choices import LifecycleStage
from desk import selectors, services
from desk.models import QueueSeen
from playbooks.choices import PlayKind
from playbooks.triggers import plays_trigger
from revops.choices import Role, TeamKind
from revops.models import Team
from scoring.choices import BuyingStage
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.playbooks.factories import enter, published_playbook
from tests.scoring.factories import AccountModelScoreFactory, AccountModelScoreHistoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(user_in):
    """Me and a teammate in sales, someone in BDR; accounts of each, scored."""
    me = user_in(TeamKind.SALES, Role.MEMBER, username="me")
    mate = user_in(TeamKind.SALES, Role.MEMBER, username="mate")
    other = user_in(TeamKind.BDR, Role.MEMBER, username="other")
    sales = Team.objects.get(kind=TeamKind.SALES)
    bdr = Team.objects.get(kind=TeamKind.BDR)
    mine = AccountFactory(name="Mine decision", owner=me, owner_team=sales)
    mine_cold = AccountFactory(name="Mine target", owner=me, owner_team=sales)
    teams = AccountFactory(name="Teams account", owner=mate, owner_team=sales)
    theirs = AccountFactory(name="Theirs", owner=other, owner_team=bdr)
    AccountModelScoreFactory(account=mine, stage=BuyingStage.DECISION, in_market=0.6)
    AccountModelScoreFactory(account=mine_cold, stage=BuyingStage.TARGET, in_market=0.1, qualified=False)
    AccountModelScoreFactory(account=teams, stage=BuyingStage.DECISION, in_market=0.4)
    AccountModelScoreFactory(account=theirs, stage=BuyingStage.DECISION, in_market=0.9)
    return locals()


def names(results):
    return sorted(r["name"] for r in results)


# --- my accounts ---------------------------------------------------------------------------------------
def test_my_accounts_api_mine_or_my_teams_with_scores_and_the_accounts_filters(client_for, desk):
    client = client_for(desk["me"])
    mine = client.get("/api/me/accounts/").json()["results"]
    assert names(mine) == ["Mine decision", "Mine target"]
    row = next(r for r in mine if r["name"] == "Mine decision")
    assert (row["stage"], row["in_market"], row["qualified"], row["owner"]) == (
        "decision",
        0.6,
        True,
        desk["me"].pk,
    )
    assert names(client.get("/api/me/accounts/", {"scope": "team"}).json()["results"]) == [
        "Mine decision", "Mine target", "Teams account",
    ]  # fmt: skip
    # The same filters as /api/accounts/ (stage comes from scoring's widened FilterSet).
    staged = client.get("/api/me/accounts/", {"scope": "team", "stage": "decision"}).json()["results"]
    assert names(staged) == ["Mine decision", "Teams account"]
    assert names(client.get("/api/me/accounts/", {"q": "target"}).json()["results"]) == ["Mine target"]


def test_my_accounts_api_refuses_bad_input_and_strangers(client_for, api_client, desk, outsider):
    client = client_for(desk["me"])
    assert client.get("/api/me/accounts/", {"scope": "everyone"}).status_code == 400
    assert client.get("/api/me/accounts/", {"bogus": "1"}).status_code == 400
    assert client.get("/api/me/accounts/", {"stage": "nirvana"}).status_code == 400
    assert client_for(outsider).get("/api/me/accounts/").status_code == 403
    assert api_client.get("/api/me/accounts/").status_code in (401, 403)


def test_my_accounts_page_toggles_scope_and_filters(client, desk, outsider):
    client.force_login(desk["me"])
    page = client.get("/desk/accounts/").content.decode()
    assert "Mine decision" in page and "Mine target" in page
    assert "Teams account" not in page and "Theirs" not in page
    team = client.get("/desk/accounts/?scope=team").content.decode()
    assert "Teams account" in team and "Theirs" not in team and 'data-scope="team"' in team
    assert "Mine target" not in client.get("/desk/accounts/?stage=decision").content.decode()
    client.force_login(outsider)
    assert client.get("/desk/accounts/").status_code == 403


# --- my queue ------------------------------------------------------------------------------------------
@pytest.fixture
def queue(desk):
    me, mate, sales = desk["me"], desk["mate"], desk["sales"]
    mql = LifecycleStage.MQL
    return {
        "owned": ContactFactory(email="owned@x.com", lifecycle_stage=mql, owner=me, account=desk["mine"]),
        "unowned_here": ContactFactory(email="unowned@x.com", lifecycle_stage=mql, account=desk["mine"]),
        "teams": ContactFactory(
            email="team@x.com", lifecycle_stage=mql, owner=mate, owner_team=sales, account=desk["teams"]
        ),
        "not_mql": ContactFactory(email="lead@x.com", lifecycle_stage=LifecycleStage.LEAD, owner=me),
        "theirs": ContactFactory(email="theirs@x.com", lifecycle_stage=mql, account=desk["theirs"]),
    }


def emails(items):
    return sorted(i["email"] for i in items)


def test_queue_lists_mqls_to_accept_mine_and_my_teams(client_for, desk, queue):
    client = client_for(desk["me"])
    body = client.get("/api/me/queue/").json()
    assert body["scope"] == "mine"
    assert emails(body["mqls_to_accept"]["items"]) == ["owned@x.com", "unowned@x.com"]
    assert body["mqls_to_accept"]["count"] == 2
    team = client.get("/api/me/queue/", {"scope": "team"}).json()
    assert emails(team["mqls_to_accept"]["items"]) == ["owned@x.com", "team@x.com", "unowned@x.com"]


def test_plays_due_are_my_open_tasks_or_my_teams_and_my_accounts_show_the_next_best_action(
    client_for, client, desk
):
    published_playbook(
        "decision", {"name": "Call", "kind": PlayKind.MEETING, "team_kind": TeamKind.SALES, "due_days": 1}
    )
    for account in (desk["mine"], desk["teams"]):
        enter(account, "decision")
    plays_trigger()
    plays = client_for(desk["me"]).get("/api/me/queue/").json()["plays_due"]
    assert plays["count"] == 1 and plays["items"][0]["account_name"] == "Mine decision"
    team = client_for(desk["me"]).get("/api/me/queue/", {"scope": "team"}).json()["plays_due"]
    assert sorted(t["account_name"] for t in team["items"]) == ["Mine decision", "Teams account"]
    client.force_login(desk["me"])
    queue = client.get("/desk/queue/").content.decode()
    assert 'id="plays-due-count">1<' in queue and "Call" in queue
    mine = client.get("/desk/accounts/").content.decode()
    assert "Call" in mine  # the next best action column


def test_newly_qualified_means_since_i_last_looked_at_most_14_days(client_for, desk):
    now = timezone.now()
    mine, teams = desk["mine"], desk["teams"]
    # "Mine decision" was not qualified 3 days ago, qualified since; "Teams account" has been for a month.
    AccountModelScoreHistoryFactory(account=mine, qualified=False, scored_at=now - datetime.timedelta(days=3))
    AccountModelScoreHistoryFactory(account=mine, qualified=True, scored_at=now - datetime.timedelta(days=2))
    AccountModelScoreHistoryFactory(
        account=teams, qualified=True, scored_at=now - datetime.timedelta(days=30)
    )
    client = client_for(desk["me"])
    body = client.get("/api/me/queue/", {"scope": "team"}).json()["newly_qualified"]
    assert [a["name"] for a in body["items"]] == ["Mine decision"] and body["since_marked"] is False

    # Scored for the first time (qualified) within the window: new too; never scored in the window: not.
    first = AccountFactory(name="First scored", owner=desk["me"])
    AccountModelScoreFactory(account=first)
    AccountModelScoreHistoryFactory(account=first, qualified=True, scored_at=now - datetime.timedelta(days=1))
    unrecorded = AccountFactory(name="No history", owner=desk["me"])
    AccountModelScoreFactory(account=unrecorded)
    assert [a["name"] for a in client.get("/api/me/queue/").json()["newly_qualified"]["items"]] == [
        "Mine decision", "First scored",
    ]  # fmt: skip

    seen = client.post("/api/me/queue/seen/")
    assert seen.status_code == 200
    assert client.get("/api/me/queue/").json()["newly_qualified"]["items"] == []  # nothing new since
    assert QueueSeen.objects.get(user=desk["me"]).seen_at <= timezone.now()
    # A mark older than 14 days counts for nothing: the window never reaches further back.
    services.queue_mark_seen(user=desk["me"], at=now - datetime.timedelta(days=40))
    since, marked = selectors.queue_since(user=desk["me"], now=now)
    assert not marked and since == now - selectors.NEW_WINDOW


def test_queue_page_shows_the_sections_and_mark_seen(client, desk, queue, outsider):
    client.force_login(desk["me"])
    page = client.get("/desk/queue/").content.decode()
    assert "owned@x.com" in page and "unowned@x.com" in page and "theirs@x.com" not in page
    assert 'id="mql-count">2<' in page and "unowned</span>" in page
    assert "In the last 14 days" in page
    response = client.post("/desk/queue/seen/")
    assert response.status_code == 302 and response["Location"] == "/desk/queue/"
    assert "Since you last marked the queue seen" in client.get("/desk/queue/").content.decode()
    client.force_login(outsider)
    assert client.get("/desk/queue/").status_code == 403
    assert client.post("/desk/queue/seen/").status_code == 403


def test_queue_api_refuses_bad_scope_and_strangers(client_for, api_client, desk, outsider):
    assert client_for(desk["me"]).get("/api/me/queue/", {"scope": "all"}).status_code == 400
    assert client_for(outsider).get("/api/me/queue/").status_code == 403
    assert client_for(outsider).post("/api/me/queue/seen/").status_code == 403
    assert api_client.get("/api/me/queue/").status_code in (401, 403)


def test_the_navigation_links_both_pages(client, desk):
    client.force_login(desk["me"])
    page = client.get("/").content.decode()
    assert 'href="/desk/queue/"' in page and 'href="/desk/accounts/"' in page
