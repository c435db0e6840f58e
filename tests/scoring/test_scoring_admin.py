"""Django admin for scoring: drafts edited through the workflow services, everything else read-only."""

import pytest
from django.contrib.messages import constants

from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring import workflow
from scoring.choices import RulesetStatus
from scoring.models import Rule, Ruleset, RulesetHistory
from tests.scoring.factories import (
    FAST_PASSWORD_HASHERS,
    ContactScoreFactory,
    ContactScoreHistoryFactory,
    LifecycleTransitionFactory,
    change_form_data,
    make_lead,
    stub_rescore,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def admin_marketing_lead(user_in):
    """Staff (revenue operations) and a marketing lead: edits, approves for marketing."""
    return make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.MARKETING)


@pytest.fixture
def admin_sales_lead(user_in):
    return make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.SALES)


def v1() -> Ruleset:
    return Ruleset.objects.get(number=1)


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


# --- access -----------------------------------------------------------------------------------------
def test_pages_open_for_revops(client, revops_admin):
    client.force_login(revops_admin)
    LifecycleTransitionFactory()
    ContactScoreFactory()
    ContactScoreHistoryFactory()
    for url in [
        "/admin/scoring/ruleset/",
        f"/admin/scoring/ruleset/{v1().pk}/change/",
        "/admin/scoring/rule/",
        "/admin/scoring/rulesetcomment/",
        "/admin/scoring/lifecycletransition/",
        "/admin/scoring/contactscore/",
        "/admin/scoring/contactscorehistory/",
        "/admin/scoring/accountrulescore/",
    ]:
        assert client.get(url).status_code == 200, url


def test_sales_lead_without_staff_cannot_reach_the_admin(client, user_in):
    client.force_login(user_in(TeamKind.SALES, Role.LEAD))
    assert client.get("/admin/scoring/ruleset/").status_code == 302


def test_derived_data_is_read_only(client, revops_admin):
    client.force_login(revops_admin)
    transition = LifecycleTransitionFactory()
    score = ContactScoreFactory()
    assert client.get("/admin/scoring/lifecycletransition/add/").status_code == 403
    assert client.get("/admin/scoring/contactscore/add/").status_code == 403
    page = client.get(f"/admin/scoring/lifecycletransition/{transition.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = client.post(f"/admin/scoring/contactscore/{score.pk}/change/", {"fit": 99})
    assert response.status_code == 403
    response = client.post(f"/admin/scoring/contactscore/{score.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403


def test_published_version_is_read_only(client, revops_admin):
    client.force_login(revops_admin)
    page = client.get(f"/admin/scoring/ruleset/{v1().pk}/change/")
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="mql_fit_min"' not in html
    assert client.post(f"/admin/scoring/ruleset/{v1().pk}/change/", {"mql_fit_min": 1}).status_code == 403
    rule = v1().rules.first()
    assert client.post(f"/admin/scoring/rule/{rule.pk}/change/", {"points": 1}).status_code == 403
    assert v1().mql_fit_min == 20


# --- drafts -----------------------------------------------------------------------------------------
def test_add_creates_a_draft_copy_of_the_published_version(client, revops_admin):
    client.force_login(revops_admin)
    response = client.post("/admin/scoring/ruleset/add/", {"based_on": "", "name": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    draft = Ruleset.objects.get(number=2)
    assert (draft.status, draft.based_on, draft.name, draft.created_by) == (
        "draft",
        v1(),
        v1().name,
        revops_admin,
    )
    assert draft.rules.count() == v1().rules.count()
    assert RulesetHistory.objects.filter(ruleset=draft, action="created").exists()


def test_editing_a_draft_goes_through_the_service(client, revops_admin):
    draft = workflow.ruleset_draft_create(user=revops_admin)
    client.force_login(revops_admin)
    url = f"/admin/scoring/ruleset/{draft.pk}/change/"
    data = change_form_data(client.get(url))
    data["mql_fit_min"] = "25"
    first = draft.rules.order_by("position").first()
    data["rules-0-points"] = "33"
    data["rules-1-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.revision) == (25, 2)
    assert Rule.objects.get(pk=first.pk).points == 33
    assert draft.rules.count() == v1().rules.count() - 1
    edited = RulesetHistory.objects.get(ruleset=draft, action="edited")
    assert edited.actor == revops_admin and edited.detail["revision"] == 2
    assert ChangeRecord.objects.filter(
        object_type__model="ruleset", object_id=str(draft.pk), action="update"
    ).exists()


def test_invalid_values_are_shown_on_the_form_and_nothing_changes(client, revops_admin):
    draft = workflow.ruleset_draft_create(user=revops_admin)
    client.force_login(revops_admin)
    url = f"/admin/scoring/ruleset/{draft.pk}/change/"
    data = change_form_data(client.get(url))
    data["excluded_title_pattern"] = "(unclosed"
    data["rules-0-operator"] = "range"  # with a list value: wrong shape
    response = client.post(url, data)
    assert response.status_code == 200
    assert "excluded_title_pattern" in response.context["adminform"].form.errors
    rule_formset = next(
        f.formset for f in response.context["inline_admin_formsets"] if f.formset.model is Rule
    )
    assert "value" in rule_formset.forms[0].errors
    assert Ruleset.objects.get(pk=draft.pk).revision == 1


def test_a_stale_admin_form_is_refused(client, revops_admin, user_in):
    draft = workflow.ruleset_draft_create(user=revops_admin)
    client.force_login(revops_admin)
    url = f"/admin/scoring/ruleset/{draft.pk}/change/"
    data = change_form_data(client.get(url))
    workflow.ruleset_update(
        ruleset=draft,
        user=user_in(TeamKind.SALES, Role.MEMBER),
        expected_revision=1,
        data={"mql_fit_min": 30},
    )
    data["mql_fit_min"] = "25"
    response = client.post(url, data, follow=True)
    assert any(level == constants.ERROR and "someone else" in text for level, text in messages_of(response))
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.revision) == (30, 2)


def test_rule_admin_edits_a_draft_rule_through_the_service(client, revops_admin):
    draft = workflow.ruleset_draft_create(user=revops_admin)
    rule = draft.rules.get(name="Pricing page")
    client.force_login(revops_admin)
    url = f"/admin/scoring/rule/{rule.pk}/change/"
    data = change_form_data(client.get(url))
    data["points"] = "12"
    response = client.post(url, data)
    assert response.status_code == 302
    assert Rule.objects.get(pk=rule.pk).points == 12 and Ruleset.objects.get(pk=draft.pk).revision == 2
    data["url_pattern"] = "[broken"
    response = client.post(url, data)
    assert response.status_code == 200 and "url_pattern" in response.context["adminform"].form.errors


# --- workflow actions -------------------------------------------------------------------------------
def action(client, name, *rulesets):
    return client.post(
        "/admin/scoring/ruleset/",
        {"action": name, "_selected_action": [r.pk for r in rulesets]},
        follow=True,
    )


def test_actions_run_the_workflow(client, user_in, admin_marketing_lead, admin_sales_lead, revops_admin):
    draft = workflow.ruleset_draft_create(user=revops_admin)
    client.force_login(admin_marketing_lead)
    response = action(client, "propose_selected", draft)
    assert (constants.SUCCESS, "v2 proposed (now proposed).") in messages_of(response)
    # Four eyes: the proposer's approval is refused, shown as an error.
    response = action(client, "approve_selected", draft)
    assert any(level == constants.ERROR and "Four eyes" in text for level, text in messages_of(response))
    assert not Ruleset.objects.get(pk=draft.pk).approvals.exists()
    client.force_login(admin_sales_lead)
    action(client, "approve_selected", draft)
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.PROPOSED  # marketing still missing
    client.force_login(
        other_marketing_lead := make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.MARKETING)
    )
    response = action(client, "approve_selected", draft)
    assert (constants.SUCCESS, "v2 approved (now approved).") in messages_of(response)
    assert draft.approvals.filter(user=other_marketing_lead, team_kind="marketing").exists()
    assert RulesetHistory.objects.filter(ruleset=draft, action="approved").exists()
    response = action(client, "propose_selected", draft)
    assert any(level == constants.ERROR and "only a draft" in text for level, text in messages_of(response))


def test_publish_and_rollback_actions(
    client, monkeypatch, user_in, admin_marketing_lead, admin_sales_lead, django_capture_on_commit_callbacks
):
    rescores = stub_rescore(monkeypatch)
    draft = workflow.ruleset_draft_create(user=admin_marketing_lead)
    workflow.ruleset_propose(ruleset=draft, user=admin_marketing_lead)
    workflow.ruleset_approve(ruleset=draft, user=admin_sales_lead)
    workflow.ruleset_approve(ruleset=draft, user=make_lead(user_in, TeamKind.MARKETING))
    client.force_login(admin_sales_lead)
    response = action(client, "publish_now", draft, v1())
    assert (constants.ERROR, "Select exactly one version.") in messages_of(response)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, "publish_now", draft)
    assert (constants.SUCCESS, "v2 published (now published).") in messages_of(response)
    assert v1().status == RulesetStatus.SUPERSEDED
    assert [c["reason"] for c in rescores] == ["v2 published"]
    response = action(client, "rollback_to", draft)
    assert any(
        level == constants.ERROR and "already the published" in text for level, text in messages_of(response)
    )
    response = action(client, "rollback_to", v1())
    assert (constants.SUCCESS, "v1 restored (now published).") in messages_of(response)
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.SUPERSEDED


def test_actions_are_offered_by_permission(client, revops_admin, admin_sales_lead):
    client.force_login(revops_admin)  # a revops lead: edits and publishes, but approves for no team
    choices = [
        value
        for value, _ in client.get("/admin/scoring/ruleset/").context["action_form"].fields["action"].choices
    ]
    assert {"propose_selected", "publish_now", "rollback_to"} <= set(choices)
    assert "approve_selected" not in choices
    client.force_login(admin_sales_lead)
    choices = [
        value
        for value, _ in client.get("/admin/scoring/ruleset/").context["action_form"].fields["action"].choices
    ]
    assert "approve_selected" in choices


def test_comment_added_in_admin_goes_through_the_service(client, revops_admin):
    client.force_login(revops_admin)
    response = client.post(
        "/admin/scoring/rulesetcomment/add/", {"ruleset": v1().pk, "body": "Check careers"}
    )
    assert response.status_code == 302
    comment = v1().comments.get()
    assert comment.author == revops_admin and comment.body == "Check careers"
    assert RulesetHistory.objects.filter(ruleset=v1(), action="commented").exists()
