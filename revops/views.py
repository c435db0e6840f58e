"""Core pages: the dashboard, and the generic list, detail and edit views the app pages extend.

NetBox-style: an app view names its model, FilterSet, columns and template, and inherits the rest.
Every page needs a login and the model's Django permission (the same ones the API checks), and reads
rows through ``Model.objects.for_user(user)``. Writes go through ``revops.services``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from .exceptions import error_text
from .forms import ApiTokenCreateForm, PeriodicTaskForm
from .models import ApiToken
from .panels import panels_context
from .schedule import periodic_task_history, periodic_task_list, periodic_task_update, schedule_in_words
from .services import api_token_create, api_token_revoke, job_not_queued, object_create, object_update


# --- shared bits ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A list column: ``sort`` is the ordering (ascending) it sorts by, or empty if it cannot sort."""

    key: str
    label: str
    sort: tuple[str, ...] = ()
    numeric: bool = False


@dataclass
class NextPreviousPage:
    """One page of a list that never counts the whole result: it fetches ``page_size + 1`` rows and
    only knows whether a next page exists. Lists over 1M contacts stay one indexed query."""

    object_list: list
    number: int
    page_size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.object_list)


def paginate_without_count(queryset: models.QuerySet, *, page: int, page_size: int) -> NextPreviousPage:
    """Rows ``page`` of ``queryset`` (1-based), with no ``COUNT(*)``."""
    offset = (page - 1) * page_size
    rows = list(queryset[offset : offset + page_size + 1])
    return NextPreviousPage(
        object_list=rows[:page_size], number=page, page_size=page_size, has_next=len(rows) > page_size
    )


def positive_int(value: str | None, default: int, maximum: int) -> int:
    """A page or size parameter as a number between 1 and ``maximum`` (``default`` when it is not one)."""
    try:
        number = int(value or default)
    except ValueError:
        return default
    return min(max(number, 1), maximum)


def _ordering(fields: tuple[str, ...], descending: bool) -> list:
    """Ordering expressions with NULLs last in both directions, the same on PostgreSQL and SQLite."""
    return [
        models.F(name).desc(nulls_last=True) if descending else models.F(name).asc(nulls_last=True)
        for name in fields
    ]


# --- generic list, detail and edit -------------------------------------------------------------
def job_start_say(request: HttpRequest, job) -> None:
    """Tell the person who pressed a "start" button what happened when it is not simply "started": the
    same work was already queued or running (they are shown that job: the API answers 409), or the queue
    was down (the job is failed with the reason: the API answers 503)."""
    existing = getattr(job, "existing", False)
    job.refresh_from_db()
    if job_not_queued(job):
        messages.error(request, job.message)
    elif existing:
        messages.info(request, f"The same work is already {job.status} (job #{job.pk}): here it is; "
                      "nothing new was started.")  # fmt: skip


class ObjectListView(PermissionRequiredMixin, TemplateView):
    """A filtered, sortable, paginated list of ``model``, filtered by exactly the API's FilterSet."""

    model: type[models.Model]
    filterset_class: type
    columns: list[Column] = []
    default_sort = ""
    # FilterSet fields shown at once; the rest sit under "More filters".
    primary_filters: list[str] = []
    filter_labels: dict[str, str] = {}
    # Id filters shown as a list to pick from (the filter still takes the id: the API's stays a number).
    filter_choices: dict[str, Any] = {}  # name → method name returning [(id, label), …]
    page_sizes = (25, 50, 100)
    default_page_size = 50
    max_page = 10_000
    template_name = "generic/object_list.html"
    add_url_name = ""

    def get_permission_required(self) -> tuple[str, ...]:
        opts = self.model._meta
        return (f"{opts.app_label}.view_{opts.model_name}",)

    def get_queryset(self) -> models.QuerySet:
        return self.model.objects.for_user(self.request.user)

    def customize_filter_form(self, form) -> None:
        """Presentation only (labels, widgets): the filtering itself is the FilterSet's."""
        for name, label in self.filter_labels.items():
            if name in form.fields:
                form.fields[name].label = label
        for name, method in self.filter_choices.items():
            if name in form.fields:
                choices = [(str(value), text) for value, text in getattr(self, method)()]
                form.fields[name].widget = forms.Select(choices=[("", "Any"), *choices])
        for field in form.fields.values():
            # "Any" reads better than django-filter's "Unknown" and "---------" for "no filter".
            if isinstance(field.widget, forms.NullBooleanSelect):
                field.widget.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]
            elif isinstance(field.widget, forms.SelectMultiple):
                continue
            elif isinstance(field, forms.ModelChoiceField):
                field.empty_label = "Any"
            elif isinstance(field.widget, forms.Select):
                # Only what is rendered changes; the field still validates against its own choices.
                field.widget.choices = [("", "Any"), *[c for c in field.widget.choices if c[0] != ""]]

    def user_choices(self) -> list[tuple[int, str]]:
        """Active users by name: the owner filters."""
        users = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        return [(u.pk, u.get_full_name() or u.get_username()) for u in users]

    def decorate_rows(self, rows: list) -> None:
        """Add per-row extras for the rows of this page only (counts in one grouped query)."""

    def filter_data(self):
        """What the FilterSet reads: the query string (a list with a default filter changes it)."""
        return self.request.GET

    def sort_key(self) -> str:
        requested = self.request.GET.get("sort", "")
        sortable = {c.key for c in self.columns if c.sort}
        return requested if requested.lstrip("-") in sortable else self.default_sort

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = self.request
        filterset = self.filterset_class(self.filter_data(), queryset=self.get_queryset(), request=request)
        self.customize_filter_form(filterset.form)
        # A bad filter value shows its error and no rows, rather than being silently ignored.
        queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()

        sort = self.sort_key()
        if sort:
            column = next(c for c in self.columns if c.key == sort.lstrip("-"))
            queryset = queryset.order_by(
                *_ordering(column.sort, sort.startswith("-")), "-pk" if sort[0] == "-" else "pk"
            )

        page_size = positive_int(request.GET.get("per_page"), self.default_page_size, max(self.page_sizes))
        page_number = positive_int(request.GET.get("page"), 1, self.max_page)
        page = paginate_without_count(queryset, page=page_number, page_size=page_size)
        self.decorate_rows(page.object_list)

        form = filterset.form
        primary = [form[name] for name in self.primary_filters if name in form.fields]
        secondary = [form[name] for name in form.fields if name not in self.primary_filters]
        # "unknown" is the empty choice of a yes/no filter (NullBooleanSelect).
        active_filters = [
            name for name in form.fields if any(v not in ("", "unknown") for v in request.GET.getlist(name))
        ]
        context.update(
            {
                "model_opts": self.model._meta,
                "filterset": filterset,
                "filter_form": form,
                "primary_filters": primary,
                "secondary_filters": secondary,
                "secondary_active": any(f.name in active_filters for f in secondary),
                "active_filter_count": len(active_filters),
                "columns": self.columns,
                "sort": sort,
                "page": page,
                "object_list": page.object_list,
                "page_sizes": self.page_sizes,
                "page_size": page_size,
                "add_url_name": self.add_url_name,
            }
        )
        return context


class ObjectDetailView(PermissionRequiredMixin, TemplateView):
    """One row of ``model`` the user may view; 404 for rows outside their scope."""

    model: type[models.Model]
    template_name = "generic/object_detail.html"
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    edit_url_name = ""

    def get_permission_required(self) -> tuple[str, ...]:
        opts = self.model._meta
        return (f"{opts.app_label}.view_{opts.model_name}",)

    def get_object(self) -> models.Model:
        queryset = self.model.objects.for_user(self.request.user)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        try:
            return queryset.get(pk=self.kwargs["pk"])
        except self.model.DoesNotExist as exc:
            raise Http404(f"No {self.model._meta.verbose_name} with id {self.kwargs['pk']}") from exc

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        self.object = self.get_object()
        opts = self.model._meta
        context.update(
            {
                "object": self.object,
                opts.model_name: self.object,
                "model_opts": opts,
                "edit_url_name": self.edit_url_name,
                "can_change": self.request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"),
            }
        )
        # What apps above this model add to its page (revops.panels), e.g. scores on a contact.
        context.update(panels_context(instance=self.object, user=self.request.user))
        return context


class ObjectEditView(PermissionRequiredMixin, TemplateView):
    """Create (no ``pk``) or edit a row with ``form_class``, writing through the audited services.

    The form validates and hands ``service_data()`` over; it never saves. Model validation errors the
    service raises, and a unique key lost to a concurrent write, come back as form errors.
    """

    model: type[models.Model]
    form_class: type
    template_name = "generic/object_edit.html"
    detail_url_name = ""
    list_url_name = ""
    select_related: tuple[str, ...] = ()

    def get_permission_required(self) -> tuple[str, ...]:
        opts = self.model._meta
        action = "change" if "pk" in self.kwargs else "add"
        return (f"{opts.app_label}.{action}_{opts.model_name}",)

    def get_object(self) -> models.Model | None:
        if "pk" not in self.kwargs:
            return None
        queryset = self.model.objects.for_user(self.request.user, "change").select_related(
            *self.select_related
        )
        try:
            return queryset.get(pk=self.kwargs["pk"])
        except self.model.DoesNotExist as exc:
            raise Http404(f"No {self.model._meta.verbose_name} with id {self.kwargs['pk']}") from exc

    def get_form(self, instance: models.Model | None, data=None):
        return self.form_class(data, instance=instance, user=self.request.user, initial=self.get_initial())

    def get_initial(self) -> dict[str, Any]:
        return {}

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        return self.render_form(self.get_form(self.object))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        form = self.get_form(self.object, data=request.POST)
        if form.is_valid():
            try:
                created = self.object is None
                saved = self.save(form)
                verb = "Created" if created else "Saved"
                messages.success(request, f"{verb} {self.model._meta.verbose_name} “{saved}”.")
                return HttpResponseRedirect(self.success_url(saved))
            except ValidationError as exc:
                if self.object is not None:
                    self.object.refresh_from_db()  # the service assigned the rejected values to it
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, field_errors in errors.items():
                    form.add_error(field if field in form.fields else None, field_errors)
            except IntegrityError:
                form.add_error(
                    None, "Another row was saved with the same unique value meanwhile; check and retry."
                )
        return self.render_form(form, status=400)

    def save(self, form) -> models.Model:
        """Write the form's data through the audited services (a view with its own service overrides it)."""
        if self.object is None:
            return object_create(model=self.model, actor=self.request.user, data=form.service_data())
        return object_update(instance=self.object, actor=self.request.user, data=form.service_data())

    def success_url(self, saved: models.Model) -> str:
        return reverse(self.detail_url_name, kwargs={"pk": saved.pk})

    def render_form(self, form, status: int = 200) -> HttpResponse:
        context = self.get_context_data(form=form, object=self.object, model_opts=self.model._meta)
        context["cancel_url_name"] = self.detail_url_name if self.object is not None else self.list_url_name
        return render(self.request, self.template_name, context, status=status)


# --- API tokens -------------------------------------------------------------------------------
# The key of a token just created, kept in the session for the one page that shows it (then dropped).
TOKEN_KEY_SESSION = "api_token_key_once"


def api_token_list_for(user) -> models.QuerySet:
    """The tokens ``user`` sees, as on the API: their own, or every one for whoever may delete tokens
    (revenue-operations admins)."""
    queryset = ApiToken.objects.for_user(user).select_related("user")
    if not user.has_perm("revops.delete_apitoken"):
        queryset = queryset.filter(user=user)
    return queryset.order_by("-created", "-pk")


class ApiTokenListView(PermissionRequiredMixin, TemplateView):
    """Your API tokens (every token for revenue-operations admins), and a form to create one.

    A new token's key is shown once, on the page the creation redirects to, and never again: only its
    SHA-256 is stored.
    """

    permission_required = ("revops.view_apitoken",)
    template_name = "revops/apitoken_list.html"

    def can_create(self) -> bool:
        return self.request.user.has_perms(["revops.add_apitoken", "revops.change_apitoken"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if "form" not in context and self.can_create():
            context["form"] = ApiTokenCreateForm(user=user)
        context.update(
            tokens=list(api_token_list_for(user)[:500]),
            can_create=self.can_create(),
            sees_all=user.has_perm("revops.delete_apitoken"),
            now=timezone.now(),
        )
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        created = request.session.pop(TOKEN_KEY_SESSION, None)
        response = self.render_to_response(self.get_context_data(created=created))
        if created:
            response["Cache-Control"] = "no-store"  # the key must not be kept by a cache or the back button
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.can_create():
            raise PermissionDenied("Only team leads and revenue operations create API tokens.")
        form = ApiTokenCreateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                token, key = api_token_create(
                    actor=request.user, user=request.user, check_grantable=True, **form.service_data()
                )
            except (PermissionDenied, ValidationError) as exc:
                form.add_error(None, error_text(exc))
            else:
                request.session[TOKEN_KEY_SESSION] = {"id": token.pk, "name": token.name, "key": key}
                return HttpResponseRedirect(reverse("revops:apitoken_list"))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ApiTokenRevokeView(PermissionRequiredMixin, TemplateView):
    """Confirm, then revoke a token you see (POST): requests with it fail from then on."""

    permission_required = ("revops.view_apitoken", "revops.add_apitoken", "revops.change_apitoken")
    template_name = "revops/apitoken_revoke.html"

    def get_token(self) -> ApiToken:
        token = api_token_list_for(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if token is None:
            raise Http404(f"No API token with id {self.kwargs['pk']}")
        return token

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(token=self.get_token(), **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = self.get_token()
        if token.revoked_at is not None:
            messages.info(request, f"“{token.name}” was already revoked.")
        else:
            api_token_revoke(actor=request.user, token=token)
            messages.success(request, f"Revoked “{token.name}”: requests with it are refused from now on.")
        return HttpResponseRedirect(reverse("revops:apitoken_list"))


# --- the periodic tasks' schedule -------------------------------------------------------------
class ScheduleView(PermissionRequiredMixin, TemplateView):
    """The periodic tasks beat runs: what each does, when, whether it is on, and when it last ran."""

    permission_required = ("django_celery_beat.view_periodictask",)
    template_name = "revops/schedule_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["tasks"] = [{"task": task, "when": schedule_in_words(task)} for task in periodic_task_list()]
        context["can_change"] = self.request.user.has_perm("django_celery_beat.change_periodictask")
        return context


class PeriodicTaskEditView(PermissionRequiredMixin, TemplateView):
    """Retime a periodic task, or switch it on or off, with its audited history below."""

    permission_required = ("django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask")
    template_name = "revops/periodictask_edit.html"

    def get_task(self):
        task = periodic_task_list().filter(pk=self.kwargs["pk"]).first()
        if task is None:
            raise Http404(f"No periodic task with id {self.kwargs['pk']}")
        return task

    def render_form(self, task, form, status: int = 200) -> HttpResponse:
        context = self.get_context_data(
            task=task, form=form, when=schedule_in_words(task), history=periodic_task_history(task)
        )
        return self.render_to_response(context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task = self.get_task()
        return self.render_form(task, PeriodicTaskForm(initial=PeriodicTaskForm.initial_for(task)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task = self.get_task()
        form = PeriodicTaskForm(request.POST)
        if form.is_valid():
            try:
                task = periodic_task_update(actor=request.user, task=task, **form.service_data())
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, field_errors in errors.items():
                    form.add_error(field if field in form.fields else None, field_errors)
            else:
                state = "on" if task.enabled else "off"
                messages.success(request, f"“{task.name}” runs {schedule_in_words(task)} ({state}).")
                return HttpResponseRedirect(reverse("revops:schedule"))
        return self.render_form(task, form, status=400)
