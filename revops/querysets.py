"""Row scoping shared by the UI, the API and admin (NetBox's RestrictedQuerySet idea)."""

from django.db import models


class RestrictedQuerySet(models.QuerySet):
    def for_user(self, user, action: str = "view") -> "RestrictedQuerySet":
        """Rows ``user`` may ``action`` (view, change, delete).

        Every team shares one view of the revenue data, so scoping is by permission: a user with the
        model's permission sees all rows, anyone else none. Finer scoping plugs in here.
        """
        if user is None or not user.is_authenticated:
            return self.none()
        opts = self.model._meta
        if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
            return self
        return self.none()
