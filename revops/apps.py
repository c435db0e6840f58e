from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_role_groups(sender, **kwargs) -> None:
    # Runs after each app's permissions exist; cheap and idempotent, so the last run has them all.
    from .permissions import role_groups_sync

    role_groups_sync()


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = "Revenue operations"

    def ready(self) -> None:
        post_migrate.connect(_sync_role_groups, dispatch_uid="revops_role_groups")
        from . import signals  # noqa: F401  (role groups follow teams, memberships and users)
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from .permissions import core_grants

        core_grants()
