"""One permission model for the UI, the API and admin.

Roles in teams grant Django permissions through groups; views check those permissions
(``PermissionRequiredMixin`` in the UI, ``RolePermission`` in the API, Django admin natively) and
querysets scope rows with ``for_user``. API tokens narrow their user's permissions to their scopes.
"""

from django.contrib.auth.models import Group, Permission
from rest_framework import permissions

from .choices import Role, TeamKind, TokenScope
from .models import ApiToken

# (app_label, model) pairs that make up the revenue data everyone works on.
BUSINESS_MODELS = [
    ("accounts", "account"),
    ("accounts", "contact"),
    ("accounts", "persona"),
    ("accounts", "technology"),
    ("accounts", "product"),
    ("accounts", "salesagent"),
    ("accounts", "opportunity"),
    ("accounts", "engagementevent"),
    ("accounts", "accountactivitydaily"),
    ("accounts", "contactactivitydaily"),
    ("campaigns", "channel"),
    ("campaigns", "campaign"),
]
# Scoring: what everyone reads; what members edit (drafts, their comments, sales decisions).
SCORING_READ_MODELS = [
    ("scoring", m)
    for m in [
        "ruleset", "rule", "rulesetcomment", "rulesetapproval", "rulesethistory", "contactscore",
        "contactscorehistory", "accountrulescore", "lifecycletransition", "notification",
        "webhookendpoint", "webhookdelivery", "whatifrun",
        # learned scores, their models and the qualification policy versions
        "scoringmodel", "qualificationpolicy", "accountmodelscore", "accountmodelscorehistory",
        "buyingstagetransition", "contactmodelscore",
    ]
]  # fmt: skip
SCORING_MEMBER_EDIT = [
    ("scoring", m)
    for m in ["ruleset", "rule", "rulesetcomment", "lifecycletransition", "whatifrun", "qualificationpolicy"]
]
# What members may create and edit (rollups are derived data: nobody edits them by hand).
EDITABLE_MODELS = [
    m for m in BUSINESS_MODELS if m[1] not in {"accountactivitydaily", "contactactivitydaily", "channel"}
]

GROUP_VIEWER = "Role: viewer"
GROUP_MEMBER = "Role: member"
GROUP_LEAD = "Role: lead"
GROUP_REVOPS = "Role: revenue operations admin"


def _perms(models: list[tuple[str, str]], actions: list[str]) -> set[str]:
    return {f"{app}.{action}_{model}" for app, model in models for action in actions}


def role_permissions() -> dict[str, set[str]]:
    """The permissions each role group carries, as ``app_label.codename`` strings."""
    viewer = _perms(BUSINESS_MODELS + SCORING_READ_MODELS, ["view"]) | {
        "revops.view_team",
        "revops.view_jobrun",
    }
    member = (
        viewer
        | _perms(EDITABLE_MODELS + SCORING_MEMBER_EDIT, ["add", "change"])
        | {"revops.add_jobrun", "scoring.change_notification"}
    )
    lead = (
        member
        | _perms(EDITABLE_MODELS, ["delete"])
        | _perms([("campaigns", "channel")], ["add", "change"])
        | {"revops.view_membership", "revops.view_apitoken", "revops.add_apitoken", "revops.change_apitoken"}
        # Leads approve and publish versions (the services also check marketing/sales and
        # four eyes) and manage their team's webhooks.
        | {"scoring.approve_ruleset", "scoring.publish_ruleset", "scoring.delete_rule"}
        # Policies too (``scoring.policy`` lets only marketing and sales leads use it).
        | {"scoring.publish_qualificationpolicy"}
        | _perms([("scoring", "webhookendpoint")], ["add", "change", "delete"])
    )
    revops_admin = (
        lead
        | _perms(BUSINESS_MODELS, ["add", "change", "delete"])
        | _perms(
            [("revops", "team"), ("revops", "membership"), ("revops", "apitoken")],
            ["add", "change", "delete", "view"],
        )
        | {"revops.view_changerecord", "revops.view_jobrun", "revops.change_jobrun"}
        # Sign-in lockouts (django-axes): see who is locked out, and unlock by deleting the attempts.
        | {"axes.view_accessattempt", "axes.delete_accessattempt"}
        | {"scoring.rescore_contacts"}
        # The scoring outbox: read its parked rows (the error in words) and replay them.
        | {"scoring.view_scoringoutbox", "scoring.change_scoringoutbox"}
        # Learned scores: rescore and retrain, promote or roll back models, own the policy versions.
        | {"scoring.rescore_accounts", "scoring.promote_scoringmodel"}
        | _perms([("scoring", "qualificationpolicy")], ["add", "change", "delete"])
        | {"scoring.publish_qualificationpolicy"}
    )
    return {GROUP_VIEWER: viewer, GROUP_MEMBER: member, GROUP_LEAD: lead, GROUP_REVOPS: revops_admin}


def groups_for(memberships) -> set[str]:
    """Group names a user with these memberships belongs to."""
    names: set[str] = set()
    for membership in memberships:
        names.add(
            {Role.VIEWER: GROUP_VIEWER, Role.MEMBER: GROUP_MEMBER, Role.LEAD: GROUP_LEAD}[membership.role]
        )
        if membership.team.kind == TeamKind.REVENUE_OPERATIONS and membership.role != Role.VIEWER:
            names.add(GROUP_REVOPS)
    return names


def role_groups_sync() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    wanted = role_permissions()
    all_perms = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            content_type__app_label__in={"accounts", "campaigns", "revops", "scoring", "axes"}
        )
    }
    for group_name, codes in wanted.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set([all_perms[c] for c in sorted(codes) if c in all_perms])


def token_allows(token, request, view) -> bool:
    """Whether an API token's scopes cover this request."""
    scopes = set(token.scopes or [])
    needed = getattr(view, "token_scope", None)
    if needed is None:
        needed = TokenScope.READ if request.method in permissions.SAFE_METHODS else TokenScope.WRITE
    return needed in scopes


class RolePermission(permissions.DjangoModelPermissions):
    """Django model permissions (view included for reads), narrowed by the API token's scopes.

    Views that are not plain model CRUD set ``required_permissions`` (and ``token_scope``).
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        token = request.auth if is_api_token(request.auth) else None
        if token is not None and not token_allows(token, request, view):
            self.message = "This API token's scopes do not allow this request."
            return False
        required = getattr(view, "required_permissions", None)
        if required is not None:
            return request.user.has_perms(required)
        return super().has_permission(request, view)


def is_api_token(auth) -> bool:
    """Whether the request was authenticated with an API token (not a session)."""
    return isinstance(auth, ApiToken)
