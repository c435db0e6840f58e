"""The ruleset workflow at the service level: drafts, optimistic locking, four eyes, publishing, rollback."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from revops.choices import Role, TeamKind
from revops.models import ChangeRecord
from scoring import selectors, workflow
from scoring.choices import RulesetStatus
from scoring.exceptions import PreconditionRequired, RulesetConflict, RulesetNotEditable, WorkflowError
from scoring.models import Rule, Ruleset, RulesetApproval, RulesetComment, RulesetHistory
from tests.accounts.factories import CampaignFactory
from tests.scoring.factories import (
    FAST_PASSWORD_HASHERS,
    RulesetFactory,
    make_lead,
    stub_rescore,
    workflow_people,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def people(user_in):
    return workflow_people(user_in)


@pytest.fixture
def rescores(monkeypatch):
    return stub_rescore(monkeypatch)


def published() -> Ruleset:
    return Ruleset.objects.get(status=RulesetStatus.PUBLISHED)


def actions(ruleset: Ruleset) -> list[str]:
    return list(
        RulesetHistory.objects.filter(ruleset=ruleset).order_by("at", "id").values_list("action", flat=True)
    )


def approved_draft(people) -> Ruleset:
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.marketer)
    workflow.ruleset_approve(ruleset=draft, user=people.marketing_lead)
    workflow.ruleset_approve(ruleset=draft, user=people.sales_lead)
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.APPROVED
    return draft


# --- drafts -----------------------------------------------------------------------------------------
def test_draft_copies_every_definition_and_rule_of_the_published_version(people):
    v1 = published()
    draft = workflow.ruleset_draft_create(user=people.marketer)
    assert (draft.number, draft.status, draft.based_on, draft.revision) == (2, RulesetStatus.DRAFT, v1, 1)
    assert draft.created_by == people.marketer
    for name in selectors.DEFINITION_FIELDS:
        assert getattr(draft, name) == getattr(v1, name), name
    assert selectors.ruleset_diff(old=v1, new=draft) == {
        "settings": [],
        "rules": {"added": [], "removed": [], "changed": []},
    }
    assert draft.rules.count() == v1.rules.count() > 10
    assert not set(draft.rules.values_list("pk", flat=True)) & set(v1.rules.values_list("pk", flat=True))
    assert actions(draft) == ["created"]
    assert ChangeRecord.objects.filter(object_type__model="ruleset", object_id=str(draft.pk)).exists()


def test_draft_from_a_chosen_version_with_a_name(people):
    first = workflow.ruleset_draft_create(user=people.marketer)
    second = workflow.ruleset_draft_create(user=people.seller, based_on=first, name="  Pricing push  ")
    assert (second.number, second.based_on, second.name) == (3, first, "Pricing push")


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (TeamKind.MARKETING, Role.VIEWER),
        (TeamKind.SALES, Role.VIEWER),
        (TeamKind.CUSTOMER_SUCCESS, Role.MEMBER),
        (TeamKind.CUSTOMER_SUCCESS, Role.LEAD),
    ],
)
def test_viewers_and_other_teams_cannot_create_drafts(user_in, kind, role):
    with pytest.raises(PermissionDenied, match="marketing, sales, BDR/SDR or revenue-operations"):
        workflow.ruleset_draft_create(user=user_in(kind, role))
    assert Ruleset.objects.count() == 1


def test_bdr_and_revops_members_edit_drafts(user_in):
    for kind in (TeamKind.BDR, TeamKind.REVENUE_OPERATIONS):
        assert workflow.ruleset_draft_create(user=user_in(kind, Role.MEMBER)).status == RulesetStatus.DRAFT


def test_outsider_cannot_create_drafts(outsider):
    with pytest.raises(PermissionDenied):
        workflow.ruleset_draft_create(user=outsider)


# --- editing ----------------------------------------------------------------------------------------
def test_edit_needs_the_revision_it_was_based_on(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(PreconditionRequired):
        workflow.ruleset_update(
            ruleset=draft, user=people.marketer, expected_revision=None, data={"mql_fit_min": 5}
        )
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.revision) == (20, 1)


def test_stale_edit_is_refused_and_changes_nothing(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_update(ruleset=draft, user=people.seller, expected_revision=1, data={"mql_fit_min": 25})
    with pytest.raises(RulesetConflict) as caught:
        workflow.ruleset_update(
            ruleset=Ruleset.objects.get(pk=draft.pk),
            user=people.marketer,
            expected_revision=1,
            data={"mql_fit_min": 5, "name": "Mine"},
        )
    assert caught.value.current.revision == 2
    assert "revision 1" in str(caught.value) and "revision 2" in str(caught.value)
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.name, draft.revision) == (25, published().name, 2)


def test_edit_bumps_revision_replaces_rules_and_records_what_changed(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    rules = selectors.ruleset_rules(draft)
    kept = rules[0]
    changed = {**rules[1], "points": 99}
    new = {
        "name": "Webinar twice",
        "kind": "engagement",
        "event_type": "webinar",
        "min_count": 2,
        "points": 12,
    }
    saved = workflow.ruleset_update(
        ruleset=draft,
        user=people.marketer,
        expected_revision=1,
        data={"mql_fit_min": 30, "sal_enabled": False},
        rules=[kept, changed, new],
    )
    assert saved is draft and draft.revision == 2
    draft.refresh_from_db()
    assert (draft.revision, draft.mql_fit_min, draft.sal_enabled) == (2, 30, False)
    got = list(draft.rules.order_by("position"))
    assert [r.pk for r in got[:2]] == [kept["id"], changed["id"]]  # ids kept
    assert [r.position for r in got] == [1, 2, 3]
    assert got[1].points == 99 and got[2].name == "Webinar twice" and got[2].min_count == 2
    history = RulesetHistory.objects.filter(ruleset=draft, action="edited").get()
    assert history.actor == people.marketer and history.detail["revision"] == 2
    assert {s["field"] for s in history.detail["settings"]} == {"mql_fit_min", "sal_enabled"}
    assert [r["name"] for r in history.detail["rules"]["added"]] == ["Webinar twice"]
    assert len(history.detail["rules"]["removed"]) == len(rules) - 2
    assert history.detail["rules"]["changed"] == [
        {"name": changed["name"], "changes": [{"field": "points", "old": rules[1]["points"], "new": 99}]}
    ]
    assert ChangeRecord.objects.filter(object_type__model="rule", action="delete").count() == len(rules) - 2


def test_edit_without_changes_keeps_the_revision(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_update(
        ruleset=draft,
        user=people.marketer,
        expected_revision=1,
        data={"name": draft.name},
        rules=selectors.ruleset_rules(draft),
    )
    draft.refresh_from_db()
    assert draft.revision == 1 and "edited" not in actions(draft)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"fit_grade_a_min": 10, "fit_grade_b_min": 20}, "fit_grade_a_min"),
        ({"engagement_grade_1_min": 10}, "engagement_grade_1_min"),
        ({"mql_fit_min": "lots"}, "mql_fit_min"),
        ({"mql_fit_min": True}, "mql_fit_min"),
        ({"excluded_title_pattern": "(unclosed"}, "excluded_title_pattern"),
        ({"required_fields": ["email", "shoe_size"]}, "required_fields"),
        ({"excluded_countries": ["XX"]}, "excluded_countries"),
        ({"fast_track_event_types": ["telepathy"]}, "fast_track_event_types"),
        ({"competitor_domains": ["not a domain"]}, "competitor_domains"),
        ({"sql_checklist": ["Budget", "Budget"]}, "sql_checklist"),
        ({"recycle_engagement_below": 500}, "recycle_engagement_below"),
        ({"sal_enabled": "yes"}, "sal_enabled"),
        ({"name": ""}, "name"),
        ({"status": "published"}, "status"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_definition_fields_are_validated(people, data, field):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(ValidationError) as caught:
        workflow.ruleset_update(ruleset=draft, user=people.marketer, expected_revision=1, data=data)
    assert field in caught.value.message_dict
    draft.refresh_from_db()
    assert draft.revision == 1 and draft.status == RulesetStatus.DRAFT


FIT = {"name": "Fit", "kind": "fit", "field": "seniority", "operator": "in", "value": ["vp"], "points": 5}
ENGAGEMENT = {"name": "Pricing", "kind": "engagement", "url_pattern": "^/pricing", "points": 5}


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ({**FIT, "operator": "sounds_like"}, "operator"),
        ({**FIT, "operator": "in", "value": "vp"}, "value"),
        ({**FIT, "operator": "range", "value": [1, 2]}, "value"),
        ({**FIT, "operator": "range", "value": {"min": 500, "max": 10}}, "value"),
        ({**FIT, "operator": "range", "value": {"low": 1}}, "value"),
        ({**FIT, "operator": "regex", "value": "(("}, "value"),
        ({**FIT, "operator": "email_domain", "value": ["gmail.com"]}, "operator"),
        ({**FIT, "field": "shoe_size"}, "field"),
        ({**FIT, "field": "account.revenue"}, "field"),
        ({**FIT, "field": ""}, "field"),
        ({**FIT, "value": None}, "value"),
        ({**FIT, "event_type": "webinar"}, "event_type"),
        ({**FIT, "points": "many"}, "points"),
        ({**FIT, "points": None}, "points"),
        ({**FIT, "name": " "}, "name"),
        ({**FIT, "kind": "vibes"}, "kind"),
        ({**FIT, "colour": "blue"}, "colour"),
        ({"name": "Nothing", "kind": "engagement", "points": 5}, "event_type"),
        ({**ENGAGEMENT, "event_type": "telepathy"}, "event_type"),
        ({**ENGAGEMENT, "url_pattern": "[a-"}, "url_pattern"),
        ({**ENGAGEMENT, "min_count": 0}, "min_count"),
        ({**ENGAGEMENT, "min_count": 1.5}, "min_count"),
        ({**ENGAGEMENT, "cap": -1}, "cap"),
        ({**ENGAGEMENT, "half_life_days": 0}, "half_life_days"),
        ({**ENGAGEMENT, "window_days": 0}, "window_days"),
        ({**ENGAGEMENT, "campaign": 987654}, "campaign"),
        ({**ENGAGEMENT, "field": "title"}, "field"),
        ({**ENGAGEMENT, "id": 987654}, "id"),
    ],
)
def test_rules_are_validated_with_their_index(people, rule, key):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    before = selectors.ruleset_rules(draft)
    ok = {**ENGAGEMENT, "name": "Fine"}
    with pytest.raises(ValidationError) as caught:
        workflow.ruleset_update(
            ruleset=draft, user=people.marketer, expected_revision=1, data={}, rules=[ok, rule]
        )
    assert f"rules[1].{key}" in caught.value.message_dict, caught.value.message_dict
    assert not any(k.startswith("rules[0]") for k in caught.value.message_dict)
    assert selectors.ruleset_rules(Ruleset.objects.get(pk=draft.pk)) == before


def test_rule_shapes_that_are_fine(people):
    campaign = CampaignFactory()
    draft = workflow.ruleset_draft_create(user=people.marketer)
    rules = [
        {**FIT, "name": "Free mail", "field": "email", "operator": "email_domain", "value": ["gmail.com"]},
        {**FIT, "name": "Size", "field": "account.employee_count", "operator": "range", "value": {"min": 50}},
        {**FIT, "name": "Plan", "field": "account.custom.plan", "operator": "equals", "value": "enterprise"},
        {**FIT, "name": "Title", "field": "title", "operator": "regex", "value": r"\bhead of\b"},
        {
            **FIT,
            "name": "Tier",
            "field": "custom.tier",
            "operator": "contains",
            "value": "gold",
            "points": -3,
        },
        {**ENGAGEMENT, "name": "Campaign touch", "url_pattern": "", "campaign": campaign.pk, "cap": 0},
        {**ENGAGEMENT, "name": "Intent", "url_pattern": "", "topic": "revops", "half_life_days": "7.5"},
    ]
    workflow.ruleset_update(ruleset=draft, user=people.marketer, expected_revision=1, data={}, rules=rules)
    got = {r.name: r for r in draft.rules.all()}
    assert got["Campaign touch"].campaign == campaign and got["Intent"].half_life_days == 7.5
    assert got["Size"].value == {"min": 50}


def test_rule_names_are_unique_in_a_version(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(ValidationError) as caught:
        workflow.ruleset_update(
            ruleset=draft,
            user=people.marketer,
            expected_revision=1,
            data={},
            rules=[FIT, {**FIT, "name": "fit"}],
        )
    assert "rules[1].name" in caught.value.message_dict


def test_rules_of_another_version_cannot_be_taken_over(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    foreign = selectors.ruleset_rules(published())[0]
    with pytest.raises(ValidationError) as caught:
        workflow.ruleset_update(
            ruleset=draft, user=people.marketer, expected_revision=1, data={}, rules=[foreign]
        )
    assert "rules[0].id" in caught.value.message_dict


@pytest.mark.parametrize(
    "status", [RulesetStatus.PROPOSED, RulesetStatus.PUBLISHED, RulesetStatus.SUPERSEDED]
)
def test_only_drafts_are_editable(people, status):
    ruleset = published() if status == RulesetStatus.PUBLISHED else RulesetFactory(status=status)
    with pytest.raises(RulesetNotEditable, match="only drafts"):
        workflow.ruleset_update(
            ruleset=ruleset, user=people.marketer, expected_revision=ruleset.revision, data={"mql_fit_min": 1}
        )
    assert Ruleset.objects.get(pk=ruleset.pk).mql_fit_min == 20


def test_published_rules_stay_immutable_through_the_whole_workflow(people, rescores):
    v1 = published()
    before = selectors.ruleset_document(v1)
    draft = approved_draft(people)
    workflow.ruleset_publish(ruleset=draft, user=people.sales_lead)
    workflow.ruleset_rollback(target=v1, user=people.marketing_lead)
    assert selectors.ruleset_document(Ruleset.objects.get(pk=v1.pk)) == before


def test_viewer_cannot_edit(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(PermissionDenied):
        workflow.ruleset_update(
            ruleset=draft, user=people.viewer, expected_revision=1, data={"mql_fit_min": 1}
        )


# --- comments and deletion --------------------------------------------------------------------------
def test_anyone_editing_comments_on_any_version(people):
    comment = workflow.ruleset_comment_add(
        ruleset=published(), user=people.seller, body="  Careers pages hurt.  "
    )
    assert (comment.author, comment.body) == (people.seller, "Careers pages hurt.")
    assert "commented" in actions(published())
    with pytest.raises(PermissionDenied):
        workflow.ruleset_comment_add(ruleset=published(), user=people.viewer, body="Me too")
    with pytest.raises(ValidationError):
        workflow.ruleset_comment_add(ruleset=published(), user=people.seller, body="   ")
    assert RulesetComment.objects.count() == 1


def test_only_author_or_lead_deletes_a_draft(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(PermissionDenied):
        workflow.ruleset_draft_delete(ruleset=draft, user=people.seller)
    workflow.ruleset_draft_delete(ruleset=draft, user=people.marketer)
    assert not Ruleset.objects.filter(pk=draft.pk).exists()
    other = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_draft_delete(ruleset=other, user=people.sales_lead)
    with pytest.raises(RulesetNotEditable):
        workflow.ruleset_draft_delete(ruleset=published(), user=people.sales_lead)


# --- proposal, approval, rejection -----------------------------------------------------------------
def test_propose_records_who_and_when(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.seller)
    draft.refresh_from_db()
    assert (draft.status, draft.proposed_by) == (RulesetStatus.PROPOSED, people.seller)
    assert draft.proposed_at is not None
    with pytest.raises(WorkflowError, match="only a draft"):
        workflow.ruleset_propose(ruleset=draft, user=people.seller)


def test_both_a_marketing_and_a_sales_lead_must_approve(people, user_in):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.marketer)
    approval = workflow.ruleset_approve(ruleset=draft, user=people.marketing_lead)
    assert approval.team_kind == TeamKind.MARKETING
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.PROPOSED
    second_marketer = user_in(TeamKind.MARKETING, Role.LEAD)
    with pytest.raises(WorkflowError, match="still needs a sales lead"):
        workflow.ruleset_approve(ruleset=draft, user=second_marketer)
    with pytest.raises(WorkflowError, match="already approved"):
        workflow.ruleset_approve(ruleset=draft, user=people.marketing_lead)
    workflow.ruleset_approve(ruleset=draft, user=people.sales_lead)
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.APPROVED
    assert sorted(draft.approvals.values_list("team_kind", flat=True)) == ["marketing", "sales"]
    assert actions(draft)[-3:] == ["approval", "approval", "approved"]


def test_four_eyes_the_proposer_cannot_approve(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.sales_lead)
    with pytest.raises(PermissionDenied, match="Four eyes"):
        workflow.ruleset_approve(ruleset=draft, user=people.sales_lead)
    assert not RulesetApproval.objects.exists()


def test_a_lead_of_both_teams_approves_for_one_only(people, user_in):
    both = make_lead(user_in, TeamKind.MARKETING, TeamKind.SALES)
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.marketer)
    workflow.ruleset_approve(ruleset=draft, user=both)
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.PROPOSED
    workflow.ruleset_approve(ruleset=draft, user=people.sales_lead)
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.APPROVED


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (TeamKind.MARKETING, Role.MEMBER),
        (TeamKind.SALES, Role.VIEWER),
        (TeamKind.BDR, Role.LEAD),
        (TeamKind.REVENUE_OPERATIONS, Role.LEAD),
    ],
)
def test_only_marketing_and_sales_leads_approve(people, user_in, kind, role):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.marketer)
    with pytest.raises(PermissionDenied, match="lead of a marketing or a sales team"):
        workflow.ruleset_approve(ruleset=draft, user=user_in(kind, role))


def test_drafts_cannot_be_approved(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(WorkflowError, match="only a proposed version"):
        workflow.ruleset_approve(ruleset=draft, user=people.sales_lead)


def test_reject_goes_back_to_draft_with_the_reason(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_propose(ruleset=draft, user=people.marketer)
    workflow.ruleset_approve(ruleset=draft, user=people.marketing_lead)
    with pytest.raises(ValidationError):
        workflow.ruleset_reject(ruleset=draft, user=people.sales_lead, reason=" ")
    with pytest.raises(PermissionDenied):
        workflow.ruleset_reject(ruleset=draft, user=people.seller, reason="No")
    workflow.ruleset_reject(ruleset=draft, user=people.sales_lead, reason="Careers pages must cost more.")
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.DRAFT and not draft.approvals.exists()
    history = RulesetHistory.objects.get(ruleset=draft, action="rejected")
    assert history.detail["reason"] == "Careers pages must cost more." and history.actor == people.sales_lead
    assert draft.comments.get().body == "Rejected: Careers pages must cost more."


def test_withdraw_clears_approvals(people):
    draft = approved_draft(people)
    workflow.ruleset_withdraw(ruleset=draft, user=people.seller)
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.DRAFT and not draft.approvals.exists() and draft.proposed_by is None
    with pytest.raises(WorkflowError):
        workflow.ruleset_withdraw(ruleset=draft, user=people.seller)


# --- publication ------------------------------------------------------------------------------------
def test_publish_needs_approval_and_the_publish_permission(people, rescores):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    with pytest.raises(WorkflowError, match="approved by both"):
        workflow.ruleset_publish(ruleset=draft, user=people.sales_lead)
    draft = approved_draft(people)
    with pytest.raises(PermissionDenied):
        workflow.ruleset_publish(ruleset=draft, user=people.marketer)
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.APPROVED
    assert rescores == []


def test_publish_supersedes_the_previous_version_and_rescores_after_commit(
    people, rescores, django_capture_on_commit_callbacks
):
    v1 = published()
    draft = approved_draft(people)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.ruleset_publish(ruleset=draft, user=people.sales_lead)
    draft.refresh_from_db()
    v1.refresh_from_db()
    assert (draft.status, v1.status) == (RulesetStatus.PUBLISHED, RulesetStatus.SUPERSEDED)
    assert draft.published_by == people.sales_lead and draft.published_at is not None
    assert selectors.published_ruleset() == draft
    assert rescores == [{"user": people.sales_lead, "reason": "v2 published"}]
    assert actions(v1)[-1] == "superseded" and actions(draft)[-1] == "published"
    assert RulesetHistory.objects.get(ruleset=draft, action="published").detail == {"replaces": 1}
    assert ChangeRecord.objects.filter(
        object_type__model="ruleset", object_id=str(v1.pk), action="update"
    ).exists()


def test_scheduled_publication_happens_when_due(people, rescores, django_capture_on_commit_callbacks):
    draft = approved_draft(people)
    at = timezone.now() + datetime.timedelta(hours=2)
    workflow.ruleset_publish(ruleset=draft, user=people.sales_lead, at=at)
    draft.refresh_from_db()
    assert (draft.status, draft.publish_at) == (RulesetStatus.SCHEDULED, at)
    assert workflow.rulesets_publish_due(now=at - datetime.timedelta(minutes=1)) == 0
    assert published().number == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert workflow.rulesets_publish_due(now=at + datetime.timedelta(seconds=1)) == 1
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.PUBLISHED and draft.publish_at is None
    assert draft.published_by == people.sales_lead  # who scheduled it
    assert rescores == [{"user": people.sales_lead, "reason": "v2 published"}]
    # Run again (twice, as beat may): nothing more to do.
    assert workflow.rulesets_publish_due(now=at + datetime.timedelta(minutes=5)) == 0
    assert workflow.rulesets_publish_due_task.delay().get() == 0
    assert actions(draft)[-2:] == ["scheduled", "published"]


def test_scheduled_version_can_be_withdrawn_before_it_is_due(people, rescores):
    draft = approved_draft(people)
    at = timezone.now() + datetime.timedelta(days=1)
    workflow.ruleset_publish(ruleset=draft, user=people.sales_lead, at=at)
    workflow.ruleset_withdraw(ruleset=draft, user=people.marketer)
    assert workflow.rulesets_publish_due(now=at + datetime.timedelta(days=1)) == 0
    assert published().number == 1


def test_the_due_task_publishes_only_scheduled_versions(people, rescores):
    draft = approved_draft(people)
    with pytest.raises(WorkflowError):
        workflow.ruleset_publish(ruleset=draft, user=None)


def test_publish_in_the_past_publishes_now(people, rescores):
    draft = approved_draft(people)
    workflow.ruleset_publish(
        ruleset=draft, user=people.sales_lead, at=timezone.now() - datetime.timedelta(days=1)
    )
    assert Ruleset.objects.get(pk=draft.pk).status == RulesetStatus.PUBLISHED


def test_rollback_restores_an_earlier_published_version(people, rescores, django_capture_on_commit_callbacks):
    v1 = published()
    v2 = approved_draft(people)
    workflow.ruleset_publish(ruleset=v2, user=people.sales_lead)
    with pytest.raises(PermissionDenied):
        workflow.ruleset_rollback(target=v1, user=people.marketer)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.ruleset_rollback(target=v1, user=people.marketing_lead)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (RulesetStatus.PUBLISHED, RulesetStatus.SUPERSEDED)
    assert v1.published_by == people.marketing_lead
    assert rescores[-1] == {"user": people.marketing_lead, "reason": "rolled back to v1"}
    assert actions(v1)[-1] == "rolled_back" and actions(v2)[-1] == "superseded"
    assert RulesetHistory.objects.filter(ruleset=v2, action="superseded").get().detail == {
        "by": 1,
        "rollback": True,
    }
    with pytest.raises(WorkflowError, match="already the published"):
        workflow.ruleset_rollback(target=v1, user=people.marketing_lead)


def test_rollback_to_a_never_published_version_is_refused(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    superseded_but_never_live = RulesetFactory(status=RulesetStatus.SUPERSEDED)
    for target in (draft, superseded_but_never_live):
        with pytest.raises(WorkflowError, match="published before"):
            workflow.ruleset_rollback(target=target, user=people.sales_lead)
    assert published().number == 1


# --- diff -------------------------------------------------------------------------------------------
def test_diff_matches_rules_by_name_then_position(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    rules = selectors.ruleset_rules(draft)
    renamed = {**rules[0], "name": "Senior decision makers", "points": 20}
    edited = {**rules[1], "points": 1}
    rest = rules[3:]  # rules[2] dropped
    added = {"name": "Events", "kind": "engagement", "event_type": "webinar", "points": 3}
    workflow.ruleset_update(
        ruleset=draft,
        user=people.marketer,
        expected_revision=1,
        data={"fit_grade_a_min": 50},
        rules=[renamed, edited, *rest, added],
    )
    diff = selectors.ruleset_diff(old=published(), new=Ruleset.objects.get(pk=draft.pk))
    assert diff["settings"] == [
        {"field": "fit_grade_a_min", "label": "Fit grade A from", "old": 40, "new": 50}
    ]
    assert [r["name"] for r in diff["rules"]["added"]] == ["Events"]
    assert [r["name"] for r in diff["rules"]["removed"]] == [rules[2]["name"]]
    changed = {c["name"]: c["changes"] for c in diff["rules"]["changed"]}
    assert changed["Senior decision makers"] == [
        {"field": "name", "old": rules[0]["name"], "new": "Senior decision makers"},
        {"field": "points", "old": rules[0]["points"], "new": 20},
    ]
    assert changed[rules[1]["name"]] == [{"field": "points", "old": rules[1]["points"], "new": 1}]
    assert len(changed) == 2


def test_changes_since_a_revision(people):
    draft = workflow.ruleset_draft_create(user=people.marketer)
    workflow.ruleset_update(
        ruleset=draft, user=people.marketer, expected_revision=1, data={"mql_fit_min": 21}
    )
    workflow.ruleset_update(ruleset=draft, user=people.seller, expected_revision=2, data={"mql_fit_min": 22})
    changes = selectors.ruleset_changes_since(ruleset=draft, revision=1)
    assert [(c["revision"], c["actor"]) for c in changes] == [
        (2, people.marketer.username),
        (3, people.seller.username),
    ]
    assert changes[1]["settings"][0]["new"] == 22
    assert Rule.objects.filter(ruleset=draft).count() == published().rules.count()
