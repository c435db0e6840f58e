"""Django admin for the learned scores: policy drafts edited through the services and moved through the
sign-off workflow by actions, model versions promoted and rolled back by actions, scores read-only — and
no page ever shows an artefact."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import constants
from django.utils import timezone

from revops.choices import TeamKind
from revops.models import ChangeRecord
from scoring import policy as policies
from scoring.choices import PolicyStatus, ScoringModelStatus
from scoring.models import PolicyHistory, QualificationPolicy, ScoringModel
from tests.revops.factories import UserFactory
from tests.scoring.factories import (
    ARTEFACT,
    AccountModelScoreFactory,
    AccountModelScoreHistoryFactory,
    BuyingStageTransitionFactory,
    ContactModelScoreFactory,
    ScoringModelFactory,
    change_form_data,
    make_lead,
    starter_policy,
    stub_callable,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, revops_admin):
    client.force_login(revops_admin)
    return client


@pytest.fixture
def rescores(monkeypatch):
    return stub_callable(monkeypatch, "scoring.pipeline", "full_rescore_schedule")


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def action(client, model: str, name: str, *objects):
    return client.post(
        f"/admin/scoring/{model}/",
        {"action": name, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )


def form_data(client, policy: QualificationPolicy, **changes) -> dict:
    """What the change page posts back (with its inlines' management forms), with ``changes``."""
    page = client.get(f"/admin/scoring/qualificationpolicy/{policy.pk}/change/")
    return {**change_form_data(page), **changes}


# --- pages --------------------------------------------------------------------------------------------
def test_every_page_opens_and_no_artefact_is_shown(admin_client):
    model = ScoringModelFactory(status=ScoringModelStatus.CHAMPION)
    score = AccountModelScoreFactory(model=model)
    history = AccountModelScoreHistoryFactory(model=model)
    transition = BuyingStageTransitionFactory(model=model)
    contact_score = ContactModelScoreFactory(model=model)
    for url in [
        "/admin/scoring/qualificationpolicy/",
        f"/admin/scoring/qualificationpolicy/{starter_policy().pk}/change/",
        "/admin/scoring/qualificationpolicy/add/",
        "/admin/scoring/scoringmodel/",
        f"/admin/scoring/scoringmodel/{model.pk}/change/",
        "/admin/scoring/accountmodelscore/",
        f"/admin/scoring/accountmodelscore/{score.pk}/change/",
        "/admin/scoring/accountmodelscorehistory/",
        f"/admin/scoring/accountmodelscorehistory/{history.pk}/change/",
        "/admin/scoring/buyingstagetransition/",
        f"/admin/scoring/buyingstagetransition/{transition.pk}/change/",
        "/admin/scoring/contactmodelscore/",
        f"/admin/scoring/contactmodelscore/{contact_score.pk}/change/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert ARTEFACT.decode() not in response.content.decode(), url


def test_model_page_shows_the_backtest_compactly(admin_client):
    model = ScoringModelFactory()
    listing = admin_client.get("/admin/scoring/scoringmodel/").content.decode()
    assert "0.810" in listing and "0.310" in listing  # ROC AUC, PR AUC
    html = admin_client.get(f"/admin/scoring/scoringmodel/{model.pk}/change/").content.decode()
    assert "<th>ROC AUC</th>" in html and "<td>xgboost</td>" in html and "<td>0.660</td>" in html
    assert "opportunities_open (AUC 0.970)" in html
    assert model.artefact_sha256 in html and 'name="_save"' not in html


def test_scores_are_read_only_and_searchable_by_account_name(admin_client):
    score = AccountModelScoreFactory(account__name="Globex Corporation")
    AccountModelScoreFactory(account__name="Initech")
    assert admin_client.get("/admin/scoring/accountmodelscore/add/").status_code == 403
    page = admin_client.get(f"/admin/scoring/accountmodelscore/{score.pk}/change/")
    assert 'name="_save"' not in page.content.decode()
    assert (
        admin_client.post(
            f"/admin/scoring/accountmodelscore/{score.pk}/change/", {"in_market": 1}
        ).status_code
        == 403
    )
    assert (
        admin_client.post(f"/admin/scoring/accountmodelscore/{score.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    found = admin_client.get("/admin/scoring/accountmodelscore/?q=globex")
    assert [row.pk for row in found.context["cl"].result_list] == [score.pk]
    transition = BuyingStageTransitionFactory(account=score.account)
    found = admin_client.get("/admin/scoring/buyingstagetransition/?q=globex&to_stage=decision")
    assert [row.pk for row in found.context["cl"].result_list] == [transition.pk]
    contact = ContactModelScoreFactory(contact__account=score.account)
    found = admin_client.get("/admin/scoring/contactmodelscore/?q=globex")
    assert [row.pk for row in found.context["cl"].result_list] == [contact.pk]
    assert admin_client.get("/admin/scoring/scoringmodel/add/").status_code == 403


def test_score_list_query_count_does_not_grow(admin_client, django_assert_max_num_queries):
    model = ScoringModelFactory()
    for _ in range(15):
        AccountModelScoreFactory(model=model)
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/scoring/accountmodelscore/").status_code == 200


# --- policy versions ----------------------------------------------------------------------------------
def test_add_creates_a_draft_copy_through_the_service(admin_client, revops_admin):
    response = admin_client.post("/admin/scoring/qualificationpolicy/add/", {"based_on": "", "name": ""})
    assert response.status_code == 302
    draft = QualificationPolicy.objects.get(number=2)
    assert (draft.status, draft.name, draft.created_by) == (
        PolicyStatus.DRAFT,
        "Starter policy",
        revops_admin,
    )
    assert ChangeRecord.objects.filter(object_id=str(draft.pk), action="create").count() == 1


def test_a_draft_is_edited_through_the_service(admin_client, revops_admin):
    draft = policies.policy_draft_create(user=revops_admin)
    url = f"/admin/scoring/qualificationpolicy/{draft.pk}/change/"
    response = admin_client.post(url, form_data(admin_client, draft, icp_weight=0.7, purchase_min=0.55))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert (draft.icp_weight, draft.purchase_min) == (0.7, 0.55)
    assert ChangeRecord.objects.filter(object_id=str(draft.pk), action="update").count() == 1


def test_bad_values_are_shown_on_their_field_and_change_nothing(admin_client, revops_admin):
    draft = policies.policy_draft_create(user=revops_admin)
    url = f"/admin/scoring/qualificationpolicy/{draft.pk}/change/"
    response = admin_client.post(url, form_data(admin_client, draft, consideration_min=0.01, icp_weight=3))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "at least awareness_min" in " ".join(errors["consideration_min"])
    assert "icp_weight" in errors
    draft.refresh_from_db()
    assert (draft.consideration_min, draft.icp_weight) == (0.15, 0.5)
    assert not ChangeRecord.objects.filter(object_id=str(draft.pk), action="update").exists()


def test_published_and_superseded_versions_are_read_only(admin_client):
    v1 = starter_policy()
    html = admin_client.get(f"/admin/scoring/qualificationpolicy/{v1.pk}/change/").content.decode()
    assert 'name="_save"' not in html and 'name="icp_weight"' not in html
    response = admin_client.post(
        f"/admin/scoring/qualificationpolicy/{v1.pk}/change/", form_data(admin_client, v1, icp_weight=0.9)
    )
    assert response.status_code == 403
    assert (
        admin_client.post(f"/admin/scoring/qualificationpolicy/{v1.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert QualificationPolicy.objects.get(pk=v1.pk).icp_weight == 0.5


def test_a_draft_is_deleted_through_the_service(admin_client, revops_admin):
    draft = policies.policy_draft_create(user=revops_admin)
    response = admin_client.post(f"/admin/scoring/qualificationpolicy/{draft.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not QualificationPolicy.objects.filter(pk=draft.pk).exists()
    assert ChangeRecord.objects.filter(object_id=str(draft.pk), action="delete").count() == 1


def test_workflow_actions_sign_off_publish_and_roll_back(
    client, revops_admin, user_in, rescores, django_capture_on_commit_callbacks
):
    """Staff leads of marketing and sales sign a proposal off by actions; a revops lead publishes."""
    marketing_lead = make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.MARKETING)
    sales_lead = make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.SALES)
    draft = policies.policy_draft_create(user=revops_admin)
    client.force_login(revops_admin)
    response = action(client, "qualificationpolicy", "publish_now", draft)
    assert any(
        level == constants.ERROR and "only a version approved by both" in text
        for level, text in messages_of(response)
    )
    response = action(client, "qualificationpolicy", "propose_selected", draft)
    assert (constants.SUCCESS, "Policy v2 proposed (now proposed).") in messages_of(response)
    client.force_login(marketing_lead)
    action(client, "qualificationpolicy", "approve_selected", draft)
    client.force_login(sales_lead)
    response = action(client, "qualificationpolicy", "approve_selected", draft)
    assert (constants.SUCCESS, "Policy v2 approved (now approved).") in messages_of(response)
    client.force_login(revops_admin)
    response = action(client, "qualificationpolicy", "publish_now", draft, starter_policy())
    assert (constants.ERROR, "Select exactly one version.") in messages_of(response)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, "qualificationpolicy", "publish_now", draft)
    assert (constants.SUCCESS, "Policy v2 published (now published).") in messages_of(response)
    assert QualificationPolicy.objects.get(number=1).status == PolicyStatus.SUPERSEDED
    assert [c["reason"] for c in rescores] == ["policy v2 published"]
    response = action(client, "qualificationpolicy", "rollback_to", draft)
    assert any(
        level == constants.ERROR and "already the published" in text for level, text in messages_of(response)
    )
    v1 = QualificationPolicy.objects.get(number=1)
    response = action(client, "qualificationpolicy", "rollback_to", v1)
    assert (constants.SUCCESS, "Policy v1 restored (now published).") in messages_of(response)
    page = client.get(f"/admin/scoring/qualificationpolicy/{draft.pk}/change/").content.decode()
    assert "approval" in page and "superseded" in page  # approvals and history inlines
    assert PolicyHistory.objects.filter(policy=draft).count() == 7


def test_policy_actions_are_offered_by_permission(client, revops_admin, user_in):
    def offered(user) -> set[str]:
        client.force_login(user)
        form = client.get("/admin/scoring/qualificationpolicy/").context["action_form"]
        return {value for value, _ in form.fields["action"].choices}

    assert {"propose_selected", "publish_now", "rollback_to"} <= offered(revops_admin)
    assert "approve_selected" not in offered(revops_admin)  # a revops lead signs for no team
    assert "approve_selected" in offered(make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.SALES))


def test_a_policy_page_offers_approval_to_other_leads_only(client, revops_admin, user_in):
    """The version's admin page says which steps its reader may take (``actions_for``): the proposer
    is told another lead approves it, a lead who has not signed may approve, a revops lead signs for no
    team."""
    proposer = make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.MARKETING)
    other = make_lead(user_in, TeamKind.REVENUE_OPERATIONS, TeamKind.MARKETING)
    draft = policies.policy_draft_create(user=proposer)
    policies.policy_propose(policy=draft, user=proposer)
    url = f"/admin/scoring/qualificationpolicy/{draft.pk}/change/"

    def steps(user) -> str:
        client.force_login(user)
        html = client.get(url).content.decode()
        return html[html.index('id="workflow-steps"') :][:600]

    mine = steps(proposer)
    assert "approve it" not in mine and "You proposed it" in mine and "withdraw it to draft" in mine
    assert "approve it for your team, reject it" in steps(other)
    assert "approve it" not in steps(revops_admin)
    client.force_login(proposer)
    response = action(client, "qualificationpolicy", "approve_selected", draft)
    assert any(level == constants.ERROR and "Four eyes" in text for level, text in messages_of(response))


# --- model versions -----------------------------------------------------------------------------------
def test_promote_and_rollback_actions(admin_client, revops_admin):
    old = ScoringModelFactory(
        status=ScoringModelStatus.CHAMPION, promoted_at=timezone.now() - datetime.timedelta(days=9)
    )
    new = ScoringModelFactory()
    response = action(admin_client, "scoringmodel", "promote_selected", old, new)
    assert (constants.ERROR, "Select exactly one version.") in messages_of(response)
    response = action(admin_client, "scoringmodel", "promote_selected", new)
    assert (constants.SUCCESS, f"in_market v{new.version} is the champion.") in messages_of(response)
    assert ScoringModel.objects.get(pk=old.pk).status == ScoringModelStatus.RETIRED
    assert ChangeRecord.objects.filter(object_id=str(new.pk), actor=revops_admin, action="update").exists()
    response = action(admin_client, "scoringmodel", "rollback_kind", new)
    assert (constants.SUCCESS, f"in_market: v{old.version} is the champion again.") in messages_of(response)
    assert ScoringModel.objects.get(pk=old.pk).status == ScoringModelStatus.CHAMPION
    fit = ScoringModelFactory(kind="account_fit")
    response = action(admin_client, "scoringmodel", "rollback_kind", fit)
    assert any(level == constants.ERROR and "no champion" in text for level, text in messages_of(response))


def test_actions_are_offered_by_permission(client, admin_client):
    choices = admin_client.get("/admin/scoring/scoringmodel/").context["action_form"].fields["action"].choices
    assert {"promote_selected", "rollback_kind"} <= {value for value, _ in choices}
    looker = UserFactory(is_staff=True)
    looker.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scoring", codename__in=["view_scoringmodel", "view_qualificationpolicy"]
        )
    )
    client.force_login(looker)

    def offered(url) -> set[str]:
        form = client.get(url).context["action_form"]  # None when no action is left
        return set() if form is None else {value for value, _ in form.fields["action"].choices}

    assert not {"promote_selected", "rollback_kind"} & offered("/admin/scoring/scoringmodel/")
    assert not {"propose_selected", "approve_selected", "publish_now", "rollback_to"} & offered(
        "/admin/scoring/qualificationpolicy/"
    )
    assert action(client, "scoringmodel", "promote_selected", ScoringModelFactory()).status_code == 200
    assert not ScoringModel.objects.filter(status=ScoringModelStatus.CHAMPION).exists()
