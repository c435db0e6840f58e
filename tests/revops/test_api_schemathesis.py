"""Schemathesis over the whole API: every operation of /api/schema/, called through the WSGI app as a
revenue-operations lead with a token, must never answer 5xx and must answer what the schema says.

Bounded and repeatable: a few examples per operation, a fixed seed, Hypothesis derandomized, no
example database. A small world (accounts, contacts, versions, scores, transitions with and without a
version) is made first so that lists and details return real rows for the response schemas to check.

Long jobs (train, backtest, full rescore, what-if) run in the request in tests (``JOBS_RUN_INLINE``);
on this small world they finish or refuse quickly. Operations that would end the principal itself
(revoking the token it calls with, deleting its team) are repaired after each case rather than excluded.
"""

import datetime
import time
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from config.wsgi import application
from plans.models import RevenuePlan
from playbooks.choices import PlayKind
from playbooks.models import PlayRun, PlayTask
from playbooks.triggers import plays_trigger
from revops import services
from revops.choices import Role, TeamKind, TokenScope
from revops.models import ApiToken, Membership
from scoring.models import Notification, WebhookDelivery, WebhookEndpoint
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    ChannelFactory,
    ContactFactory,
    EngagementEventFactory,
    OpportunityFactory,
    PersonaFactory,
    ProductFactory,
    SalesAgentFactory,
    TechnologyFactory,
)
from tests.playbooks.factories import enter, published_playbook
from tests.revops.factories import TeamFactory, make_member
from tests.scoring.factories import (
    AccountModelScoreFactory,
    BacktestJobFactory,
    BuyingStageTransitionFactory,
    ContactModelScoreFactory,
    ContactScoreFactory,
    LifecycleTransitionFactory,
    QualificationPolicyFactory,
    RulesetFactory,
    ScoringModelFactory,
    WhatIfRunFactory,
)

SEED = 20261206
MAX_EXAMPLES = 5

CONFIG = {
    "seed": SEED,
    "suppress-health-check": ["all"],
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"examples": {"enabled": True}, "fuzzing": {"enabled": True}, "coverage": {"enabled": False}},
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
    },
}


class _Principal:
    """A revenue-operations lead and a token with every scope; made whole again if a case ended them."""

    def __init__(self):
        self.user = make_member(kind=TeamKind.REVENUE_OPERATIONS, role=Role.LEAD)
        self.membership = Membership.objects.get(user=self.user)
        self._new_token()

    def _new_token(self):
        self.token, self.key = services.api_token_create(
            actor=self.user, user=self.user, name="schemathesis", scopes=list(TokenScope.values)
        )

    def ensure(self):
        if not Membership.objects.filter(user=self.user, team__kind=TeamKind.REVENUE_OPERATIONS).exists():
            self.user = type(self.user).objects.get(pk=self.user.pk)
            from revops.models import Team

            team = Team.objects.filter(kind=TeamKind.REVENUE_OPERATIONS).first() or services.team_create(
                actor=None, name="Revenue operations (fuzz)", kind=TeamKind.REVENUE_OPERATIONS
            )
            services.membership_set(actor=None, team=team, user=self.user, role=Role.LEAD)
        if not ApiToken.objects.filter(pk=self.token.pk, revoked_at__isnull=True).exists():
            self._new_token()
        return {"Authorization": f"Token {self.key}"}


def _small_world(user) -> dict[str, int]:
    """A row of every kind the API shows, and the id each path segment's ``{id}`` should name."""
    team = Membership.objects.get(user=user).team
    accounts = [AccountFactory() for _ in range(3)]
    contacts = [ContactFactory(account=account) for account in accounts]
    transition = LifecycleTransitionFactory(contact=contacts[0])
    LifecycleTransitionFactory(contact=contacts[1], ruleset=None)
    ContactScoreFactory(contact=contacts[1])
    AccountModelScoreFactory(account=accounts[1])
    ContactModelScoreFactory(contact=contacts[2])
    endpoint = WebhookEndpoint.objects.create(
        team=team, name="crm", url="https://crm.example.com/hook", secret="s" * 32
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="contact.sql", payload={"a": 1})
    spare_token, _ = services.api_token_create(actor=user, user=user, name="spare", scopes=["read"])
    return {
        "accounts": accounts[0].pk,
        "contacts": contacts[0].pk,
        "personas": PersonaFactory().pk,
        "opportunities": OpportunityFactory(account=accounts[0]).pk,
        "technologies": TechnologyFactory().pk,
        "products": ProductFactory().pk,
        "sales-agents": SalesAgentFactory().pk,
        "events": EngagementEventFactory(account=accounts[0], contact=contacts[0]).pk,
        "channels": ChannelFactory().pk,
        "campaigns": CampaignFactory().pk,
        "teams": TeamFactory(kind=TeamKind.MARKETING).pk,
        "tokens": spare_token.pk,
        "jobs": BacktestJobFactory(created_by=user).pk,
        "backtests": BacktestJobFactory(created_by=user).pk,
        "webhooks": endpoint.pk,
        "webhook-deliveries": delivery.pk,
        "notifications": Notification.objects.create(team=team, kind="contact.sql", title="A").pk,
        "rulesets": RulesetFactory().pk,
        "transitions": transition.pk,
        "whatif": WhatIfRunFactory().pk,
        "stage-transitions": BuyingStageTransitionFactory(account=accounts[2]).pk,
        "models": ScoringModelFactory().pk,
        "policies": QualificationPolicyFactory().pk,
        "contact_id": contacts[1].pk,
        "account_id": accounts[1].pk,
        **_plans_and_plays(user, accounts[1]),
    }


def _plans_and_plays(user, account) -> dict[str, int]:
    """A revenue plan, a published playbook, a play started for ``account`` and its task (the user's)."""
    plan = RevenuePlan.objects.create(
        number=1, name="Q1", period_start=datetime.date(2026, 1, 1), revenue_target=100_000,
        history_start=datetime.date(2025, 1, 1), history_end=datetime.date(2025, 12, 31), created_by=user,
    )  # fmt: skip
    book = published_playbook("decision", {"name": "Call", "kind": PlayKind.MEETING})
    enter(account, "decision")
    plays_trigger()
    run = PlayRun.objects.get(play__playbook=book, account=account)
    PlayTask.objects.filter(run=run).update(assignee=user)
    return {
        "revenue-plans": plan.pk,
        "playbooks": book.pk,
        "play-runs": run.pk,
        "play-tasks": run.tasks.get().pk,
    }


def _path_parameters(operation, ids: dict[str, int]) -> dict[str, int]:
    """Real ids for the operation's path (``/api/rulesets/{id}/…`` → the draft's id), so that positive
    cases read and change rows instead of answering 404."""
    names = {parameter.name for parameter in operation.path_parameters}
    segments = [part for part in operation.path.split("/") if part and not part.startswith("{")]
    values = {}
    resource = next((segment for segment in reversed(segments) if segment in ids), None)
    if "id" in names and resource:
        values["id"] = ids[resource]
    for name in ("contact_id", "account_id"):
        if name in names:
            values[name] = ids[name]
    return values


@pytest.fixture
def principal(db):
    return _Principal()


@pytest.fixture
def world(principal):
    return _small_world(principal.user)


@pytest.fixture
def _keep_test_connection():
    """Django's WSGI handler closes a connection that is not in autocommit at the end of each request;
    the test's transaction is such a connection. Django's own test client disconnects this too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)


def _failure_text(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
    return "; ".join(str(getattr(part, "title", "")) + ": " + str(part).strip()[:600] for part in parts)


def _operation_test(operation, mode, principal, failures: dict, statuses: Counter, path_parameters=None):
    """A Hypothesis test for one operation and generation mode; failures are collected, not raised, so
    that one run reports every distinct problem."""

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        try:
            response = case.call(headers=principal.ensure())
            statuses[response.status_code] += 1
            case.validate_response(response)
        except (AssertionError, BaseExceptionGroup) as exc:
            text = _failure_text(exc)
            failures.setdefault((operation.label, text[:120]), f"{operation.label} [{mode.value}] {text}")

    return run


def test_api_answers_as_its_schema_says(principal, world, _keep_test_connection):
    """Every operation, positive and negative data: no 5xx, and responses the schema declares."""
    schema = _load_schema()
    operations, statuses, failures, seconds = 0, Counter(), {}, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        started = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                # Positive cases name real rows; negative ones any id (a 404 or 400 is their answer).
                ids = _path_parameters(operation, world) if mode is GenerationMode.POSITIVE else None
                _operation_test(operation, mode, principal, failures, statuses, ids)()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, no body): no negative cases.
                assert mode is GenerationMode.NEGATIVE, operation.label
        seconds[operation.label] = time.monotonic() - started
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:8]
    print("slowest:", ", ".join(f"{label} {value:.1f}s" for label, value in slowest))
    cases = sum(statuses.values())
    print(f"schemathesis: {operations} operations, {cases} cases, {len(failures)} distinct failures")
    print("statuses:", ", ".join(f"{code} × {count}" for code, count in sorted(statuses.items())))
    assert operations >= 50, "schemathesis ran (almost) no operation: is /api/schema/ empty?"
    assert not failures, "\n\n".join(failures.values())
    # Positive cases name real rows: a good share of all calls must succeed, or the run proved little.
    assert statuses[200] + statuses[201] + statuses[204] > cases / 6, "few calls succeeded: auth or data?"
