"""Row scoping shared by the UI, the API and admin (NetBox's RestrictedQuerySet idea)."""

from django.db import models
from django.db.models import Q


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


# Import jobs carry their file's rows (rejected rows as they were): only their creator and whoever
# administers jobs see them. Other jobs (rescores, trainings, backtests) are shared work that every
# viewer follows, as on their pages.
IMPORT_JOB_KIND_PREFIX = "import:"  # imports.services.JOB_KIND_PREFIX (a test holds them equal)


class JobRunQuerySet(RestrictedQuerySet):
    def for_user(self, user, action: str = "view") -> "JobRunQuerySet":
        qs = super().for_user(user, action)
        if user is None or not user.is_authenticated or user.has_perm("revops.change_jobrun"):
            return qs
        return qs.filter(~Q(kind__startswith=IMPORT_JOB_KIND_PREFIX) | Q(created_by=user))
