"""The versioned-document workflow of the core (``revops.documents``), tested as a new document would use
it: a spec of its own (here over the qualification policy table, any ``VersionedDocument`` would do),
with its signer teams, permissions and what runs after publishing.

The property test drives random sequences of transitions by random people and holds the invariants: a
status is always one of the workflow's, a transition that succeeds goes where the state machine says and
one that is refused changes nothing, at most one version is published, a published version's content
never changes, an approved version carries an approval of every signer team and never the proposer's.
"""

import contextlib
import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.choices import Role, TeamKind, VersionStatus
from revops.documents import DocumentWorkflow, if_match_revision, revision_check, version_text_clean
from revops.exceptions import PreconditionRequired, StaleRevision, WorkflowError
from revops.models import Team
from scoring.models import QualificationPolicy
from tests.scoring.factories import make_lead, starter_policy

pytestmark = pytest.mark.django_db

S = VersionStatus
# Where each transition may lead from each status: the state machine, written out independently.
MACHINE = {
    "propose": {S.DRAFT: {S.PROPOSED}},
    "withdraw": {S.PROPOSED: {S.DRAFT}, S.APPROVED: {S.DRAFT}, S.SCHEDULED: {S.DRAFT}},
    "approve": {S.PROPOSED: {S.PROPOSED, S.APPROVED}},
    "reject": {S.PROPOSED: {S.DRAFT}, S.APPROVED: {S.DRAFT}},
    "publish": {S.APPROVED: {S.PUBLISHED}, S.SCHEDULED: {S.PUBLISHED}},
    "schedule": {S.APPROVED: {S.SCHEDULED}, S.SCHEDULED: {S.SCHEDULED}},
    "rollback": {S.SUPERSEDED: {S.PUBLISHED}},
    "edit": {S.DRAFT: {S.DRAFT}},
}
REFUSALS = (WorkflowError, PermissionDenied, ValidationError)
CONTENT = ["name", "icp_weight", "fit_high_min", "purchase_min"]


def spec(calls: list, signers=(TeamKind.MARKETING, TeamKind.SALES)) -> DocumentWorkflow:
    return DocumentWorkflow(
        model=QualificationPolicy,
        label="Doc v{number}",
        signers=signers,
        approve_permission="scoring.approve_qualificationpolicy",
        may_edit=lambda user: user.has_perm("scoring.change_qualificationpolicy"),
        may_publish=lambda user: user.has_perm("scoring.publish_qualificationpolicy"),
        delete_permission="scoring.delete_qualificationpolicy",
        after_publish=lambda **kwargs: calls.append(kwargs),
        edit_refusal="Only editors may {what}.",
        publish_refusal="Only publishers may {what}.",
    )


def new_draft(flow: DocumentWorkflow, user, **values):
    return flow.draft_create(user=user, values=lambda source: {"name": "Doc", **values})


@pytest.fixture
def calls():
    return []


@pytest.fixture
def flow(calls):
    return spec(calls)


@pytest.fixture
def cast(user_in):
    return {
        "editor": user_in(TeamKind.MARKETING, Role.MEMBER),
        "marketing": user_in(TeamKind.MARKETING, Role.LEAD),
        "sales": user_in(TeamKind.SALES, Role.LEAD),
        "revops": user_in(TeamKind.REVENUE_OPERATIONS, Role.LEAD),
        "viewer": user_in(TeamKind.SALES, Role.VIEWER),
    }


# --- a document plugs in ----------------------------------------------------------------------------
def test_a_model_without_approvals_comments_and_history_is_refused(calls):
    with pytest.raises(TypeError, match="approvals"):
        DocumentWorkflow(**{**spec(calls).__dict__, "model": Team})
    with pytest.raises(TypeError, match="signers"):
        spec(calls, signers=("marketing", "finance"))


def test_a_draft_is_numbered_next_and_copies_its_source(flow, cast):
    draft = flow.draft_create(
        user=cast["editor"],
        values=lambda source: {"name": f"From v{source.number}"},
        copy=lambda d, s: {"x": 1},
    )
    assert (draft.number, draft.status, draft.revision, draft.based_on) == (2, S.DRAFT, 1, starter_policy())
    assert list(draft.history.values_list("action", "detail")) == [("created", {"based_on": 1, "x": 1})]
    with pytest.raises(PermissionDenied, match="Only editors may create drafts."):
        new_draft(flow, cast["viewer"])


def test_edits_need_the_current_revision(flow, cast):
    draft = new_draft(flow, cast["editor"])

    def change(locked):
        locked.icp_weight = 0.7
        return {"icp_weight": 0.7}

    with pytest.raises(PreconditionRequired):
        flow.update(document=draft, user=cast["editor"], expected_revision=None, change=change)
    flow.update(document=draft, user=cast["editor"], expected_revision=1, change=change)
    assert (draft.revision, draft.icp_weight) == (2, 0.7)  # the caller's instance follows
    with pytest.raises(StaleRevision) as caught:
        flow.update(document=draft, user=cast["editor"], expected_revision=1, change=change)
    assert caught.value.current.revision == 2 and "Doc v2 was changed by someone else" in str(caught.value)
    assert (
        flow.update(document=draft, user=cast["editor"], expected_revision=2, change=lambda d: None).revision
        == 2
    )


def test_three_signer_teams_each_sign(calls, cast, user_in):
    flow = spec(calls, signers=(TeamKind.MARKETING, TeamKind.SALES, TeamKind.CUSTOMER_SUCCESS))
    success = make_lead(user_in, TeamKind.CUSTOMER_SUCCESS)
    draft = new_draft(flow, cast["editor"])
    flow.propose(document=draft, user=cast["editor"])
    flow.approve(document=draft, user=cast["marketing"])
    flow.approve(document=draft, user=cast["sales"])
    assert draft.status == S.PROPOSED
    with pytest.raises(WorkflowError, match="only a version approved by a marketing, a sales and a customer"):
        flow.publish(document=draft, user=cast["revops"])
    flow.approve(document=draft, user=success)
    assert draft.status == S.APPROVED
    with pytest.raises(PermissionDenied, match="a marketing or a sales or a customer success team"):
        flow.approve(document=draft, user=cast["revops"])


def test_publish_supersedes_and_runs_after_publish_once_committed(
    flow, calls, cast, django_capture_on_commit_callbacks
):
    draft = new_draft(flow, cast["editor"])
    flow.propose(document=draft, user=cast["editor"])
    flow.approve(document=draft, user=cast["marketing"])
    flow.approve(document=draft, user=cast["sales"])
    with django_capture_on_commit_callbacks(execute=True):
        flow.publish(document=draft, user=cast["revops"])
    assert calls == [{"user": cast["revops"], "reason": "Doc v2 published"}]
    assert QualificationPolicy.objects.get(number=1).status == S.SUPERSEDED
    with django_capture_on_commit_callbacks(execute=True):
        flow.rollback(document=QualificationPolicy.objects.get(number=1), user=cast["revops"])
    assert calls[-1] == {"user": cast["revops"], "reason": "rolled back to Doc v1"}
    assert list(QualificationPolicy.objects.published().values_list("number", flat=True)) == [1]


def test_scheduled_versions_are_published_when_due(flow, calls, cast):
    draft = new_draft(flow, cast["editor"])
    flow.propose(document=draft, user=cast["editor"])
    flow.approve(document=draft, user=cast["marketing"])
    flow.approve(document=draft, user=cast["sales"])
    at = timezone.now() + datetime.timedelta(hours=1)
    flow.publish(document=draft, user=cast["revops"], at=at)
    assert (draft.status, draft.publish_at, draft.published_by) == (S.SCHEDULED, at, cast["revops"])
    assert flow.publish_due(now=at - datetime.timedelta(seconds=1)) == 0
    assert flow.publish_due(now=at) == 1
    draft.refresh_from_db()
    assert (draft.status, draft.publish_at, draft.published_by) == (S.PUBLISHED, None, cast["revops"])
    assert flow.publish_due(now=at) == 0


# --- ETags ------------------------------------------------------------------------------------------
def test_if_match_names_a_revision_of_this_document_only():
    policy = starter_policy()
    tag = policy.etag
    assert tag == f'"policy-{policy.pk}-r1"'
    assert if_match_revision(None, policy) is None and if_match_revision(" * ", policy) is None
    assert if_match_revision(f"W/{tag}", policy) == 1
    assert if_match_revision(f'"ruleset-{policy.pk}-r1", "policy-{policy.pk}-r7"', policy) == 7
    assert if_match_revision('"policy-999999-r1"', policy) == 0
    assert if_match_revision("nonsense", policy) == 0
    with pytest.raises(PreconditionRequired, match="Say which revision of X"):
        revision_check(locked=policy, expected_revision=None, label="X")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("name", "  Tight  ", ("Tight", None)),
        ("name", " ", ("", "A name is required.")),
        ("name", "x" * 201, ("", "At most 200 characters.")),
        ("name", 3, ("", "A name is required.")),
        ("description", "", ("", None)),
        ("description", None, ("", "Text is required.")),
    ],
)
def test_version_text_clean(key, value, expected):
    assert version_text_clean(key, value) == expected


# --- the property: random transitions never reach an illegal state ------------------------------------
# Who would normally take each action (a step may have anyone try it).
ACTIONS = {
    "create": ["editor"],
    "edit": ["editor"],
    "propose": ["editor", "sales"],
    "withdraw": ["editor"],
    "approve": ["marketing", "sales"],
    "reject": ["marketing", "sales"],
    "publish": ["revops"],
    "schedule": ["revops"],
    "rollback": ["revops"],
}
ACTORS = ["editor", "marketing", "sales", "revops", "viewer"]
LEAD_OF = {"marketing": TeamKind.MARKETING, "sales": TeamKind.SALES}
# What the state machine offers, the furthest along first (Hypothesis favours the first choices).
PROGRESS = ["propose", "approve", "publish", "rollback", "create", "schedule", "edit", "reject", "withdraw"]
# A step: how (0: what the state machine offers from the version's status, by its usual actor; 1: any
# action by its usual actor; 2: any action by anyone), which action, which version (0: the newest), who.
STEP = st.tuples(
    st.sampled_from([0, 0, 0, 1, 2]),
    st.one_of(st.just(0), st.just(0), st.integers(0, 8)),  # the furthest step along, mostly
    st.one_of(st.just(0), st.integers(0, 2)),  # the newest version, mostly
    st.integers(0, 4),
)


def _act(flow: DocumentWorkflow, action: str, document, user):
    if action == "edit":
        return flow.update(
            document=document,
            user=user,
            expected_revision=document.revision,
            change=lambda locked: setattr(locked, "icp_weight", round(1 - locked.icp_weight, 3)) or {"x": 1},
        )
    if action == "reject":
        return flow.reject(document=document, user=user, reason="Not yet.")
    if action == "schedule":
        return flow.publish(document=document, user=user, at=timezone.now() + datetime.timedelta(days=1))
    return getattr(flow, action)(document=document, user=user)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=50))
def test_random_transitions_never_reach_an_illegal_state(flow, cast, steps):
    with transaction.atomic():
        documents = [starter_policy()]
        published_content: dict[int, dict] = {}
        for how, which, index, who in steps:
            document = QualificationPolicy.objects.get(pk=documents[-1 - index % len(documents)].pk)
            offered = [a for a in PROGRESS if a == "create" or document.status in MACHINE[a]]
            choices = offered if how == 0 else sorted(ACTIONS)
            action = choices[which % len(choices)]
            usual = ACTIONS[action]
            if how == 0 and action == "approve":  # the leads whose team has not signed yet
                signed = set(document.approvals.values_list("team_kind", flat=True))
                usual = [lead for lead in usual if LEAD_OF[lead] not in signed] or usual
            actor = ACTORS[who] if how == 2 else usual[who % len(usual)]
            user = cast[actor]
            if action == "create":
                with contextlib.suppress(*REFUSALS):
                    documents.append(new_draft(flow, user))
                continue
            before = {
                f.attname: getattr(document, f.attname) for f in QualificationPolicy._meta.concrete_fields
            }
            history = document.history.count()
            # What pages offer (actions_for) is exactly what the workflow lets this user do now; reject is
            # offered to fewer (not the proposer, not who approved), so only "offered ⇒ allowed" holds.
            offered_now = flow.actions_for(user, document)
            try:
                _act(flow, action, document, user)
            except REFUSALS:
                assert action not in offered_now, (action, actor, document.status)
                after = QualificationPolicy.objects.get(pk=document.pk)
                assert {f: getattr(after, f) for f in before} == before, (action, actor)  # nothing changed
                assert document.history.count() == history
            else:
                assert action in offered_now or action == "reject", (action, actor, document.status)
                after = QualificationPolicy.objects.get(pk=document.pk)
                assert after.status in MACHINE[action][before["status"]], (
                    action,
                    before["status"],
                    after.status,
                )
                assert document.history.count() > history
            # Invariants over every version, after every step.
            rows = list(QualificationPolicy.objects.all())
            assert all(row.status in S.values for row in rows)
            assert sum(row.status == S.PUBLISHED for row in rows) <= 1
            for row in rows:
                signed = set(row.approvals.values_list("team_kind", flat=True))
                approvers = set(row.approvals.values_list("user_id", flat=True))
                assert row.proposed_by_id not in approvers  # four eyes
                if row.status in (S.APPROVED, S.SCHEDULED):
                    assert signed == set(flow.signers)
                if row.status == S.DRAFT:
                    assert not signed and row.proposed_by_id is None
                if row.status in (S.PUBLISHED, S.SUPERSEDED):
                    assert row.published_at is not None
                    content = {f: getattr(row, f) for f in CONTENT}
                    assert published_content.setdefault(row.pk, content) == content  # never changes
        transaction.set_rollback(True)
