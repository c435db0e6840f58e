"""The notification bell in the navigation bar: the unread count of the user's teams.

Lazy and cheap: nothing runs until a template shows the count, then one bounded COUNT, kept on the
request so several templates rendered for one request share it.
"""

from __future__ import annotations

from functools import cached_property

from scoring.delivery.notifications import UNREAD_CAP, notification_unread_count


class NotificationBell:
    """The user's unread notifications, counted on first use (up to ``UNREAD_CAP``)."""

    def __init__(self, user) -> None:
        self.user = user

    @cached_property
    def unread(self) -> int:
        return notification_unread_count(user=self.user)

    @property
    def unread_display(self) -> str:
        return f"{UNREAD_CAP - 1}+" if self.unread >= UNREAD_CAP else str(self.unread)


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("scoring.view_notification"):
        return {}
    bell = getattr(request, "_notification_bell", None)
    if bell is None:
        bell = request._notification_bell = NotificationBell(user)
    return {"notification_bell": bell}
