"""Versions of the qualification policy: drafts copied and edited, checked field by field, signed off by a
marketing lead and a sales lead, published, rolled back, deleted — each by whom, audited, with history —
and the role map that grants it."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from revops.permissions import GROUP_LEAD, GROUP_MEMBER, GROUP_REVOPS, GROUP_VIEWER, role_permissions
from scoring import policy as policies
from scoring.choices import PolicyStatus
from scoring.exceptions import WorkflowError
from scoring.models import PolicyApproval, PolicyHistory, QualificationPolicy
from tests.scoring.factories import make_lead, starter_policy, stub_callable, workflow_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def rescores(monkeypatch):
    """Record account rescoring instead of running it."""
    return stub_callable(monkeypatch, "scoring.pipeline", "full_rescore_schedule")


@pytest.fixture
def marketer(user_in):
    return user_in(TeamKind.MARKETING, Role.MEMBER)


@pytest.fixture
def draft(marketer):
    return policies.policy_draft_create(user=marketer)


@pytest.fixture
def people(user_in):
    return workflow_people(user_in)


def signed_off(policy: QualificationPolicy, people) -> QualificationPolicy:
    """``policy`` proposed by a marketer and approved by a marketing lead and a sales lead."""
    policies.policy_propose(policy=policy, user=people.marketer)
    policies.policy_approve(policy=policy, user=people.marketing_lead)
    policies.policy_approve(policy=policy, user=people.sales_lead)
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.APPROVED
    return policy


def actions(policy: QualificationPolicy) -> list[str]:
    return list(
        PolicyHistory.objects.filter(policy=policy).order_by("at", "id").values_list("action", flat=True)
    )


def audit_of(policy: QualificationPolicy) -> list[str]:
    return list(
        ChangeRecord.objects.filter(
            object_type=ContentType.objects.get_for_model(QualificationPolicy), object_id=str(policy.pk)
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- drafts -----------------------------------------------------------------------------------------
def test_the_starter_policy_is_published():
    assert policies.policy_published() == starter_policy()
    assert starter_policy().number == 1


def test_a_draft_copies_the_published_version(marketer):
    v1 = starter_policy()
    draft = policies.policy_draft_create(user=marketer)
    assert (draft.number, draft.status, draft.created_by, draft.based_on) == (
        2,
        PolicyStatus.DRAFT,
        marketer,
        v1,
    )
    assert policies.policy_settings(draft) == policies.policy_settings(v1)
    assert audit_of(draft) == ["create"]
    record = ChangeRecord.objects.get(
        object_id=str(draft.pk), action="create", object_type__model="qualificationpolicy"
    )
    assert record.actor == marketer and record.after["based_on_id"] == v1.pk
    assert PolicyHistory.objects.get(policy=draft).detail == {"based_on": 1}


def test_a_draft_copies_the_version_it_is_based_on_with_a_new_name(marketer, draft):
    policies.policy_update(expected_revision=1, policy=draft, user=marketer, data={"icp_weight": 0.8})
    copy = policies.policy_draft_create(user=marketer, based_on=draft, name="  Heavier ICP  ")
    assert (copy.number, copy.name, copy.icp_weight) == (3, "Heavier ICP", 0.8)


def test_viewers_cannot_create_drafts(user_in):
    with pytest.raises(PermissionDenied):
        policies.policy_draft_create(user=user_in(TeamKind.SALES, Role.VIEWER))
    assert QualificationPolicy.objects.count() == 1


def test_editing_a_draft_changes_it_and_is_audited(marketer, draft):
    saved = policies.policy_update(
        expected_revision=1,
        policy=draft,
        user=marketer,
        data={"name": "Tighter", "fit_high_min": 70, "purchase_min": "0.6", "min_days_in_stage": 10.0},
    )
    assert saved is draft
    draft.refresh_from_db()
    assert (draft.name, draft.fit_high_min, draft.purchase_min, draft.min_days_in_stage) == (
        "Tighter",
        70,
        0.6,
        10,
    )
    assert audit_of(draft) == ["create", "update"]
    record = ChangeRecord.objects.filter(object_id=str(draft.pk), action="update").get()
    assert record.before["fit_high_min"] == 65 and record.after["fit_high_min"] == 70
    edited = PolicyHistory.objects.get(policy=draft, action="edited")
    assert edited.actor == marketer and edited.detail["revision"] == 2
    assert {"field": "fit_high_min", "old": 65, "new": 70} in edited.detail["settings"]


def test_an_edit_that_changes_nothing_writes_nothing(marketer, draft):
    policies.policy_update(
        expected_revision=1, policy=draft, user=marketer, data={"icp_weight": draft.icp_weight}
    )
    assert audit_of(draft) == ["create"]
    assert actions(draft) == ["created"]
    assert QualificationPolicy.objects.get(pk=draft.pk).revision == 1


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"icp_weight": 1.5}, "icp_weight", "between 0 and 1"),
        ({"icp_weight": -0.1}, "icp_weight", "between 0 and 1"),
        ({"icp_weight": "much"}, "icp_weight", "number is required"),
        ({"icp_weight": True}, "icp_weight", "number is required"),
        ({"icp_weight": float("nan")}, "icp_weight", "number is required"),
        ({"icp_fit_full": 0}, "icp_fit_full", "above 0"),
        ({"fit_high_min": 120}, "fit_high_min", "between 0 and 100"),
        ({"in_market_high_min": 1.2}, "in_market_high_min", "between 0 and 1"),
        ({"decision_min": -0.5}, "decision_min", "between 0 and 1"),
        ({"hysteresis": 2}, "hysteresis", "between 0 and 1"),
        ({"min_days_in_stage": -1}, "min_days_in_stage", "between 0 and 365"),
        ({"min_days_in_stage": 2.5}, "min_days_in_stage", "whole number"),
        ({"qualified_fit_band": "low"}, "qualified_fit_band", "high or medium"),
        ({"name": "  "}, "name", "name is required"),
        # bands and stages stay in order; the error names the value being changed
        ({"fit_medium_min": 70}, "fit_medium_min", "at most fit_high_min (65)"),
        ({"fit_high_min": 30}, "fit_high_min", "at least fit_medium_min (40)"),
        ({"in_market_medium_min": 0.5}, "in_market_medium_min", "at most in_market_high_min (0.3)"),
        ({"consideration_min": 0.01}, "consideration_min", "at least awareness_min (0.06)"),
        ({"awareness_min": 0.2}, "awareness_min", "at most consideration_min (0.15)"),
        ({"decision_min": 0.6}, "decision_min", "at most purchase_min (0.5)"),
        ({"purchase_min": 0.2}, "purchase_min", "at least decision_min (0.3)"),
        ({"status": "published"}, "status", "read-only"),
        ({"number": 7}, "number", "read-only"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_values_are_refused_by_field_and_change_nothing(marketer, draft, data, field, words):
    before = policies.policy_settings(draft)
    with pytest.raises(ValidationError) as caught:
        policies.policy_update(
            expected_revision=1,
            policy=draft,
            user=marketer,
            data={**data, "name": data.get("name", "Renamed")},
        )
    errors = caught.value.message_dict
    assert list(errors) == [field]
    assert words in " ".join(errors[field]).lower()
    draft.refresh_from_db()
    assert policies.policy_settings(draft) == before
    assert audit_of(draft) == ["create"]


def test_with_every_value_sent_the_error_names_the_one_that_changed(marketer, draft):
    """Forms and PUT send the whole policy: the ordering error goes to the field the user changed."""
    data = {**policies.policy_settings(draft), "consideration_min": 0.01}
    with pytest.raises(ValidationError) as caught:
        policies.policy_update(expected_revision=1, policy=draft, user=marketer, data=data)
    assert list(caught.value.message_dict) == ["consideration_min"]


def test_thresholds_moved_together_stay_valid(marketer, draft):
    policies.policy_update(
        expected_revision=1,
        policy=draft,
        user=marketer,
        data={"awareness_min": 0.5, "consideration_min": 0.6, "decision_min": 0.7, "purchase_min": 0.8},
    )
    draft.refresh_from_db()
    assert (draft.awareness_min, draft.purchase_min) == (0.5, 0.8)


def test_published_and_superseded_versions_do_not_change(marketer, people, draft, rescores):
    with pytest.raises(policies.PolicyNotEditable, match="v1 is published: only drafts can be edited"):
        policies.policy_update(
            expected_revision=1, policy=starter_policy(), user=marketer, data={"icp_weight": 0.9}
        )
    policies.policy_publish(policy=signed_off(draft, people), user=people.marketing_lead)
    with pytest.raises(policies.PolicyNotEditable, match="v1 is superseded"):
        policies.policy_update(
            expected_revision=1,
            policy=QualificationPolicy.objects.get(number=1),
            user=marketer,
            data={"icp_weight": 0.9},
        )
    assert QualificationPolicy.objects.get(number=1).icp_weight == 0.5


def test_non_dict_data_is_refused(marketer, draft):
    with pytest.raises(ValidationError) as caught:
        policies.policy_update(expected_revision=1, policy=draft, user=marketer, data=["icp_weight", 1])
    assert "non_field_errors" in caught.value.message_dict


# --- sign-off: proposed, approved by a marketing lead and a sales lead ----------------------------------
def test_a_draft_cannot_be_published_without_sign_off(people, draft, rescores):
    with pytest.raises(WorkflowError, match="only a version approved by both a marketing and a sales lead"):
        policies.policy_publish(policy=draft, user=people.marketing_lead)
    assert policies.policy_published() == starter_policy() and rescores == []


def test_propose_freezes_the_draft_and_records_who(people, draft):
    policies.policy_propose(policy=draft, user=people.seller)
    draft.refresh_from_db()
    assert (draft.status, draft.proposed_by) == (PolicyStatus.PROPOSED, people.seller)
    assert draft.proposed_at is not None and not draft.is_editable
    with pytest.raises(policies.PolicyNotEditable, match="v2 is proposed: only drafts can be edited"):
        policies.policy_update(
            policy=draft, user=people.seller, data={"icp_weight": 0.9}, expected_revision=1
        )
    with pytest.raises(WorkflowError, match="only a draft can be proposed"):
        policies.policy_propose(policy=draft, user=people.seller)
    assert actions(draft) == ["created", "proposed"]


def test_both_a_marketing_and_a_sales_lead_must_approve(people, user_in, draft):
    policies.policy_propose(policy=draft, user=people.marketer)
    approval = policies.policy_approve(policy=draft, user=people.marketing_lead)
    assert approval.team_kind == TeamKind.MARKETING
    assert QualificationPolicy.objects.get(pk=draft.pk).status == PolicyStatus.PROPOSED
    with pytest.raises(WorkflowError, match="still needs a sales lead"):
        policies.policy_approve(policy=draft, user=user_in(TeamKind.MARKETING, Role.LEAD))
    with pytest.raises(WorkflowError, match="already approved"):
        policies.policy_approve(policy=draft, user=people.marketing_lead)
    policies.policy_approve(policy=draft, user=people.sales_lead)
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.APPROVED
    assert sorted(draft.approvals.values_list("team_kind", flat=True)) == ["marketing", "sales"]
    assert actions(draft)[-3:] == ["approval", "approval", "approved"]
    assert "create" in audit_of(draft) and PolicyApproval.objects.filter(policy=draft).count() == 2


def test_four_eyes_the_proposer_cannot_approve(people, draft):
    policies.policy_propose(policy=draft, user=people.sales_lead)
    with pytest.raises(PermissionDenied, match="Four eyes"):
        policies.policy_approve(policy=draft, user=people.sales_lead)
    assert not draft.approvals.exists()


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (TeamKind.MARKETING, Role.MEMBER),
        (TeamKind.REVENUE_OPERATIONS, Role.LEAD),  # publishes, but signs for no team
        (TeamKind.CUSTOMER_SUCCESS, Role.LEAD),
        (TeamKind.BDR, Role.LEAD),
    ],
)
def test_only_marketing_and_sales_leads_approve(people, user_in, draft, kind, role):
    policies.policy_propose(policy=draft, user=people.marketer)
    with pytest.raises(PermissionDenied, match="lead of a marketing or a sales team"):
        policies.policy_approve(policy=draft, user=user_in(kind, role))
    assert policies.policy_approver_team_kinds(make_lead(user_in, TeamKind.SALES, TeamKind.MARKETING)) == {
        "marketing",
        "sales",
    }


def test_reject_goes_back_to_draft_with_the_reason(people, draft):
    policies.policy_propose(policy=draft, user=people.marketer)
    policies.policy_approve(policy=draft, user=people.marketing_lead)
    with pytest.raises(ValidationError):
        policies.policy_reject(policy=draft, user=people.sales_lead, reason="  ")
    with pytest.raises(PermissionDenied):
        policies.policy_reject(policy=draft, user=people.seller, reason="No")
    policies.policy_reject(policy=draft, user=people.sales_lead, reason="Purchase starts too early.")
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.DRAFT and not draft.approvals.exists() and draft.proposed_by is None
    rejected = PolicyHistory.objects.get(policy=draft, action="rejected")
    assert rejected.detail["reason"] == "Purchase starts too early." and rejected.actor == people.sales_lead
    assert draft.comments.get().body == "Rejected: Purchase starts too early."
    # Edited again after the rejection, under its ETag, and proposed anew.
    policies.policy_update(
        policy=draft, user=people.marketer, data={"purchase_min": 0.6}, expected_revision=1
    )
    assert policies.policy_propose(policy=draft, user=people.marketer).status == PolicyStatus.PROPOSED


def test_withdraw_clears_approvals(people, draft):
    signed_off(draft, people)
    policies.policy_withdraw(policy=draft, user=people.seller)
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.DRAFT and not draft.approvals.exists()
    with pytest.raises(WorkflowError, match="only a proposed, approved or scheduled version"):
        policies.policy_withdraw(policy=draft, user=people.seller)


def test_comments_on_any_version(people, user_in):
    comment = policies.policy_comment_add(policy=starter_policy(), user=people.seller, body="  Too strict?  ")
    assert (comment.author, comment.body) == (people.seller, "Too strict?")
    assert actions(starter_policy())[-1] == "commented"
    with pytest.raises(PermissionDenied):
        policies.policy_comment_add(policy=starter_policy(), user=people.viewer, body="Me too")
    with pytest.raises(ValidationError):
        policies.policy_comment_add(policy=starter_policy(), user=people.seller, body=" ")


# --- publishing and rolling back --------------------------------------------------------------------
def test_publishing_supersedes_the_published_version_and_rescores_after_commit(
    people, draft, rescores, django_capture_on_commit_callbacks
):
    lead = people.sales_lead
    signed_off(draft, people)
    with django_capture_on_commit_callbacks(execute=True):
        published = policies.policy_publish(policy=draft, user=lead)
    assert published.status == PolicyStatus.PUBLISHED and published.published_by == lead
    assert published.published_at is not None
    assert QualificationPolicy.objects.get(number=1).status == PolicyStatus.SUPERSEDED
    assert policies.policy_published() == draft
    assert audit_of(draft) == ["create", "update", "update", "update"]  # proposed, approved, published
    assert audit_of(QualificationPolicy.objects.get(number=1)) == ["update"]
    assert rescores == [{"user": lead, "reason": "policy v2 published"}]
    assert actions(draft)[-1] == "published"
    assert actions(QualificationPolicy.objects.get(number=1)) == ["superseded"]
    assert PolicyHistory.objects.get(policy=draft, action="published").detail == {"replaces": 1}


def test_rollback_publishes_a_superseded_version_again(
    people, draft, rescores, django_capture_on_commit_callbacks
):
    lead = people.marketing_lead
    policies.policy_publish(policy=signed_off(draft, people), user=lead)
    v1 = QualificationPolicy.objects.get(number=1)
    with pytest.raises(WorkflowError, match="only a version approved by both"):
        policies.policy_publish(policy=v1, user=lead)  # an earlier version comes back by rollback
    with pytest.raises(PermissionDenied):
        policies.policy_rollback(target=v1, user=people.marketer)
    with django_capture_on_commit_callbacks(execute=True):
        policies.policy_rollback(target=v1, user=lead)
    assert QualificationPolicy.objects.get(number=1).status == PolicyStatus.PUBLISHED
    assert QualificationPolicy.objects.get(number=2).status == PolicyStatus.SUPERSEDED
    assert rescores[-1] == {"user": lead, "reason": "policy rolled back to v1"}
    assert PolicyHistory.objects.get(policy=draft, action="superseded").detail == {"by": 1, "rollback": True}
    with pytest.raises(WorkflowError, match="already the published version"):
        policies.policy_rollback(target=v1, user=lead)


def test_rollback_to_a_never_published_version_is_refused(people, draft, rescores):
    with pytest.raises(WorkflowError, match="published before"):
        policies.policy_rollback(target=draft, user=people.marketing_lead)
    assert policies.policy_published() == starter_policy()


def test_the_published_version_cannot_be_published_again(people, rescores):
    with pytest.raises(WorkflowError, match="v1 is published: only a version approved"):
        policies.policy_publish(policy=starter_policy(), user=people.marketing_lead)


@pytest.mark.parametrize(
    "kind, role, allowed",
    [
        (TeamKind.MARKETING, Role.LEAD, True),
        (TeamKind.SALES, Role.LEAD, True),
        (TeamKind.REVENUE_OPERATIONS, Role.MEMBER, True),
        (TeamKind.REVENUE_OPERATIONS, Role.LEAD, True),
        (TeamKind.CUSTOMER_SUCCESS, Role.LEAD, False),  # a lead, but not of a team that owns the policy
        (TeamKind.BDR, Role.LEAD, False),
        (TeamKind.MARKETING, Role.MEMBER, False),
        (TeamKind.SALES, Role.VIEWER, False),
    ],
)
def test_who_may_publish_a_signed_off_version(user_in, people, draft, rescores, kind, role, allowed):
    signed_off(draft, people)
    user = user_in(kind, role)
    assert policies.can_publish_policies(user) is allowed
    if allowed:
        policies.policy_publish(policy=draft, user=user)
        assert QualificationPolicy.objects.get(pk=draft.pk).status == PolicyStatus.PUBLISHED
    else:
        with pytest.raises(PermissionDenied, match="marketing or sales and revenue-operations"):
            policies.policy_publish(policy=draft, user=user)
        assert QualificationPolicy.objects.get(pk=draft.pk).status == PolicyStatus.APPROVED
        assert policies.policy_published() == starter_policy()


# --- deleting drafts --------------------------------------------------------------------------------
def test_the_author_deletes_a_draft_audited(marketer, draft):
    policies.policy_delete(policy=draft, user=marketer)
    assert not QualificationPolicy.objects.filter(pk=draft.pk).exists()
    assert audit_of(draft) == ["create", "delete"]


def test_another_member_may_not_delete_a_draft_but_a_lead_may(user_in, draft):
    with pytest.raises(PermissionDenied, match="author"):
        policies.policy_delete(policy=draft, user=user_in(TeamKind.SALES, Role.MEMBER))
    policies.policy_delete(policy=draft, user=user_in(TeamKind.SALES, Role.LEAD))
    assert not QualificationPolicy.objects.filter(pk=draft.pk).exists()


def test_proposed_and_published_versions_are_not_deleted(revops_admin, people, draft):
    policies.policy_propose(policy=draft, user=people.marketer)
    with pytest.raises(policies.PolicyNotEditable, match="v2 is proposed: only drafts can be deleted"):
        policies.policy_delete(policy=draft, user=revops_admin)
    with pytest.raises(policies.PolicyNotEditable, match="only drafts can be deleted"):
        policies.policy_delete(policy=starter_policy(), user=revops_admin)
    assert QualificationPolicy.objects.filter(number__in=[1, 2]).count() == 2


# --- the role map -----------------------------------------------------------------------------------
def test_roles_grant_the_learned_scores_permissions():
    roles = role_permissions()
    views = {
        f"scoring.view_{m}"
        for m in [
            "scoringmodel",
            "qualificationpolicy",
            "accountmodelscore",
            "accountmodelscorehistory",
            "buyingstagetransition",
            "contactmodelscore",
        ]
    }
    assert views <= roles[GROUP_VIEWER]
    assert {"scoring.add_qualificationpolicy", "scoring.change_qualificationpolicy"} <= roles[GROUP_MEMBER]
    assert "scoring.publish_qualificationpolicy" not in roles[GROUP_MEMBER]
    assert "scoring.publish_qualificationpolicy" in roles[GROUP_LEAD]
    assert "scoring.approve_qualificationpolicy" not in roles[GROUP_MEMBER]
    assert "scoring.approve_qualificationpolicy" in roles[GROUP_LEAD]
    assert "scoring.add_policycomment" in roles[GROUP_MEMBER]
    assert {"scoring.view_policyapproval", "scoring.view_policyhistory"} <= roles[GROUP_VIEWER]
    admin_only = {
        "scoring.rescore_accounts",
        "scoring.promote_scoringmodel",
        "scoring.delete_qualificationpolicy",
    }
    assert admin_only <= roles[GROUP_REVOPS]
    assert not admin_only & roles[GROUP_LEAD]


def test_role_groups_carry_the_new_permissions(user_in):
    viewer = user_in(TeamKind.SALES, Role.VIEWER)
    admin = user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD)
    assert viewer.has_perm("scoring.view_accountmodelscore") and not viewer.has_perm(
        "scoring.rescore_accounts"
    )
    assert admin.has_perms(
        ["scoring.rescore_accounts", "scoring.promote_scoringmodel", "scoring.publish_qualificationpolicy"]
    )
