"""The rules and lifecycle pages: who may see and do what, the editor (saving, validation errors next to
their field or rule row, a stale save that keeps the user's values and shows the other person's
changes, merging), the workflow buttons, what-if, the funnel, rescoring, and the score and lifecycle
sections of the contact and account pages with the decisions calling the lifecycle services."""

import datetime
import re

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import LifecycleStage
from accounts.ingest import events_ingest
from revops.choices import Role, TeamKind
from revops.services import job_run_finish
from scoring import workflow
from scoring.choices import RulesetStatus
from scoring.models import ContactScore, LifecycleTransition, Rule, RulesetComment, WhatIfRun
from scoring.rescore import rescore_contacts
from scoring.selectors import published_ruleset
from tests.accounts.factories import AccountFactory, ContactFactory
from tests.scoring.factories import (
    AccountRuleScoreFactory,
    ContactScoreFactory,
    ContactScoreHistoryFactory,
    LifecycleTransitionFactory,
    WhatIfRunFactory,
    starter_ruleset,
)

pytestmark = pytest.mark.django_db


# --- fixtures and helpers ---------------------------------------------------------------------------
@pytest.fixture
def live():
    """The starter version shipped by the migration: published, with rules."""
    return starter_ruleset()


@pytest.fixture
def sales_member(user_in):
    return user_in(TeamKind.SALES, Role.MEMBER)


@pytest.fixture
def marketing_lead(user_in):
    return user_in(TeamKind.MARKETING, Role.LEAD)


@pytest.fixture
def sales_lead(user_in):
    return user_in(TeamKind.SALES, Role.LEAD)


@pytest.fixture
def draft(member, live):
    return workflow.ruleset_draft_create(user=member, based_on=live, name="Tighter MQL")


def logged_in(client, user):
    client.force_login(user)
    return client


def form_post_data(form, formset) -> dict:
    """What a browser would submit for the editor as rendered (every field with its shown value)."""
    data: dict = {}
    for bound_form in [form, *formset.forms, formset.management_form]:
        for field in bound_form:
            value = field.value()
            if isinstance(field.field, forms.BooleanField):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = list(value)
            else:
                data[field.html_name] = "" if value is None else str(value)
    return data


def editor_data(client, ruleset) -> dict:
    response = client.get(reverse("scoring:ruleset_edit", kwargs={"pk": ruleset.pk}))
    assert response.status_code == 200
    return form_post_data(response.context["form"], response.context["formset"])


def rule_index(data: dict, name: str) -> int:
    for key, value in data.items():
        match = re.fullmatch(r"rules-(\d+)-name", key)
        if match and value == name:
            return int(match.group(1))
    raise AssertionError(f"no rule row named {name!r}")


def page_urls(draft, live, contact, account, run) -> list[str]:
    return [
        reverse("scoring:ruleset_list"),
        reverse("scoring:ruleset_detail", kwargs={"pk": live.pk}),
        reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk}) + f"?diff={live.pk}",
        reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk}) + f"?run={run.pk}",
        reverse("scoring:whatif_status", kwargs={"pk": run.pk}),
        reverse("scoring:funnel"),
        reverse("accounts:contact_detail", kwargs={"pk": contact.pk}),
        reverse("accounts:account_detail", kwargs={"pk": account.pk}),
    ]


@pytest.fixture
def world(draft, live):
    account = AccountFactory(name="Acme Analytics")
    contact = ContactFactory(account=account, lifecycle_stage=LifecycleStage.MQL)
    ContactScoreFactory(contact=contact)
    ContactScoreHistoryFactory(contact=contact)
    AccountRuleScoreFactory(account=account)
    LifecycleTransitionFactory(contact=contact)
    run = WhatIfRunFactory(ruleset=draft, baseline=live)
    return {"contact": contact, "account": account, "run": run}


# --- who may see and do what ----------------------------------------------------------------------
def test_every_page_renders_for_a_viewer(client, viewer, draft, live, world):
    logged_in(client, viewer)
    for url in page_urls(draft, live, world["contact"], world["account"], world["run"]):
        response = client.get(url)
        assert response.status_code == 200, url


def test_outsiders_get_403_and_anonymous_visitors_the_login_page(client, outsider, draft, live, world):
    urls = page_urls(draft, live, world["contact"], world["account"], world["run"])[:6] + [
        reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}),
        reverse("scoring:whatif_index"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
        assert "/login/" in client.get(url)["Location"]
    logged_in(client, outsider)
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_viewers_may_not_edit_comment_propose_or_decide(client, viewer, draft, world):
    logged_in(client, viewer)
    edit_url = reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk})
    assert client.get(edit_url).status_code == 403
    assert client.post(edit_url, {"revision": "1"}).status_code == 403
    assert client.post(reverse("scoring:ruleset_create"), {}).status_code == 403
    assert (
        client.post(reverse("scoring:ruleset_comment", kwargs={"pk": draft.pk}), {"body": "hi"}).status_code
        == 403
    )
    for action in ("propose", "approve", "publish", "rollback"):
        url = reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": action})
        assert client.post(url).status_code == 403
    url = reverse("scoring:contact_lifecycle", kwargs={"pk": world["contact"].pk, "action": "accept"})
    assert client.post(url).status_code == 403
    assert (
        client.post(reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk}), {"days": 90}).status_code
        == 403
    )
    assert client.post(reverse("scoring:rescore_start")).status_code == 403
    assert RulesetComment.objects.count() == 0
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.DRAFT and draft.revision == 1


def test_viewer_sees_the_pages_without_edit_buttons(client, viewer, draft):
    logged_in(client, viewer)
    html = client.get(reverse("scoring:ruleset_list")).content.decode()
    assert "Tighter MQL" in html and "New draft" not in html and "Rescore all" not in html
    html = client.get(reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk})).content.decode()
    assert 'id="edit-ruleset"' not in html and "Propose for approval" not in html
    assert "Add comment" not in html


def test_the_navigation_has_a_scoring_menu(client, viewer, outsider):
    logged_in(client, viewer)
    html = client.get(reverse("home")).content.decode()
    assert 'id="nav-scoring"' in html
    for name in ("scoring:ruleset_list", "scoring:funnel", "scoring:whatif_index"):
        assert f'href="{reverse(name)}"' in html
    logged_in(client, outsider)
    assert 'id="nav-scoring"' not in client.get(reverse("home")).content.decode()


# --- the versions list and page -------------------------------------------------------------------
def test_rules_page_lists_versions_with_status_live_and_approvals(
    client, member, draft, live, marketing_lead
):
    proposed = workflow.ruleset_draft_create(user=member, based_on=live, name="Proposed one")
    workflow.ruleset_propose(ruleset=proposed, user=member)
    workflow.ruleset_approve(ruleset=proposed, user=marketing_lead)
    logged_in(client, member)
    response = client.get(reverse("scoring:ruleset_list"))
    html = response.content.decode()
    assert response.context["live"] == live
    assert 'data-status="published"' in html and "· live" in html
    assert 'data-status="draft"' in html and 'data-status="proposed"' in html
    assert "✓ Marketing" in html
    assert "New draft" in html


def test_new_draft_copies_the_published_version_and_opens_the_editor(client, member, live):
    logged_in(client, member)
    response = client.post(reverse("scoring:ruleset_create"), {"based_on": live.pk, "name": "Spring rules"})
    new = live.derived.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "scoring:ruleset_edit", kwargs={"pk": new.pk}
    )
    assert new.name == "Spring rules" and new.status == RulesetStatus.DRAFT
    assert new.rules.count() == live.rules.count()


def test_version_page_shows_definition_rules_diff_comments_and_history(client, member, draft, live):
    workflow.ruleset_update(
        ruleset=draft,
        user=member,
        expected_revision=1,
        data={"mql_fit_min": 35},
        rules=[
            {**r, "points": 12.0} if r["name"] == "Pricing page" else r
            for r in _rules(draft)
            if r["name"] != "E-mail click"
        ]
        + [_new_rule("Partner referral", points=7)],
    )
    workflow.ruleset_comment_add(ruleset=draft, user=member, body="Pricing matters more.")
    logged_in(client, member)
    response = client.get(reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk}))
    html = response.content.decode()
    assert response.context["diff_against"] == live  # default: what it was based on
    assert 'id="def-mql-fit">35' in html
    assert 'id="grade-bands"' in html and 'id="sql-checklist"' in html
    assert 'id="fit-rules"' in html and 'id="engagement-rules"' in html
    diff = response.context["diff"]
    assert [s["field"] for s in diff["settings"]] == ["name", "mql_fit_min"]
    assert diff["settings"][1]["old"] == f"{live.mql_fit_min:g}" and diff["settings"][1]["new"] == "35"
    assert [r["name"] for r in diff["rules"]["added"]] == ["Partner referral"]
    assert [r["name"] for r in diff["rules"]["removed"]] == ["E-mail click"]
    assert diff["rules"]["changed"][0]["name"] == "Pricing page"
    assert diff["rules"]["changed"][0]["changes"] == [{"label": "points", "old": "10", "new": "12"}]
    assert "Pricing matters more." in html
    assert "Edited" in html and "Created" in html
    assert 'id="edit-ruleset"' in html and "Propose for approval" in html
    # Any other version can be compared.
    response = client.get(reverse("scoring:ruleset_detail", kwargs={"pk": live.pk}) + f"?diff={draft.pk}")
    assert response.context["diff"]["rules"]["removed"][0]["name"] == "Partner referral"


def _query_count(client, url: str) -> int:
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_rules_and_version_pages_query_counts_do_not_grow(client, member, draft, live, marketing_lead):
    logged_in(client, member)
    list_url = reverse("scoring:ruleset_list")
    detail_url = reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk}) + f"?diff={live.pk}"
    before = (_query_count(client, list_url), _query_count(client, detail_url))
    for i in range(6):
        other = workflow.ruleset_draft_create(user=member, based_on=live, name=f"Another {i}")
        workflow.ruleset_propose(ruleset=other, user=member)
        workflow.ruleset_approve(ruleset=other, user=marketing_lead)
        workflow.ruleset_comment_add(ruleset=draft, user=member, body=f"Comment {i}")
    workflow.ruleset_update(
        ruleset=draft,
        user=member,
        expected_revision=1,
        data={},
        rules=_rules(draft) + [_new_rule(f"Extra {i}") for i in range(8)],
    )
    after = (_query_count(client, list_url), _query_count(client, detail_url))
    assert after == before
    assert after[0] <= 12 and after[1] <= 18


def test_member_adds_a_comment(client, member, draft):
    logged_in(client, member)
    url = reverse("scoring:ruleset_comment", kwargs={"pk": draft.pk})
    response = client.post(url, {"body": "Let us count webinars more."}, follow=True)
    assert RulesetComment.objects.get(ruleset=draft).body == "Let us count webinars more."
    assert "Let us count webinars more." in response.content.decode()


# --- the workflow buttons -------------------------------------------------------------------------
def test_propose_approve_by_both_leads_then_publish(client, member, draft, live, marketing_lead, sales_lead):
    action = lambda name: reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": name})  # noqa: E731
    logged_in(client, member)
    client.post(action("propose"))
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.PROPOSED
    # The proposer may not approve even as a lead: the service says why, as a message.
    logged_in(client, marketing_lead)
    html = client.get(reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk})).content.decode()
    assert ">Approve</button>" in html and "Reject" in html
    client.post(action("approve"))
    logged_in(client, sales_lead)
    response = client.post(action("approve"), follow=True)
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.APPROVED
    html = response.content.decode()
    assert "Publish now" in html and 'id="schedule-form"' in html
    assert "✓ <strong>Marketing</strong>" in html and "✓ <strong>Sales</strong>" in html
    client.post(action("publish"))
    draft.refresh_from_db()
    live.refresh_from_db()
    assert draft.status == RulesetStatus.PUBLISHED and live.status == RulesetStatus.SUPERSEDED
    # The old version can be rolled back to.
    html = client.get(reverse("scoring:ruleset_detail", kwargs={"pk": live.pk})).content.decode()
    assert f"Roll back to v{live.number}" in html
    client.post(reverse("scoring:ruleset_action", kwargs={"pk": live.pk, "action": "rollback"}))
    live.refresh_from_db()
    assert live.status == RulesetStatus.PUBLISHED


def test_approve_is_offered_only_to_leads_who_may_approve(client, user_in, viewer, sales_member, live):
    """Four eyes on the page: the proposer never sees Approve (nor Reject), another marketing lead and a
    sales lead do until they approved, a viewer and a member see no workflow step; the API's refusal
    of the proposer is unchanged."""
    proposer, marketing_2, marketing_3 = (user_in(TeamKind.MARKETING, Role.LEAD) for _ in range(3))
    sales_lead = user_in(TeamKind.SALES, Role.LEAD)
    draft = workflow.ruleset_draft_create(user=proposer, based_on=live, name="Four eyes")
    workflow.ruleset_propose(ruleset=draft, user=proposer)
    url = reverse("scoring:ruleset_detail", kwargs={"pk": draft.pk})

    def page(user) -> str:
        logged_in(client, user)
        return client.get(url).content.decode()

    html = page(proposer)
    assert ">Approve</button>" not in html and 'id="reject-form"' not in html
    assert ">Withdraw</button>" in html  # the proposer may still take it back
    for lead in (marketing_2, sales_lead):
        html = page(lead)
        assert ">Approve</button>" in html and 'id="reject-form"' in html
    for reader in (viewer, sales_member):
        html = page(reader)
        assert ">Approve</button>" not in html and 'id="reject-form"' not in html
        assert "Publish now" not in html and ">Propose for approval</button>" not in html
    assert "Nothing for you to do on this version" in page(viewer)
    workflow.ruleset_approve(ruleset=draft, user=marketing_2)
    assert ">Approve</button>" not in page(marketing_2)  # approved already
    assert ">Approve</button>" not in page(marketing_3)  # marketing has signed; sales has not
    assert ">Approve</button>" in page(sales_lead)
    logged_in(client, proposer)
    response = client.post(
        reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": "approve"}), follow=True
    )
    assert "Four eyes: you proposed" in response.content.decode()
    api = APIClient()
    api.force_authenticate(proposer)
    refused = api.post(f"/api/rulesets/{draft.pk}/approve/", {}, format="json")
    assert refused.status_code == 403 and "Four eyes" in refused.json()["detail"]
    workflow.ruleset_approve(ruleset=draft, user=sales_lead)
    html = page(sales_lead)
    assert "Publish now" in html and ">Approve</button>" not in html
    assert "Publish now" not in page(viewer)


def test_publish_at_a_later_time_schedules_and_reject_needs_a_reason(
    client, member, draft, marketing_lead, sales_lead
):
    workflow.ruleset_propose(ruleset=draft, user=member)
    logged_in(client, sales_lead)
    reject = reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": "reject"})
    response = client.post(reject, {"reason": ""}, follow=True)
    assert "Say why it is rejected" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.PROPOSED
    workflow.ruleset_approve(ruleset=draft, user=marketing_lead)
    workflow.ruleset_approve(ruleset=draft, user=sales_lead)
    at = timezone.localtime() + datetime.timedelta(days=2)
    publish = reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": "publish"})
    response = client.post(publish, {"at": at.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.SCHEDULED
    assert "Scheduled: it goes live on" in response.content.decode()
    response = client.post(publish, {"at": "2001-01-01T10:00"}, follow=True)
    assert "Choose a moment in the future" in response.content.decode()


def test_a_workflow_error_is_shown_as_a_message(client, member, draft):
    Rule.objects.filter(ruleset=draft).delete()
    logged_in(client, member)
    url = reverse("scoring:ruleset_action", kwargs={"pk": draft.pk, "action": "propose"})
    response = client.post(url, follow=True)
    assert "has no rules yet" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == RulesetStatus.DRAFT


# --- the editor -----------------------------------------------------------------------------------
def _rules(ruleset) -> list[dict]:
    from scoring.selectors import ruleset_rules

    return ruleset_rules(ruleset)


def _new_rule(name: str, points: float = 5) -> dict:
    return {
        "name": name,
        "kind": "engagement",
        "event_type": "form_fill",
        "url_pattern": "^/partners",
        "points": points,
        "min_count": 1,
    }


def test_editor_saves_a_threshold_and_a_rules_points(client, member, draft):
    logged_in(client, member)
    data = editor_data(client, draft)
    assert data["revision"] == "1"
    data["mql_fit_min"] = "30"
    data[f"rules-{rule_index(data, 'Pricing page')}-points"] = "14"
    response = client.post(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}), data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    draft.refresh_from_db()
    assert draft.revision == 2 and draft.mql_fit_min == 30
    assert draft.rules.get(name="Pricing page").points == 14
    # Ranges, lists and rule identities survive the round trip.
    size = draft.rules.get(name="Company size 200 to 10,000")
    assert size.value == {"min": 200, "max": 10000}
    assert draft.rules.get(name="Decision-maker seniority").value == ["c_level", "vp", "director"]
    assert draft.rules.count() == published_ruleset().rules.count()


def test_editor_adds_and_removes_rules(client, member, draft):
    logged_in(client, member)
    data = editor_data(client, draft)
    total = int(data["rules-TOTAL_FORMS"])
    data[f"rules-{rule_index(data, 'E-mail click')}-DELETE"] = "on"
    data.update(
        {
            f"rules-{total}-name": "Partner page",
            f"rules-{total}-kind": "engagement",
            f"rules-{total}-event_type": "page_view",
            f"rules-{total}-url_pattern": "^/partners",
            f"rules-{total}-points": "6",
            f"rules-{total}-min_count": "1",
            # A fit value typed in an engagement row is ignored, not an error.
            f"rules-{total}-value": "ignored",
            f"rules-{total + 1}-min_count": "1",  # an empty added row is skipped
            "rules-TOTAL_FORMS": str(total + 2),
        }
    )
    response = client.post(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}), data)
    assert response.status_code == 302
    names = set(draft.rules.values_list("name", flat=True))
    assert "Partner page" in names and "E-mail click" not in names
    assert draft.rules.get(name="Partner page").value is None


def test_add_rule_row_endpoint_returns_a_row_and_the_new_total(client, member):
    logged_in(client, member)
    response = client.get(reverse("scoring:rule_row") + "?index=22&kind=fit")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="rules-22-name"' in html
    assert re.search(r'<option value="fit" selected>', html)
    assert 'id="id_rules-TOTAL_FORMS" value="23" hx-swap-oob="true"' in html
    assert "index=23&amp;kind=fit" in html


def test_validation_errors_appear_next_to_their_field_and_rule_row(client, member, draft):
    logged_in(client, member)
    data = editor_data(client, draft)
    data["fit_grade_a_min"] = str(draft.fit_grade_b_min - 5)  # below grade B: the service refuses
    fit_row = rule_index(data, "Manager seniority")
    data[f"rules-{fit_row}-field"] = "shoe_size"
    response = client.post(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="form-errors"' in html and "Nothing was saved." in html
    assert re.search(r'id="error-fit_grade_a_min">Grade A must start at or above grade B', html)
    row = response.context["formset"].forms[fit_row]
    assert "Unknown field “shoe_size”" in " ".join(row.errors["field"])
    row_html = html[html.index(f'id="rule-{row.prefix}"') :]
    assert row_html.index("Unknown field") < row_html.index("</tbody>")
    # The user's values stay in the form.
    assert response.context["form"]["fit_grade_a_min"].value() == str(draft.fit_grade_b_min - 5)
    draft.refresh_from_db()
    assert draft.revision == 1 and draft.fit_grade_a_min == published_ruleset().fit_grade_a_min


def test_form_level_errors_need_no_service_call(client, member, draft):
    logged_in(client, member)
    data = editor_data(client, draft)
    data[f"rules-{rule_index(data, 'Pricing page')}-points"] = "lots"
    data[f"rules-{rule_index(data, 'Company size 200 to 10,000')}-value"] = "big-ish"
    data["excluded_title_pattern"] = "(unclosed"
    response = client.post(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}), data)
    assert response.status_code == 400
    formset = response.context["formset"]
    assert formset.forms[rule_index(data, "Pricing page")].errors["points"]
    assert "min-max" in formset.forms[rule_index(data, "Company size 200 to 10,000")].errors["value"][0]
    assert "regular expression" in response.context["form"].errors["excluded_title_pattern"][0]


def test_a_stale_save_keeps_the_users_values_and_shows_what_the_other_person_saved(
    client, member, sales_member, draft
):
    logged_in(client, member)
    data = editor_data(client, draft)  # read at revision 1
    # Meanwhile someone else saves: another threshold and a rule's points.
    workflow.ruleset_update(
        ruleset=draft,
        user=sales_member,
        expected_revision=1,
        data={"mql_engagement_min": 45},
        rules=[{**r, "points": 3.0} if r["name"] == "Case studies" else r for r in _rules(draft)],
    )
    data["mql_fit_min"] = "33"
    data[f"rules-{rule_index(data, 'Pricing page')}-points"] = "17"
    url = reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk})
    response = client.post(url, data)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="conflict-panel"' in html and "Nothing of yours was lost" in html
    assert sales_member.username in html  # who saved
    conflict = response.context["conflict"]
    assert [s["field"] for s in conflict["diff"]["settings"]] == ["mql_engagement_min"]
    unchanged = published_ruleset().mql_engagement_min  # the user left it as it was
    assert conflict["diff"]["settings"][0]["mine"] == f"{unchanged:g}"
    assert conflict["diff"]["rules"]["changed"][0]["name"] == "Case studies"
    # The user's unsaved values are still in the form, now against the current revision.
    form, formset = response.context["form"], response.context["formset"]
    assert form["mql_fit_min"].value() == "33"
    assert formset.forms[rule_index(data, "Pricing page")]["points"].value() == "17"
    assert form["revision"].value() == "2"
    assert 'name="revision" value="2"' in html
    draft.refresh_from_db()
    assert draft.revision == 2 and draft.mql_fit_min == 20 and draft.mql_engagement_min == 45

    # Saving again applies the user's values on top of revision 2.
    again = form_post_data(form, formset)
    response = client.post(url, again)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.revision == 3 and draft.mql_fit_min == 33
    assert draft.rules.get(name="Pricing page").points == 17


def test_merge_keeps_the_other_persons_changes_where_the_user_changed_nothing(
    client, member, sales_member, draft
):
    logged_in(client, member)
    data = editor_data(client, draft)
    workflow.ruleset_update(
        ruleset=draft,
        user=sales_member,
        expected_revision=1,
        data={"mql_engagement_min": 45},
        rules=[{**r, "points": 3.0} if r["name"] == "Case studies" else r for r in _rules(draft)],
    )
    data["mql_fit_min"] = "33"
    data[f"rules-{rule_index(data, 'Pricing page')}-points"] = "17"
    url = reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk})
    conflict = client.post(url, data)
    assert 'id="merge-ruleset"' in conflict.content.decode()
    merge_data = form_post_data(conflict.context["form"], conflict.context["formset"])
    merge_data["merge"] = ""
    response = client.post(url, merge_data)
    assert response.status_code == 200
    form, formset = response.context["form"], response.context["formset"]
    assert float(form["mql_fit_min"].value()) == 33  # mine
    assert float(form["mql_engagement_min"].value()) == 45  # theirs
    points = {f["name"].value(): float(f["points"].value()) for f in formset.forms}
    assert points["Pricing page"] == 17 and points["Case studies"] == 3
    draft.refresh_from_db()
    assert draft.revision == 2  # merging does not save
    response = client.post(url, form_post_data(form, formset))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.mql_fit_min, draft.mql_engagement_min, draft.revision) == (33, 45, 3)
    assert draft.rules.get(name="Case studies").points == 3


def test_only_drafts_open_in_the_editor(client, member, live):
    logged_in(client, member)
    response = client.get(reverse("scoring:ruleset_edit", kwargs={"pk": live.pk}), follow=True)
    assert response.redirect_chain[-1][0] == reverse("scoring:ruleset_detail", kwargs={"pk": live.pk})
    assert "only drafts can be edited" in response.content.decode()


# --- what-if, funnel, rescore ------------------------------------------------------------------------
def test_whatif_page_shows_chart_totals_breakdowns_and_contacts(client, viewer, draft, live):
    contact = ContactFactory(first_name="Nora", last_name="New")
    run = WhatIfRunFactory(ruleset=draft, baseline=live)
    run.result = {
        **run.result,
        "newly_qualified": [{**run.result["newly_qualified"][0], "contact_id": contact.pk}],
    }
    run.save()
    logged_in(client, viewer)
    response = client.get(reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk}))
    html = response.content.decode()
    assert response.context["run"] == run
    assert 'id="whatif-chart"' in html and 'id="whatif-chart-data"' in html
    chart = response.context["chart"]
    assert len(chart["labels"]) == 4 and [d["values"] for d in chart["datasets"]][0] == [9, 8, 7, 6]
    totals = {row["key"]: row for row in response.context["total_rows"]}
    assert totals["mql"]["draft"] == 26 and totals["mql"]["baseline"] == 18 and totals["mql"]["delta"] == 8
    assert 'id="whatif-by-channel"' in html and "Inbound" in html and "Mid-market" in html
    assert reverse("accounts:contact_detail", kwargs={"pk": contact.pk}) in html and "opportunity" in html
    assert "scoring/scoring_charts.js" in html
    assert "Run what-if" not in html  # viewers may not start runs


def test_starting_a_whatif_run(client, member, draft, live):
    logged_in(client, member)
    url = reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk})
    response = client.get(url)
    assert response.context["form"]["baseline"].value() == live.pk  # default: the published version
    assert response.context["form"]["days"].value() == 90
    response = client.post(url, {"days": 30, "baseline": live.pk})
    run = WhatIfRun.objects.get(ruleset=draft)
    assert response.status_code == 302 and response["Location"] == f"{url}?run={run.pk}"
    assert run.days == 30 and run.baseline == live
    page = client.get(response["Location"])
    if run.status in ("pending", "running"):
        assert 'id="whatif-progress"' in page.content.decode()
    else:
        run.refresh_from_db()
        assert run.status in ("succeeded", "failed")
    response = client.post(url, {"days": 3, "baseline": live.pk})
    assert response.status_code == 400 and response.context["form"].errors["days"]


def test_whatif_progress_polls_until_done(client, viewer, draft, live):
    run = WhatIfRunFactory(ruleset=draft, baseline=live, status="running", result={})
    logged_in(client, viewer)
    url = reverse("scoring:whatif_status", kwargs={"pk": run.pk})
    html = client.get(reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk})).content.decode()
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html
    assert "HX-Redirect" not in client.get(url, HTTP_HX_REQUEST="true").headers
    run.status = "succeeded"
    run.save()
    response = client.get(url, HTTP_HX_REQUEST="true")
    expected = reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk}) + f"?run={run.pk}"
    assert response["HX-Redirect"] == expected


def test_whatif_index_opens_the_newest_draft(client, viewer, draft):
    logged_in(client, viewer)
    response = client.get(reverse("scoring:whatif_index"))
    assert response["Location"] == reverse("scoring:ruleset_whatif", kwargs={"pk": draft.pk})


def test_funnel_shows_conversion_and_velocity(client, viewer):
    now = timezone.now()
    for i in range(4):
        contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
        LifecycleTransitionFactory(contact=contact, at=now - datetime.timedelta(days=10))
        if i < 2:
            LifecycleTransitionFactory(
                contact=contact,
                from_stage=LifecycleStage.MQL,
                to_stage=LifecycleStage.SAL,
                at=now - datetime.timedelta(days=7),
            )
    logged_in(client, viewer)
    response = client.get(reverse("scoring:funnel"))
    html = response.content.decode()
    step = next(s for s in response.context["steps"] if s["from"] == "mql" and s["to"] == "sal")
    assert step["entered"] == 4 and step["converted"] == 2 and step["rate_percent"] == 50.0
    assert step["median_days"] == 3
    assert 'id="funnel-table"' in html and 'id="funnel-chart"' in html and "MQL → SAL" in html
    response = client.get(reverse("scoring:funnel") + "?since=2030-01-01&until=2020-01-01")
    assert response.context["funnel"] is None and 'id="funnel-errors"' in response.content.decode()
    assert 'id="lifecycle-reasons"' not in response.content.decode()


def test_funnel_page_counts_why_leads_were_rejected_and_recycled(client, viewer, sales_member):
    now = timezone.now()
    for code, decision, days in [
        ("junk", "reject", 3),
        ("junk", "reject", 4),
        ("no_budget", "reject", 5),
        ("timing", "recycle", 6),
        ("junk", "reject", 200),  # outside the default 90 days
        ("", "", 7),  # decided before codes
    ]:
        LifecycleTransitionFactory(
            from_stage=LifecycleStage.MQL,
            to_stage=LifecycleStage.RECYCLED,
            at=now - datetime.timedelta(days=days),
            actor=sales_member,
            decision=decision,
            reason_code=code,
        )
    logged_in(client, viewer)
    html = client.get(reverse("scoring:funnel")).content.decode()
    reject = html[html.index('id="reasons-reject"') :]
    reject = reject[: reject.index("</table>")]
    rows = re.findall(r'data-reason="(\w+)"[^>]*>\s*<td>[^<]+</td>\s*<td class="text-end">(\d+)</td>', reject)
    assert rows[:3] == [("junk", "2"), ("no_budget", "1"), ("not_a_fit", "0")]
    assert "Why leads were rejected" in html and "(3 in the period)" in html and "67%" in reject
    recycle = html[html.index('id="reasons-recycle"') :]
    assert re.search(
        r'data-reason="timing"[^>]*>\s*<td>Bad timing \(come back later\)</td>\s*<td class="text-end">1<',
        recycle,
    )
    assert 'id="reasons-uncoded">1 earlier decision in the period had no reason code' in html


def test_rescore_all_is_offered_to_revops_and_shows_progress(
    client, revops_admin, member, live, django_capture_on_commit_callbacks
):
    logged_in(client, member)
    assert "Rescore all" not in client.get(reverse("scoring:ruleset_list")).content.decode()
    logged_in(client, revops_admin)
    assert "Rescore all" in client.get(reverse("scoring:ruleset_list")).content.decode()
    response = client.post(reverse("scoring:rescore_start"), {"reason": "new firmographics"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    job = page.context["job"]
    html = page.content.decode()
    status_url = reverse("scoring:rescore_status", kwargs={"pk": job.pk})
    assert 'id="rescore-progress"' in html and f'hx-get="{status_url}"' in html  # polls while pending
    assert "new firmographics" in html
    # Asked again while it is pending: that job, nothing new started (one full rescore of the same versions).
    again = client.post(reverse("scoring:rescore_start"))
    assert again["Location"] == response["Location"]
    assert "already pending" in client.get(again["Location"]).content.decode()
    # The job runs once the request's transaction commits (eagerly here); then the polling stops.
    job_run_finish(job=job, ok=False, message="(this test never sent the first one)")
    ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scoring:rescore_start"))
    status = client.get(
        reverse(
            "scoring:rescore_status", kwargs={"pk": int(response["Location"].rstrip("/").split("/")[-1])}
        ),
        HTTP_HX_REQUEST="true",
    )
    html = status.content.decode()
    assert status.status_code == 200 and 'data-finished="true"' in html and "hx-get" not in html
    assert "Succeeded" in html


# --- the contact and account pages -----------------------------------------------------------------
def test_contact_page_shows_grade_explanation_history_and_transitions(client, viewer, live):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL, email="ada@example.org")
    pricing = live.rules.get(name="Pricing page")
    now = timezone.now()
    events_ingest(
        actor=viewer,
        items=[{"message_id": "page-1", "type": "page_view", "occurred_at": now.isoformat(),
                "url": "/pricing", "contact_email": contact.email}],
    )  # fmt: skip
    rescore_contacts(contact_ids=[contact.pk])
    score = ContactScore.objects.get(contact=contact)
    ContactScoreHistoryFactory(contact=contact, fit_grade="C", engagement_grade="3")
    LifecycleTransitionFactory(contact=contact, reason="", rule="MQL thresholds")
    logged_in(client, viewer)
    response = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk}))
    html = response.content.decode()
    assert 'id="score-grade"' in html and f">{score.grade}<" in html
    assert f'id="score-engagement">{score.engagement:g}' in html
    # The explanation is recomputed on read from the day's data the score used: the same numbers.
    rows = response.context["score_explanation"]
    assert {"rule_id": pricing.pk, "name": "Pricing page", "kind": "engagement"} in [
        {key: row[key] for key in ("rule_id", "name", "kind")} for row in rows
    ]
    assert response.context["score_explanation_current"] and 'id="score-explanation-pending"' not in html
    assert 'id="score-history"' in html and "C3" in html
    assert 'id="lifecycle-transitions"' in html and "rule “MQL thresholds”" in html
    assert f"v{live.number}" in html
    assert 'id="lifecycle-actions"' not in html  # a viewer decides nothing


def test_contact_page_says_when_a_score_waits_for_its_rescore(client, viewer, live):
    contact = ContactFactory(email="grace@example.org")
    ContactScoreFactory(contact=contact, fit=99, engagement=99)  # not what the rules give this contact
    logged_in(client, viewer)
    response = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk}))
    assert response.context["score_explanation_current"] is False
    assert 'id="score-explanation-pending"' in response.content.decode()


def test_contact_page_shows_an_exclusion(client, viewer):
    contact = ContactFactory()
    ContactScoreFactory(contact=contact, excluded="Free-mail address", fit_grade="C", engagement_grade="3")
    logged_in(client, viewer)
    html = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    assert 'id="score-excluded">Excluded: Free-mail address' in html


def test_contact_page_says_the_fast_track_action_and_automatic_reasons_in_words(client, viewer):
    contact = ContactFactory()
    ContactScoreFactory(contact=contact, fast_track="demo_request")
    LifecycleTransitionFactory(
        contact=contact, rule="MQL definition", reason="fit 45 ≥ 40 and engagement 21.4421 ≥ 20"
    )
    logged_in(client, viewer)
    html = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    assert '<span class="badge text-bg-success">Fast track</span> Demo request</div>' in html
    assert "demo_request" not in html
    assert "fit 45 ≥ 40 and engagement 21.4 ≥ 20" in html and "21.4421" not in html


def test_contact_page_query_count_does_not_grow_with_history(client, sales_member):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    ContactScoreFactory(contact=contact)
    logged_in(client, sales_member)
    url = reverse("accounts:contact_detail", kwargs={"pk": contact.pk})
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for i in range(25):
        ContactScoreHistoryFactory(contact=contact, scored_at=timezone.now() - datetime.timedelta(hours=i))
        LifecycleTransitionFactory(contact=contact, actor=sales_member)
    with CaptureQueriesContext(connection) as after:
        response = client.get(url)
    assert len(response.context["scoring"].history) == 20
    assert len(after.captured_queries) == len(before.captured_queries)
    assert len(after.captured_queries) <= 22


def test_sales_member_accepts_an_mql(client, sales_member, live):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    logged_in(client, sales_member)
    page = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk}))
    html = page.content.decode()
    assert page.context["scoring"].actions == ["accept", "reject", "recycle"]
    assert 'id="lifecycle-accept"' in html and "Accept (MQL → SAL)" in html
    url = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "accept"})
    response = client.post(url, {"reason": "Talked to her"}, follow=True)
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.SAL
    transition = LifecycleTransition.objects.get(contact=contact)
    assert (transition.from_stage, transition.to_stage, transition.actor) == ("mql", "sal", sales_member)
    assert transition.reason == "Talked to her" and transition.ruleset == live
    html = response.content.decode()
    assert "is a sales-accepted lead" in html
    assert "Talked to her" in html and response.context["scoring"].actions == ["qualify", "reject", "recycle"]


def test_qualify_needs_every_checklist_item(client, sales_member, live):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.SAL)
    logged_in(client, sales_member)
    html = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    for item in live.sql_checklist:
        assert item in html
    url = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "qualify"})
    response = client.post(url, {"check_0": "on"}, follow=True)
    assert "Confirm every item of the SQL checklist" in response.content.decode()
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.SAL
    checks = {f"check_{i}": "on" for i in range(len(live.sql_checklist))}
    client.post(url, {**checks, "reason": "Budget for Q3"})
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.SQL
    transition = LifecycleTransition.objects.get(contact=contact)
    assert transition.checklist == {item: True for item in live.sql_checklist}


def test_reject_recycle_and_reopen(client, sales_member):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    logged_in(client, sales_member)
    reject = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "reject"})
    response = client.post(reject, {"reason": "Student", "outcome": "disqualify"}, follow=True)
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1 and "Choose a reason code: one of not_a_fit" in errors[0], errors
    response = client.post(reject, {"reason_code": "nurture", "outcome": "disqualify"}, follow=True)
    assert "“nurture” is not a reject reason" in response.content.decode()
    response = client.post(reject, {"reason_code": "other", "outcome": "disqualify"}, follow=True)
    assert "the reason code is “other”" in response.content.decode()
    assert not LifecycleTransition.objects.filter(contact=contact).exists()
    client.post(reject, {"reason_code": "junk", "reason": "Student", "outcome": "disqualify"})
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.DISQUALIFIED
    html = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    assert 'id="lifecycle-reopen"' in html and 'id="lifecycle-accept"' not in html
    assert 'data-reason-code="junk">Junk (job seeker, student, vendor, spam)</span> Student' in html
    reopen = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "reopen"})
    client.post(reopen, {"reason": "Graduated, now a buyer"})
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.LEAD
    # A wrong stage: the service's message, nothing changes.
    recycle = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "recycle"})
    response = client.post(recycle, {"reason_code": "timing", "reason": "Not now"}, follow=True)
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1 and "contacts can be recycled" in errors[0], errors
    assert list(
        LifecycleTransition.objects.filter(contact=contact)
        .order_by("at", "id")
        .values_list("to_stage", flat=True)
    ) == ["disqualified", "lead"]


def test_recycle_form_offers_the_recycle_codes_and_records_the_choice(client, sales_member):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.SQL)
    logged_in(client, sales_member)
    page = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    recycle_form = page[page.index('id="lifecycle-recycle"') :]
    recycle_form = recycle_form[: recycle_form.index("</form>")]
    assert 'name="reason_code"' in recycle_form and '<option value="no_response">No response</option>' in (
        recycle_form
    )
    assert 'value="junk"' not in recycle_form  # a reject code
    url = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "recycle"})
    response = client.post(url, {"reason_code": "", "reason": "Later"}, follow=True)
    assert "Choose a reason code: one of no_response" in response.content.decode()
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.SQL
    client.post(url, {"reason_code": "stalled"})
    transition = LifecycleTransition.objects.get(contact=contact)
    assert (transition.to_stage, transition.decision, transition.reason_code, transition.reason) == (
        "recycled",
        "recycle",
        "stalled",
        "",
    )


def test_marketing_members_see_no_lifecycle_buttons_and_are_refused(client, member):
    contact = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    logged_in(client, member)
    html = client.get(reverse("accounts:contact_detail", kwargs={"pk": contact.pk})).content.decode()
    assert 'id="lifecycle"' in html and 'id="lifecycle-actions"' not in html
    url = reverse("scoring:contact_lifecycle", kwargs={"pk": contact.pk, "action": "accept"})
    response = client.post(url, follow=True)
    assert "Only members and leads of a sales" in response.content.decode()
    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.MQL


def test_account_page_shows_the_rolled_up_score(client, viewer, live):
    account = AccountFactory()
    AccountRuleScoreFactory(account=account, fit=45, engagement=70, anonymous_engagement=12)
    logged_in(client, viewer)
    response = client.get(reverse("accounts:account_detail", kwargs={"pk": account.pk}))
    html = response.content.decode()
    assert 'id="account-rule-score"' in html and ">A1<" in html
    assert 'id="account-anonymous">12' in html and "Pricing page (anonymous)" in html
    assert f"v{live.number}" in html
    other = AccountFactory()
    html = client.get(reverse("accounts:account_detail", kwargs={"pk": other.pk})).content.decode()
    assert 'id="account-rule-score"' in html and "Not scored yet." in html


def test_the_account_score_names_its_best_fitting_contact(client, viewer, live):
    account = AccountFactory()
    best = ContactFactory(account=account, first_name="Grace", last_name="Hopper")
    AccountRuleScoreFactory(
        account=account,
        explanation=[
            [None, "Pricing page (anonymous)", 12.0],
            [None, f"Best-fitting contact #{best.pk}", 40.0],
        ],
    )
    logged_in(client, viewer)
    response = client.get(reverse("accounts:account_detail", kwargs={"pk": account.pk}))
    rows = response.context["score_explanation"]
    assert [(r["name"], r["points"], r.get("url"), r["kind"]) for r in rows] == [
        (
            "Best-fitting contact: Grace Hopper",
            40.0,
            reverse("accounts:contact_detail", kwargs={"pk": best.pk}),
            "fit",
        ),
        ("Pricing page (anonymous)", 12.0, None, ""),
    ]
    assert (
        f'<a href="/accounts/contacts/{best.pk}/">Best-fitting contact: Grace Hopper</a>'
        in response.content.decode()
    )


def test_the_rule_editor_suggests_the_fields_a_rule_can_test(client, member, draft):
    """The field of a rule is typed, with the known paths suggested — each one the validation accepts."""
    from scoring.workflow import field_path_error

    logged_in(client, member)
    response = client.get(reverse("scoring:ruleset_edit", kwargs={"pk": draft.pk}))
    html = response.content.decode()
    paths = response.context["rule_field_paths"]
    assert {"seniority", "persona", "account.industry", "account.technologies"} <= set(paths)
    assert all(field_path_error(p) is None for p in paths if not p.endswith("."))
    assert '<datalist id="rule-field-paths">' in html and '<option value="account.employee_count">' in html
    assert 'list="rule-field-paths"' in html
