"""Keep role groups true whatever path changes teams, memberships or users (services, admin, cascades).

Permissions come from role groups (``revops.permissions``); a group left in place after the membership
or team that granted it changed would keep granting it. Signals cover admin inlines and cascades the
services never see; ``QuerySet.update()`` on these models bypasses them, so nothing here uses it.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import Membership, Team
from .services import user_groups_sync

User = get_user_model()


def _sync(user_id: int | None) -> None:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is not None:  # None: the user itself is being deleted, and its groups with it
        user_groups_sync(user=user)


def _stored(model, pk, field: str):
    """The value of ``field`` in the database before this save (None for a new row)."""
    return model.objects.filter(pk=pk).values_list(field, flat=True).first() if pk else None


@receiver(post_save, sender=Membership, dispatch_uid="revops_membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="revops_membership_deleted")
def membership_changed(sender, instance: Membership, **kwargs) -> None:
    # A team deleted deletes its memberships one by one through the collector: this runs for each.
    _sync(instance.user_id)


@receiver(pre_save, sender=Team, dispatch_uid="revops_team_kind_before")
def team_kind_before(sender, instance: Team, **kwargs) -> None:
    instance._kind_before = _stored(Team, instance.pk, "kind")


@receiver(post_save, sender=Team, dispatch_uid="revops_team_saved")
def team_saved(sender, instance: Team, created: bool, **kwargs) -> None:
    # The kind decides the revenue-operations admin group: members of a team whose kind changed change.
    if not created and getattr(instance, "_kind_before", instance.kind) != instance.kind:
        for user_id in Membership.objects.filter(team=instance).values_list("user_id", flat=True):
            _sync(user_id)


@receiver(pre_save, sender=User, dispatch_uid="revops_user_active_before")
def user_active_before(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and "is_active" not in update_fields:
        instance._active_before = instance.is_active  # e.g. a login's last_login: nothing to check
        return
    instance._active_before = _stored(User, instance.pk, "is_active")


@receiver(post_save, sender=User, dispatch_uid="revops_user_saved")
def user_saved(sender, instance, created: bool, **kwargs) -> None:
    # Deactivated: no groups (no access, no admin); reactivated: the memberships' groups come back.
    before = getattr(instance, "_active_before", instance.is_active)
    if not created and before is not None and before != instance.is_active:
        user_groups_sync(user=instance)
