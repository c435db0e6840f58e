"""The import pages: upload → preview (mapping, validation) → progress → result.

Every page needs ``revops.add_jobrun`` (members and above); a user sees their own imports, revenue
operations admins (``revops.change_jobrun``) everyone's. The views call services and render.
"""

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from revops import csvsafe
from revops.models import JobRun

from .forms import ImportMappingForm, ImportUploadForm
from .mappings import KINDS, resolve_mapping
from .services import (
    JOB_KIND_PREFIX,
    MODE_ROWS,
    PREVIEW_ROWS,
    import_confirm,
    import_errors_path,
    import_headers,
    import_job_path,
    import_mapping_set,
    import_preview,
    import_progress,
    import_upload_create,
    report_errors_csv,
)


class ImportAccessMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Login and ``revops.add_jobrun``; jobs scoped to their creator unless the user administers jobs."""

    permission_required = "revops.add_jobrun"
    request: HttpRequest
    kwargs: dict[str, Any]

    def jobs(self) -> QuerySet[JobRun]:
        # The one rule, shared with /api/jobs/: own import jobs; job administrators see all.
        return JobRun.objects.for_user(self.request.user).filter(kind__startswith=JOB_KIND_PREFIX)

    def get_job(self) -> JobRun:
        return get_object_or_404(self.jobs(), pk=self.kwargs["pk"])


class ImportStartView(ImportAccessMixin, View):
    """Choose the kind of data and upload the file; lists the user's recent imports."""

    template_name = "imports/import_start.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(ImportUploadForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(form, status=400)
        job = import_upload_create(
            actor=request.user,
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
            options=form.options(),
        )
        return redirect("imports:import_preview", pk=job.pk)

    def render(self, form: ImportUploadForm, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "kinds": KINDS.values(),
            "recent": self.jobs().select_related("created_by")[:10],
        }
        return render(self.request, self.template_name, context, status=status)


class ImportPreviewView(ImportAccessMixin, View):
    """The first rows, the mapping per column (editable), and a dry run of the whole file."""

    template_name = "imports/import_preview.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        if job.params.get("confirmed"):
            return redirect("imports:import_progress", pk=job.pk)
        return self.render(job)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        if job.params.get("confirmed"):
            return redirect("imports:import_progress", pk=job.pk)
        headers = import_headers(job)
        form = ImportMappingForm(
            request.POST, kind=job.params["kind"], headers=headers, current=job.params.get("mapping", {})
        )
        if not form.is_valid():
            return self.render(job, form=form, status=400)
        mapping, row_by_row = form.mapping(), form.cleaned_data["mode"] == MODE_ROWS
        value_map = form.value_map()
        if "confirm" in request.POST and not resolve_mapping(job.params["kind"], headers, mapping).errors:
            import_confirm(
                job=job, actor=request.user, mapping=mapping, row_by_row=row_by_row, value_map=value_map
            )
            return redirect("imports:import_progress", pk=job.pk)
        import_mapping_set(job=job, mapping=mapping, row_by_row=row_by_row, value_map=value_map)
        return redirect("imports:import_preview", pk=job.pk)

    def render(self, job: JobRun, form: ImportMappingForm | None = None, status: int = 200) -> HttpResponse:
        preview = import_preview(job=job)
        unknown_values = preview["report"]["unknown_values"]
        if form is None:
            form = ImportMappingForm(
                kind=job.params["kind"],
                headers=preview["headers"],
                current=job.params.get("mapping", {}),
                value_map=job.params.get("value_map") or {},
                unknown_values=unknown_values,
                initial={"mode": job.params.get("mode")},
            )
        columns = form.column_fields() if preview["headers"] else []
        context = {
            "job": job,
            "kind": KINDS[job.params["kind"]],
            "form": form,
            "columns": columns,
            "rows": preview["rows"],
            # Cells beyond the header in the rows shown get a column of their own, marked.
            "extra_columns": range(max([len(c) for _, c in preview["rows"]] + [len(columns)]) - len(columns)),
            "report": preview["report"],
            "value_groups": form.value_groups(unknown_values),
            "preview_limit": PREVIEW_ROWS,
        }
        return render(self.request, self.template_name, context, status=status)


class ImportProgressView(ImportAccessMixin, View):
    """A progress bar, refreshed every second (htmx, or a page refresh without it)."""

    template_name = "imports/import_progress.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        if not job.params.get("confirmed"):
            return redirect("imports:import_preview", pk=job.pk)
        if job.finished_at:
            return redirect("imports:import_result", pk=job.pk)
        return render(request, self.template_name, {"job": job, "progress": import_progress(job)})


class ImportStatusView(ImportAccessMixin, View):
    """The progress as an htmx fragment (redirecting to the result when done), or as JSON."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        progress = import_progress(job)
        result_url = reverse("imports:import_result", kwargs={"pk": job.pk})
        if request.headers.get("HX-Request"):
            response = render(request, "imports/_progress.html", {"job": job, "progress": progress})
            if job.finished_at:
                response["HX-Redirect"] = result_url
            return response
        return JsonResponse({**progress, "result_url": result_url if job.finished_at else None})


class ImportResultView(ImportAccessMixin, View):
    """The report: counts, corrections made, and every rejected row with its reason."""

    template_name = "imports/import_result.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        if not job.finished_at:
            return redirect(
                "imports:import_progress" if job.params.get("confirmed") else "imports:import_preview",
                pk=job.pk,
            )
        report = job.result or {}
        context = {"job": job, "kind": KINDS.get(job.params.get("kind")), "report": report}
        return render(request, self.template_name, context)


class ImportErrorsDownloadView(ImportAccessMixin, View):
    """The rejected rows as CSV: row, column, value, reason, then the row as it was."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        errors_path = import_errors_path(job)
        if errors_path is not None:
            # A file written before formula cells were neutralised is made safe on the way out.
            csvsafe.text_safe(errors_path.read_text(encoding="utf-8"), response)
        else:
            report_errors_csv(job.result or {"errors": [], "headers": []}, response)
        return response


class ImportFileDownloadView(ImportAccessMixin, View):
    """The file as it was uploaded."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_job()
        path = import_job_path(job)
        if not path.is_file():
            return HttpResponse("The uploaded file is no longer on this server.", status=404)
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=job.params.get("filename") or path.name
        )
