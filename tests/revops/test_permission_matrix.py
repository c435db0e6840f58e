"""Every unsafe API endpoint × every kind of caller: no call succeeds that its permissions do not allow.

The endpoints come from the URL conf (every DRF view under ``/api/``, each viewset route with its
methods and ``@action``s), so a new endpoint is covered without writing its row. The callers: a viewer,
member and lead of each kind of team, a user in no team, an anonymous caller, and API tokens (read,
write, ingest; a revenue-operations lead's read-only and write+ingest tokens). What each call may do is
derived, not listed: the permissions the view requires (its ``required_permissions`` for the action, else
the model permission of ``RolePermission.perms_map``) held by the user, and for a token the scope rule
(the view's ``token_scope``, else ``write`` for an unsafe method).

A call not allowed must answer 401, 403 or 404 and write nothing (no ``ChangeRecord``). A call allowed
must not be refused by the permission layer itself (401, or 403 with DRF's or the token's message);
the services may still refuse it for their own reasons (four eyes, stage, team), with their own words.
No call may answer a server error.
Every call runs in a savepoint that is rolled back, so the world is built once for all of them.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from accounts.models import Contact
from revops import services
from revops.choices import Role, TeamKind, TokenScope
from revops.models import ChangeRecord, Team
from revops.permissions import RolePermission
from scoring import policy as policies
from scoring.models import Notification, WebhookEndpoint
from tests.accounts.factories import (
    AccountFactory,
    CampaignFactory,
    ContactFactory,
    OpportunityFactory,
    PersonaFactory,
    ProductFactory,
    SalesAgentFactory,
    TechnologyFactory,
)
from tests.revops.factories import UserFactory, make_member
from tests.scoring.factories import RulesetFactory, ScoringModelFactory

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")
# What the permission layer says when it refuses; a service refusing for its own reason says more.
LAYER_REFUSALS = {
    "You do not have permission to perform this action.",
    "This API token's scopes do not allow this request.",
    "Authentication credentials were not provided.",
}
# Inputs (not expectations): a plausible body per route, so that allowed calls can really succeed.
BODIES = {
    "accounts": {"name": "Matrix Co", "domain": "matrix.example"},
    "contacts": {"email": "someone@matrix.example"},
    "personas": {"name": "Matrix persona"},
    "technologies": {"name": "MatrixTech", "category": "CRM"},
    "teams": {"name": "Matrix team", "kind": TeamKind.SALES},
    "members": {"user": "matrix-outsider", "role": Role.MEMBER},
    "tokens": {"name": "matrix", "scopes": [TokenScope.READ, TokenScope.WRITE, TokenScope.INGEST]},
    "comments": {"body": "From the matrix."},
    "reject": {"reason": "From the matrix."},
    "recycle": {"reason": "From the matrix."},
    "reopen": {"reason": "From the matrix."},
}


@dataclass(frozen=True)
class Endpoint:
    route: str  # the pattern, for messages
    name: str
    callback: object
    method: str
    kwarg_names: tuple[str, ...]

    @property
    def view_class(self) -> type[APIView]:
        return self.callback.cls

    @property
    def action(self) -> str | None:
        actions = getattr(self.callback, "actions", None)
        return actions.get(self.method) if actions else None


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def unsafe_endpoints() -> list[Endpoint]:
    """Every (route, unsafe method) of a DRF view under /api/, from the URL conf."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if cls is None or not issubclass(cls, APIView) or not route.lstrip("^").startswith("api/"):
            continue
        if "(?P<format>" in route or pattern.name is None:
            continue  # the same view with a format suffix
        actions = getattr(pattern.callback, "actions", None)
        methods = [m for m in actions if m in UNSAFE] if actions else [m for m in UNSAFE if hasattr(cls, m)]
        kwargs = tuple(re.findall(r"\(\?P<(\w+)>", route) + re.findall(r"<(?:\w+:)?(\w+)>", route))
        found += [Endpoint(route, pattern.name, pattern.callback, m, kwargs) for m in methods]
    return found


@dataclass
class Principal:
    label: str
    user: object = None
    token: object = None
    key: str = ""

    def client(self) -> APIClient:
        client = APIClient()
        if self.key:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.key}")
        elif self.user is not None:
            client.force_login(self.user)
        return client


def principals() -> list[Principal]:
    people = [
        Principal(f"{role} of {kind}", make_member(kind=kind, role=role, username=f"m-{kind}-{role}"))
        for kind in TeamKind.values
        for role in Role.values
    ]
    people += [Principal("outsider", UserFactory(username="matrix-outsider")), Principal("anonymous")]
    tokens = [
        (f"{TeamKind.MARKETING}-{Role.LEAD}", [TokenScope.READ]),
        (f"{TeamKind.MARKETING}-{Role.LEAD}", [TokenScope.WRITE]),
        (f"{TeamKind.MARKETING}-{Role.LEAD}", [TokenScope.INGEST]),
        (f"{TeamKind.REVENUE_OPERATIONS}-{Role.LEAD}", [TokenScope.READ]),
        (f"{TeamKind.REVENUE_OPERATIONS}-{Role.LEAD}", [TokenScope.WRITE, TokenScope.INGEST]),
    ]
    for owner, scopes in tokens:
        user = next(p.user for p in people if p.user is not None and p.user.username == f"m-{owner}")
        token, key = services.api_token_create(actor=user, user=user, name="matrix", scopes=scopes)
        people.append(Principal(f"token {'+'.join(scopes)} of {owner}", user, token, key))
    return people


def world(marketing_lead) -> None:
    """One row of every model a detail route may name (the first of each is used)."""
    contact = ContactFactory(account=AccountFactory())
    PersonaFactory()
    OpportunityFactory(account=contact.account)
    TechnologyFactory()
    ProductFactory()
    SalesAgentFactory()
    CampaignFactory()
    RulesetFactory()
    ScoringModelFactory()
    policies.policy_draft_create(user=marketing_lead)
    team = Team.objects.get(kind=TeamKind.MARKETING)
    WebhookEndpoint.objects.create(team=team, name="m", url="http://127.0.0.1:9/hook", secret="s" * 32)
    Notification.objects.create(team=team, kind="mql", title="Matrix", contact=contact)


def _view(endpoint: Endpoint, user, url: str, kwargs: dict):
    """The view as DRF would set it up for this call (action, request, kwargs), before any check."""
    view = endpoint.view_class(**endpoint.callback.initkwargs)
    view.action_map = getattr(endpoint.callback, "actions", None) or {}
    view.args, view.kwargs, view.format_kwarg, view.headers = (), kwargs, None, {}
    django_request = APIRequestFactory().generic(endpoint.method.upper(), url)
    view.request = Request(django_request)
    view.request.user = user
    view.action = endpoint.action
    return view


def required_permissions(endpoint: Endpoint, user, url: str, kwargs: dict) -> tuple[list[str], object]:
    """What the view requires for this method and action, and the view (for its token scope)."""
    view = _view(endpoint, user, url, kwargs)
    checks = view.get_permissions()
    assert any(isinstance(c, RolePermission) for c in checks), f"{endpoint.route} skips RolePermission"
    required = getattr(view, "required_permissions", None)
    if required is None:
        model = view.get_queryset().model
        required = RolePermission().get_required_permissions(endpoint.method.upper(), model)
    return list(required), view


def allowed(principal: Principal, perms: set[str], required: list[str], view, method: str) -> bool:
    """The rule the product promises: the user's permissions, narrowed by the token's scopes."""
    if principal.user is None or not set(required) <= perms:
        return False
    if principal.token is not None:
        needed = getattr(view, "token_scope", None) or (
            TokenScope.READ if method == "get" else TokenScope.WRITE
        )
        return needed in principal.token.scopes
    return True


def _url_and_kwargs(endpoint: Endpoint, ids: dict[str, int]) -> tuple[str, dict]:
    from django.urls import reverse

    kwargs = {name: str(ids.get(name, ids["pk"])) for name in endpoint.kwarg_names}
    return reverse(endpoint.name, kwargs=kwargs), kwargs


def _detail_id(endpoint: Endpoint, user) -> int:
    """The first row of the model the route works on (999999: none, the call can only 404)."""
    if not endpoint.kwarg_names:
        return 0
    if "contact_id" in endpoint.kwarg_names:
        return Contact.objects.order_by("pk").values_list("pk", flat=True).first()
    view = _view(endpoint, user, "/", {})
    model = getattr(view, "queryset", None)
    model = model.model if model is not None else view.get_queryset().model
    return model._default_manager.order_by("pk").values_list("pk", flat=True).first() or 999999


def test_every_unsafe_endpoint_by_every_caller_allows_only_what_its_permissions_allow(monkeypatch):
    started = time.monotonic()
    monkeypatch.setattr(APIView, "check_throttles", lambda self, request: None)  # 1,800 calls: not abuse
    monkeypatch.setattr(logging.getLogger("django.request"), "disabled", True)  # a warning per 4xx
    people = principals()
    revops_lead = next(p.user for p in people if p.label == f"{Role.LEAD} of {TeamKind.REVENUE_OPERATIONS}")
    world(next(p.user for p in people if p.label == f"{Role.LEAD} of {TeamKind.MARKETING}"))
    endpoints = unsafe_endpoints()
    clients = {p.label: p.client() for p in people}
    # Every call is rolled back, so what each user holds is read once.
    perms = {p.label: p.user.get_all_permissions() if p.user else set() for p in people}
    failures, counts = [], {"allowed": 0, "refused": 0}
    for endpoint in endpoints:
        ids = {"pk": _detail_id(endpoint, revops_lead)}
        ids["contact_id"] = ids["pk"]
        url, kwargs = _url_and_kwargs(endpoint, ids)
        last = [part for part in url.strip("/").split("/") if not part.isdigit()][-1]
        body = BODIES.get(last, {})
        # The requirement is the view's, whoever calls (views that vary by user would show it here).
        required, view = required_permissions(endpoint, revops_lead, url, kwargs)
        for principal in people:
            may = allowed(principal, perms[principal.label], required, view, endpoint.method)
            with transaction.atomic():
                records = ChangeRecord.objects.count()
                response = getattr(clients[principal.label], endpoint.method)(url, body, format="json")
                wrote = ChangeRecord.objects.count() != records
                transaction.set_rollback(True)
            status = response.status_code
            detail = (
                response.json().get("detail", "")
                if response.get("Content-Type", "").startswith("application/json")
                and isinstance(response.json(), dict)
                else ""
            )
            case = (
                f"{endpoint.method.upper()} {url} as {principal.label} (needs {required}): {status} {detail}"
            )
            counts["allowed" if may else "refused"] += 1
            if not may and (status not in (401, 403, 404) or wrote):
                failures.append(f"UNAUTHORISED SUCCESS {case}")
            if may and (status == 401 or (status == 403 and str(detail) in LAYER_REFUSALS)):
                failures.append(f"WRONGLY REFUSED {case}")
            if status >= 500:
                failures.append(f"SERVER ERROR {case}")
    size = len(endpoints) * len(people)
    print(
        f"\npermission matrix: {len(endpoints)} unsafe endpoints x {len(people)} callers = {size} calls "
        f"({counts['allowed']} allowed, {counts['refused']} refused) in {time.monotonic() - started:.1f} s"
    )
    assert not failures, "\n".join(failures[:50])
    assert len(endpoints) >= 70 and len(people) == 22  # the walk found the API, not a fragment of it


def test_the_walk_finds_the_endpoints_of_the_issue():
    found = {(e.name, e.method) for e in unsafe_endpoints()}
    for name, method in [
        ("contact-detail", "patch"),
        ("apitoken-list", "post"),
        ("team-detail", "delete"),
        ("team-set-member", "post"),
        ("qualificationpolicy-detail", "patch"),
        ("events-batch", "post"),
        ("lifecycle-contact-qualify", "post"),
    ]:
        assert (name, method) in found, (name, method)
