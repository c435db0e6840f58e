"""One permission model for the UI, the API and admin.

Roles in teams grant Django permissions through groups; views check those permissions
(``PermissionRequiredMixin`` in the UI, ``RolePermission`` in the API, Django admin natively) and
querysets scope rows with ``for_user``. API tokens narrow their user's permissions to their scopes.
"""

from django.contrib.auth.models import Group, Permission
from rest_framework import permissions

from .choices import Role, TeamKind, TokenScope
from .models import ApiToken

GROUP_VIEWER = "Role: viewer"
GROUP_MEMBER = "Role: member"
GROUP_LEAD = "Role: lead"
GROUP_REVOPS = "Role: revenue operations admin"
# Each role carries everything the one before it carries, and what is granted to it.
ROLES = (GROUP_VIEWER, GROUP_MEMBER, GROUP_LEAD, GROUP_REVOPS)

# What each app grants each role, as ``app_label.codename`` strings: every app registers its own in its
# ``AppConfig.ready`` (``<app>/permissions.py``), so the core names no domain model.
_grants: dict[str, set[str]] = {group: set() for group in ROLES}


def model_perms(app_label: str, models: list[str], actions: list[str]) -> set[str]:
    """``model_perms("accounts", ["contact"], ["view", "add"])`` → {"accounts.view_contact", …}."""
    return {f"{app_label}.{action}_{model}" for model in models for action in actions}


def grants_register(*, viewer=(), member=(), lead=(), revops_admin=()) -> None:
    """Grant permissions to roles (idempotent). A role also has every permission of the roles below it."""
    for group, perms in zip(ROLES, (viewer, member, lead, revops_admin), strict=True):
        _grants[group].update(perms)


def role_permissions() -> dict[str, set[str]]:
    """The permissions each role group carries, as ``app_label.codename`` strings."""
    carried: set[str] = set()
    roles = {}
    for group in ROLES:
        carried = carried | _grants[group]
        roles[group] = set(carried)
    return roles


def core_grants() -> None:
    """The core's own models: teams, memberships, tokens, the audit log, jobs; and sign-in lockouts."""
    grants_register(
        viewer={"revops.view_team", "revops.view_jobrun"},
        member={"revops.add_jobrun"},
        lead={
            "revops.view_membership",
            "revops.view_apitoken",
            "revops.add_apitoken",
            "revops.change_apitoken",
        },
        revops_admin=model_perms(
            "revops", ["team", "membership", "apitoken"], ["add", "change", "delete", "view"]
        )
        | {"revops.view_changerecord", "revops.view_jobrun", "revops.change_jobrun"}
        # Sign-in lockouts (django-axes): see who is locked out, and unlock by deleting the attempts.
        | {"axes.view_accessattempt", "axes.delete_accessattempt"}
        # The periodic tasks' schedule (django-celery-beat): retime, enable and disable the tasks, on the
        # Schedule page or in admin (Periodic tasks); admin retimes a task by picking or adding a schedule.
        # Tasks are made by migrations, never added or deleted by hand.
        | {"django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask"}
        | model_perms(
            "django_celery_beat", ["crontabschedule", "intervalschedule"], ["view", "add", "change"]
        ),
    )


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
    labels = {code.split(".", 1)[0] for codes in wanted.values() for code in codes}  # the apps that grant
    all_perms = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(content_type__app_label__in=labels)
    }
    for group_name, codes in wanted.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set([all_perms[c] for c in sorted(codes) if c in all_perms])


# What a user must hold to give a token each scope beyond read and write: a scope grants access only
# through its user's permissions, so a token is never offered a scope its user could not use. Apps
# register the permissions their scoped endpoints need (the ingest endpoint: adding events).
_scope_needs: dict[str, set[str]] = {}


def token_scope_needs_register(*, scope: str, perms: set[str]) -> None:
    """A user may give a token ``scope`` only if they hold at least one of ``perms`` (idempotent)."""
    _scope_needs.setdefault(scope, set()).update(perms)


def token_scopes_grantable(user) -> list[str]:
    """The scopes ``user`` may give a token they create: read with any view permission, write with any
    add, change or delete permission, and a scope an app registered with one of its permissions."""
    held = user.get_all_permissions() if user is not None and user.is_authenticated else set()
    codenames = [code.split(".", 1)[1] for code in held]
    grantable = []
    for scope in TokenScope.values:
        if scope == TokenScope.READ:
            allowed = any(c.startswith("view_") for c in codenames)
        elif scope == TokenScope.WRITE:
            allowed = any(c.startswith(("add_", "change_", "delete_")) for c in codenames)
        else:
            allowed = bool(_scope_needs.get(scope, set()) & held)
        if allowed:
            grantable.append(scope)
    return grantable


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
