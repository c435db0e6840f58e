"""Row scoping shared by the UI, the API and admin (NetBox's RestrictedQuerySet idea)."""

from django.core.exceptions import EmptyResultSet, FullResultSet
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


class NotAmong(models.Expression):
    """The outer row's ``field`` is not among the values of ``rows`` (a one-column queryset).

    ``~Exists(rows.filter(col=OuterRef(…)))`` lets PostgreSQL probe ``rows``' index once per outer row
    until a page is full: cheap while most outer rows qualify, a walk of the whole table when almost
    none do (``?not_segment=`` of a segment holding every account: 100,000 probes, ~85 ms). Here the
    rows sit behind ``OFFSET 0``, which keeps the planner from pushing the outer row into them: it reads
    them once and hashes them (~25 ms for 100,000). ``NOT IN`` would hash them too, but only while they
    fit in ``work_mem``; past that it rescans them for every outer row. Same rows either way."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, field: str, rows: models.QuerySet):
        super().__init__(output_field=models.BooleanField())
        self.rows, self.outer = rows.order_by(), models.F(field)  # no ordering: a set

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.outer = self.outer.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return resolved

    def get_source_expressions(self):
        return [self.outer]

    def set_source_expressions(self, exprs):
        (self.outer,) = exprs

    def as_sql(self, compiler, connection):
        outer_sql, outer_params = compiler.compile(self.outer)
        try:
            rows_sql, rows_params = self.rows.query.get_compiler(connection=connection).as_sql()
        except EmptyResultSet:  # among no rows: every outer row qualifies
            raise FullResultSet from None
        fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
        (field,) = self.rows.query.values_select
        value = connection.ops.quote_name(self.rows.model._meta.get_field(field).column)
        sql = f"NOT EXISTS (SELECT 1 FROM ({rows_sql}{fence}) AS among WHERE among.{value} = {outer_sql})"
        return sql, (*rows_params, *outer_params)
