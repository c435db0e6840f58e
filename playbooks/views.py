"""Web pages for playbooks: the list by stage (and a new one), a playbook (its plays, how their runs went,
the workflow whose buttons show only what the reader may do), the editor, the plays due for me or my team
(done or skipped here), and a play's audience as CSV. Thin: selectors read, services write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from revops import csvsafe
from revops.exceptions import WorkflowError, error_text
from scoring.choices import BuyingStage

from . import selectors, services
from .choices import TaskStatus
from .forms import PlaybookCreateForm, PlaybookEditForm, PlayFormSet, plays_from_formset
from .models import Playbook

MAX_TASKS = 200


def _playbook(request: HttpRequest, pk: int) -> Playbook:
    try:
        return selectors.playbook_get(user=request.user, pk=pk)
    except ObjectDoesNotExist:
        raise Http404("No such playbook.") from None


class PlaybookListView(PermissionRequiredMixin, TemplateView):
    permission_required = "playbooks.view_playbook"
    template_name = "playbooks/playbook_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        books = list(selectors.playbook_list(user=self.request.user))
        by_stage = [
            (stage, label, [b for b in books if b.stage == stage]) for stage, label in BuyingStage.choices
        ]
        context.update(
            {
                "by_stage": by_stage,
                "create_form": PlaybookCreateForm(),
                "can_create": self.request.user.has_perm("playbooks.add_playbook"),
            }
        )
        return context


class PlaybookCreateView(PermissionRequiredMixin, View):
    permission_required = "playbooks.add_playbook"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PlaybookCreateForm(request.POST)
        based_on = None
        if (request.POST.get("based_on") or "").isdigit():
            based_on = _playbook(request, int(request.POST["based_on"]))
        if not form.is_valid():
            messages.error(request, "Choose a stage.")
            return redirect("playbooks:playbook_list")
        try:
            book = services.playbook_draft_create(
                user=request.user,
                stage=form.cleaned_data["stage"],
                segment=form.cleaned_data["segment"],
                based_on=based_on,
            )
        except (ValidationError, PermissionDenied, WorkflowError) as exc:
            messages.error(request, error_text(exc))
            return redirect("playbooks:playbook_list")
        messages.success(request, f"Draft v{book.number} of the {book.scope_label} playbook created.")
        return redirect("playbooks:playbook_edit", pk=book.pk)


class PlaybookDetailView(PermissionRequiredMixin, TemplateView):
    permission_required = "playbooks.view_playbook"
    template_name = "playbooks/playbook_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        book = _playbook(self.request, self.kwargs["pk"])
        plays = selectors.playbook_plays(book)
        counts = selectors.run_counts(plays)
        for play in plays:
            play.counts = counts[play.pk]
        actions = services.PLAYBOOKS.actions_for(self.request.user, book)
        diff = services.playbook_diff(old=book.based_on, new=book) if book.based_on_id else None
        context.update(
            {
                "playbook": book,
                "plays": plays,
                "actions": actions,
                "actions_besides_comment": actions - {"comment"},
                "diff": diff,
                "approvals": list(book.approvals.all()),
                "comments": list(book.comments.select_related("author")),
                "history": list(book.history.select_related("actor").order_by("-at", "-id")[:100]),
                "versions": [v for v in selectors.playbook_versions(book) if v.pk != book.pk],
                "can_create": self.request.user.has_perm("playbooks.add_playbook"),
            }
        )
        return context


class PlaybookEditView(PermissionRequiredMixin, View):
    permission_required = "playbooks.change_playbook"
    template_name = "playbooks/playbook_edit.html"

    def _render(self, request, book, form, formset, status=200) -> HttpResponse:
        context = {"playbook": book, "form": form, "formset": formset}
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        book = _playbook(request, pk)
        if not book.is_editable:
            messages.error(
                request, f"v{book.number} is {book.get_status_display().lower()}: only drafts change."
            )
            return redirect("playbooks:playbook_detail", pk=pk)
        form = PlaybookEditForm(
            initial={"revision": book.revision, "name": book.name, "description": book.description}
        )
        formset = PlayFormSet(initial=services.plays_as_data(book), prefix="plays")
        return self._render(request, book, form, formset)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        book = _playbook(request, pk)
        form = PlaybookEditForm(request.POST)
        formset = PlayFormSet(request.POST, prefix="plays")
        if not (form.is_valid() and formset.is_valid()):
            return self._render(request, book, form, formset, status=400)
        data = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data["description"],
            "plays": plays_from_formset(formset),
        }
        try:
            services.playbook_update(
                playbook=book, user=request.user, data=data, expected_revision=form.cleaned_data["revision"]
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
            return self._render(request, book, form, formset, status=400)
        except (WorkflowError, PermissionDenied) as exc:
            form.add_error(None, error_text(exc))
            return self._render(request, book, form, formset, status=409)
        messages.success(request, "Saved.")
        return redirect("playbooks:playbook_detail", pk=pk)


class PlaybookActionView(PermissionRequiredMixin, View):
    ACTIONS = {
        "propose": "playbooks.change_playbook",
        "withdraw": "playbooks.change_playbook",
        "approve": "playbooks.approve_playbook",
        "reject": "playbooks.approve_playbook",
        "publish": "playbooks.publish_playbook",
        "rollback": "playbooks.publish_playbook",
        "comment": "playbooks.add_playbookcomment",
        "delete": "playbooks.change_playbook",
    }
    DONE = {
        "propose": "Proposed: a marketing lead and a sales lead approve it next.",
        "withdraw": "Withdrawn: it is a draft again.",
        "approve": "Approved.",
        "reject": "Rejected: it is a draft again, with your reason in its history.",
        "publish": "Published: accounts entering the stage follow it now.",
        "rollback": "Rolled back: this version applies again.",
        "comment": "Comment added.",
    }

    def get_permission_required(self) -> tuple[str, ...]:
        action = self.kwargs.get("action")
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return (self.ACTIONS[action],)

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        book = _playbook(request, pk)
        flow, user = services.PLAYBOOKS, request.user
        try:
            if action == "delete":
                flow.draft_delete(document=book, user=user)
                messages.success(request, "Draft deleted.")
                return redirect("playbooks:playbook_list")
            if action == "reject":
                flow.reject(document=book, user=user, reason=request.POST.get("reason", ""))
            elif action == "comment":
                flow.comment_add(document=book, user=user, body=request.POST.get("body", ""))
            elif action == "rollback":
                flow.rollback(document=book, user=user)
            else:
                getattr(flow, action)(document=book, user=user)
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, self.DONE[action])
        return redirect("playbooks:playbook_detail", pk=pk)


class TaskListView(PermissionRequiredMixin, TemplateView):
    """Plays due: my tasks, or my teams' unassigned ones, by due date."""

    permission_required = "playbooks.view_playtask"
    template_name = "playbooks/task_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        scope = self.request.GET.get("scope", "mine")
        scope = scope if scope in ("mine", "team") else "mine"
        tasks = list(
            selectors.tasks_for(user=self.request.user, scope=scope).order_by("due_on", "id")[:MAX_TASKS]
        )
        context.update({"tasks": tasks, "scope": scope, "today": timezone.localdate(), "limit": MAX_TASKS})
        return context


class TaskFinishView(PermissionRequiredMixin, View):
    permission_required = "playbooks.change_playtask"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        status = TaskStatus.SKIPPED if request.POST.get("status") == "skipped" else TaskStatus.DONE
        try:
            task = selectors.task_get(pk=pk)
            services.task_finish(task=task, user=request.user, status=status)
            messages.success(
                request, f"“{task.title}” {'skipped' if status == TaskStatus.SKIPPED else 'done'}."
            )
        except ObjectDoesNotExist:
            raise Http404("No such task.") from None
        except (WorkflowError, PermissionDenied, ValidationError) as exc:
            messages.error(request, error_text(exc))
        target = request.POST.get("next") or ""
        return redirect(
            target if target.startswith("/") and not target.startswith("//") else "playbooks:task_list"
        )


class PlayAudienceView(PermissionRequiredMixin, View):
    """A play's audience now (accounts with an open run of it), as CSV: domains for an ad platform."""

    permission_required = "playbooks.view_playrun"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            play = selectors.play_get(pk=pk)
        except ObjectDoesNotExist:
            raise Http404("No such play.") from None
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="play-{play.pk}-audience.csv"'
        writer = csvsafe.writer(response)
        writer.writerow(["domain", "account", "stage", "since"])
        for domain, name, stage, since in selectors.play_audience(play).iterator():
            writer.writerow([domain, name, stage, since.date().isoformat()])
        return response
