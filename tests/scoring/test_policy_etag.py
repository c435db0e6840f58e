"""Issue 12: qualification policy drafts are edited with the one versioned-document workflow of rules
versions (``revops.documents``) — ETag per revision, If-Match required (428), a stale edit refused (412) —
in the API and admin."""

import pytest
from django.test import Client

from revops.choices import Role, TeamKind
from revops.documents import if_match_revision
from scoring import policy as policies
from scoring.models import QualificationPolicy
from tests.scoring.factories import change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(user_in):
    return user_in(TeamKind.MARKETING, Role.MEMBER)


@pytest.fixture
def draft(marketer):
    return policies.policy_draft_create(user=marketer)


def test_get_gives_the_etag_and_an_edit_without_if_match_is_428(client_for, marketer, draft):
    client = client_for(marketer)
    read = client.get(f"/api/policies/{draft.pk}/")
    assert read.headers["ETag"] == f'"policy-{draft.pk}-r1"' and read.json()["revision"] == 1
    response = client.patch(f"/api/policies/{draft.pk}/", {"icp_weight": 0.7}, format="json")
    assert response.status_code == 428 and "If-Match" in response.json()["detail"]
    star = client.patch(f"/api/policies/{draft.pk}/", {"icp_weight": 0.7}, format="json", HTTP_IF_MATCH="*")
    assert star.status_code == 428  # "*" would skip the lost-update check
    draft.refresh_from_db()
    assert (draft.icp_weight, draft.revision) == (0.5, 1)


def test_two_patches_with_the_same_etag_one_wins_one_is_412(client_for, marketer, user_in, draft):
    other = user_in(TeamKind.SALES, Role.MEMBER)
    etag = client_for(marketer).get(f"/api/policies/{draft.pk}/").headers["ETag"]
    first = client_for(marketer).patch(
        f"/api/policies/{draft.pk}/", {"icp_weight": 0.7}, format="json", HTTP_IF_MATCH=etag
    )
    second = client_for(other).patch(
        f"/api/policies/{draft.pk}/", {"fit_high_min": 80}, format="json", HTTP_IF_MATCH=etag
    )
    assert (first.status_code, second.status_code) == (200, 412)
    assert first.headers["ETag"] == f'"policy-{draft.pk}-r2"'
    body = second.json()
    assert (body["your_revision"], body["current_revision"]) == (1, 2)
    assert body["current"]["icp_weight"] == 0.7 and second.headers["ETag"] == first.headers["ETag"]
    assert "changed by someone else" in body["detail"]
    draft.refresh_from_db()
    assert (draft.icp_weight, draft.fit_high_min, draft.revision) == (0.7, 65, 2)


def test_a_ruleset_etag_is_not_a_policys(draft):
    assert if_match_revision(f'"ruleset-{draft.pk}-r1"', draft) == 0  # 0: names no revision of it
    assert if_match_revision(f'W/"policy-{draft.pk}-r1", "policy-999-r5"', draft) == 1


def test_an_edit_that_changes_nothing_keeps_the_revision(client_for, marketer, draft):
    response = client_for(marketer).patch(
        f"/api/policies/{draft.pk}/", {"icp_weight": 0.5}, format="json", HTTP_IF_MATCH=draft.etag
    )
    assert response.status_code == 200 and response.headers["ETag"] == draft.etag


def test_a_stale_admin_form_is_refused_with_a_clear_message(revops_admin, draft):
    client = Client()
    client.force_login(revops_admin)
    url = f"/admin/scoring/qualificationpolicy/{draft.pk}/change/"
    page = client.get(url)
    assert 'name="revision"' in page.content.decode()
    form = change_form_data(page)  # as read, at revision 1
    policies.policy_update(policy=draft, user=revops_admin, data={"icp_weight": 0.8}, expected_revision=1)
    response = client.post(url, {**form, "icp_weight": 0.6}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("changed by someone else" in m for m in messages), messages
    assert QualificationPolicy.objects.get(pk=draft.pk).icp_weight == 0.8
