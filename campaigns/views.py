"""Web pages for campaigns and segments: campaigns (list, results with their lift, create and edit,
launch with a holdout), the leaderboard, and segments (list, detail with members as of a date, the
criteria editor with a live count and preview, static lists, exports). Thin: selectors read, services
write."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.models import Account, Campaign
from accounts.selectors import industry_choices
from accounts.views import channel_select
from revops import csvsafe
from revops.views import Column, ObjectDetailView, ObjectEditView, ObjectListView, positive_int
from scoring.metrics import figure_kept
from scoring.whatif import whatif_run_start

from . import selectors
from .filtersets import CampaignFilterSet, SegmentCriteriaFilterSet, SegmentFilterSet
from .forms import (
    CRITERIA_PREFIX,
    CampaignForm,
    LeaderboardForm,
    SegmentForm,
    SegmentWhatIfForm,
    StaticMembersForm,
    criteria_from_post,
)
from .measurement import campaign_launch, campaign_measure, campaign_target_set
from .models import Segment
from .segments import (
    criteria_preview,
    criteria_querydict,
    domains_resolve,
    segment_create,
    segment_delete,
    segment_refresh,
    segment_update,
    static_members_set,
)
from .services import campaign_create, campaign_update

_EMPTY_STATS = {"n": 0, "pipeline": None, "open_pipeline": None, "won": 0, "won_amount": None}
MEMBERS_PAGE = 50


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, msgs in exc.message_dict.items()
            for message in msgs
        ]
    return exc.messages


# --- campaigns -----------------------------------------------------------------------------------------
class CampaignListView(ObjectListView):
    """Campaigns, filtered by the CampaignFilterSet, with what each one produced."""

    model = Campaign
    filterset_class = CampaignFilterSet
    template_name = "campaigns/campaign_list.html"
    columns = [
        Column("name", "Name", ("name",)),
        Column("channel", "Channel", ("channel__sort_order", "channel__name")),
        Column("goal", "Goal", ("goal",)),
        Column("start", "Start", ("start_date",)),
        Column("end", "End", ("end_date",)),
        Column("cost", "Cost", ("cost",), numeric=True),
        Column("lift", "Engagement lift", ("measurement__engagement_lift",), numeric=True),
        Column("events", "Events attributed", numeric=True),
        Column("opportunities", "Opportunities sourced", numeric=True),
        Column("pipeline", "Pipeline sourced", numeric=True),
    ]
    default_sort = "-start"
    primary_filters = ["q", "channel", "goal", "active_on"]
    filter_labels = {"owner_team": "Owner team id"}
    add_url_name = "campaigns:campaign_create"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("channel", "owner_team", "measurement")
            .defer("measurement__detail")
        )

    def customize_filter_form(self, form) -> None:
        super().customize_filter_form(form)
        channel_select(form)

    events_as_of = None

    def decorate_rows(self, rows: list[Campaign]) -> None:
        ids = [c.pk for c in rows]
        # Events attributed: a count over millions of events (an index, but every entry of it), kept a few
        # minutes per page of campaigns and shown "as of" (scoring.metrics.figure_kept).
        events, self.events_as_of = figure_kept(
            f"campaign_event_counts:{','.join(map(str, ids))}",
            lambda: selectors.campaign_event_counts(campaign_ids=ids),
        )
        stats = selectors.campaign_opportunity_stats(campaign_ids=ids)
        for campaign in rows:
            campaign.event_count = events.get(campaign.pk, 0)
            campaign.opportunity_stats = stats.get(campaign.pk, _EMPTY_STATS)
            campaign.last_measurement = (
                getattr(campaign, "measurement", None) if hasattr(campaign, "measurement") else None
            )


class CampaignDetailView(ObjectDetailView):
    """A campaign: its target and holdout, its lift with intervals, reach, pipeline and costs."""

    model = Campaign
    template_name = "campaigns/campaign_detail.html"
    select_related = ("channel", "owner_team")
    edit_url_name = "campaigns:campaign_update"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        campaign = self.object
        user = self.request.user
        stats = selectors.campaign_opportunity_stats(campaign_ids=[campaign.pk]).get(
            campaign.pk, _EMPTY_STATS
        )
        measurement = selectors.campaign_measurement(campaign=campaign)
        target = selectors.campaign_target(campaign=campaign)
        context.update(
            {
                "event_count": selectors.campaign_event_counts(campaign_ids=[campaign.pk]).get(
                    campaign.pk, 0
                ),
                "stats": stats,
                "cost_per_opportunity": (
                    (campaign.cost / stats["n"]).quantize(Decimal(1))
                    if stats["n"] and campaign.cost
                    else None
                ),
                "sourced_opportunities": selectors.campaign_sourced_opportunities(
                    user=user, campaign=campaign
                ),
                "measurement": measurement,
                "detail": measurement.detail if measurement else {},
                "target": target,
                "audience": selectors.campaign_audience_counts(campaign=campaign),
                "cost_lines": selectors.campaign_cost_lines(campaign=campaign),
                "keys": list(campaign.keys.all()),
                "can_launch": user.has_perms(["accounts.change_campaign", "campaigns.change_campaigntarget"]),
                "can_measure": user.has_perm("accounts.change_campaign"),
            }
        )
        if measurement:
            weekly = measurement.detail.get("weekly", {})
            context["weekly_chart"] = {
                "labels": [
                    datetime.date.fromisoformat(w).strftime("%-d %b") for w in weekly.get("weeks", [])
                ],
                "treated": weekly.get("treated", []),
                "control": weekly.get("control", []),
                "start": measurement.detail.get("window", {}).get("start"),
                "start_index": 8,
            }
        return context


class CampaignEditView(ObjectEditView):
    """Create or edit a campaign with its costs by month, keys, target segment and holdout share."""

    model = Campaign
    form_class = CampaignForm
    template_name = "campaigns/campaign_edit.html"
    detail_url_name = "campaigns:campaign_detail"
    list_url_name = "campaigns:campaign_list"

    def save(self, form) -> Campaign:
        actor = self.request.user
        lines = form.cleaned_data.get("cost_lines")
        keys = form.cleaned_data.get("keys")
        if self.object is None:
            campaign = campaign_create(actor=actor, data=form.service_data(), cost_lines=lines, keys=keys)
        else:
            campaign = campaign_update(
                actor=actor, campaign=self.object, data=form.service_data(), cost_lines=lines or [], keys=keys
            )
        segment, share = form.target_data()
        target = selectors.campaign_target(campaign=campaign)
        if segment is not None or target is not None:  # a launched target refuses a change (service)
            campaign_target_set(actor=actor, campaign=campaign, segment=segment, holdout_share=share)
        return campaign


class CampaignActionView(PermissionRequiredMixin, View):
    """A POST on one campaign that runs a service and returns to the campaign's page."""

    permission_required: tuple[str, ...] = ("accounts.change_campaign",)

    def act(self, campaign: Campaign) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            campaign = Campaign.objects.for_user(request.user, "change").get(pk=pk)
        except Campaign.DoesNotExist as exc:
            raise Http404(f"No campaign with id {pk}") from exc
        try:
            messages.success(request, self.act(campaign))
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
        return HttpResponseRedirect(reverse("campaigns:campaign_detail", kwargs={"pk": pk}))


class CampaignLaunchView(CampaignActionView):
    permission_required = ("accounts.change_campaign", "campaigns.change_campaigntarget")

    def act(self, campaign: Campaign) -> str:
        target = campaign_launch(actor=self.request.user, campaign=campaign)
        counts = selectors.campaign_audience_counts(campaign=campaign)
        return (
            f"Launched to {counts.get('treated', 0):,} accounts of {target.segment.name}; "
            f"{counts.get('holdout', 0):,} held out ({target.holdout_share:.0%}) to measure the lift against."
        )


class CampaignMeasureView(CampaignActionView):
    def act(self, campaign: Campaign) -> str:
        measurement = campaign_measure(campaign=campaign)
        if measurement is None:
            raise ValidationError(
                "The campaign has not started yet (or has no start date): nothing to measure."
            )
        return (
            f"Measured: {measurement.treated:,} targeted accounts against {measurement.controls:,} controls."
        )


class LeaderboardView(PermissionRequiredMixin, TemplateView):
    """Programs of a period ranked by a chosen metric, bottom 10% marked, totals, charts, CSV."""

    permission_required = ("accounts.view_campaign", "campaigns.view_campaignmeasurement")
    template_name = "campaigns/leaderboard.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = LeaderboardForm(request.GET or None)
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        board = selectors.leaderboard(
            start=data.get("start"),
            end=data.get("end"),
            metric=data.get("metric") or "incremental_pipeline",
            channel=data.get("channel") or "",
        )
        if request.GET.get("format") == "csv":
            return self.csv(board)
        ranked = [r for r in board.rows if r.rank is not None]
        context = self.get_context_data(
            form=form,
            board=board,
            metric_label=dict(LeaderboardForm.base_fields["metric"].choices).get(board.metric, board.metric),
            bars={
                "label": board.metric,
                "labels": [r.campaign.name for r in ranked],
                "values": [round(r.value, 4) for r in ranked],
                "cut": [r.cut for r in ranked],
            },
            scatter={
                "points": [
                    {
                        "x": float(r.campaign.cost or 0),
                        "y": r.measurement.incremental_pipeline,
                        "label": r.campaign.name,
                    }
                    for r in board.rows
                    if r.measurement is not None and r.measurement.incremental_pipeline is not None
                ]
            },
            bars_height=max(220, 24 * len(ranked) + 40),
            csv_query=(request.GET.urlencode() + "&" if request.GET else "") + "format=csv",
        )
        return render(request, self.template_name, context)

    def csv(self, board: selectors.Leaderboard) -> HttpResponse:
        out = io.StringIO()
        writer = csvsafe.writer(out)
        writer.writerow([header for header, _ in LEADERBOARD_CSV])
        for row in board.rows:
            writer.writerow([_blank(value(row, row.measurement)) for _, value in LEADERBOARD_CSV])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="leaderboard-{board.start}-{board.end}.csv"'
        return response


def _measured(name: str):
    return lambda row, m: getattr(m, name) if m is not None else None


LEADERBOARD_CSV = [
    ("rank", lambda row, m: row.rank),
    ("campaign", lambda row, m: row.campaign.name),
    ("channel", lambda row, m: row.campaign.channel.name),
    ("goal", lambda row, m: row.campaign.get_goal_display()),
    ("start", lambda row, m: row.campaign.start_date),
    ("end", lambda row, m: row.campaign.end_date),
    ("cost", lambda row, m: row.campaign.cost),
    ("accounts targeted", _measured("treated")),
    ("controls", _measured("controls")),
    ("control", _measured("control")),
    ("engagement lift per account-week", _measured("engagement_lift")),
    ("lift low", _measured("engagement_lift_low")),
    ("lift high", _measured("engagement_lift_high")),
    ("incremental opportunities", _measured("incremental_opportunities")),
    ("incremental pipeline", _measured("incremental_pipeline")),
    ("cost per incremental opportunity", _measured("cost_per_incremental_opportunity")),
    ("incremental pipeline per dollar", lambda row, m: row.pipeline_per_dollar),
    ("sourced pipeline", _measured("sourced_pipeline")),
    ("influenced pipeline", _measured("influenced_pipeline")),
    ("won revenue", _measured("won_revenue")),
    ("MQLs", _measured("mqls")),
    ("cut candidate", lambda row, m: "yes" if row.cut else ""),
]


def _blank(value) -> Any:
    return "" if value is None else value


# --- segments --------------------------------------------------------------------------------------------
class SegmentListView(ObjectListView):
    model = Segment
    filterset_class = SegmentFilterSet
    template_name = "campaigns/segment_list.html"
    columns = [
        Column("name", "Name", ("name",)),
        Column("kind", "Kind", ("kind",)),
        Column("members", "Members", ("member_count",), numeric=True),
        Column("version", "Version", ("version",), numeric=True),
        Column("refreshed", "Refreshed", ("refreshed_at",)),
    ]
    default_sort = "name"
    primary_filters = ["q", "kind"]
    add_url_name = "campaigns:segment_create"

    def get_queryset(self):
        return selectors.segment_list(user=self.request.user)


def criteria_form(data=None) -> forms.Form:
    """The criteria editor: the FilterSet's form with the page's labels and pickers."""
    filterset = SegmentCriteriaFilterSet(data, queryset=Account.objects.none(), prefix=CRITERIA_PREFIX)
    form = filterset.form
    for name in ("q", "parent", "has_parent", "owner", "industry"):
        form.fields.pop(name, None)
    industries = industry_choices()
    form.fields["industry_in"].choices = industries
    form.fields["industry_in"].widget = forms.SelectMultiple(choices=industries, attrs={"size": 6})
    for field in form.fields.values():
        if isinstance(field.widget, forms.NullBooleanSelect):
            field.widget.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]
    return form


CRITERIA_GROUPS = [
    (
        "Firmographics",
        ["industry_in", "employees_min", "employees_max", "revenue_min", "revenue_max", "country"],
    ),
    ("Technology", ["technology", "technology_all"]),
    ("Intent", ["intent_topics", "intent_days"]),
    (
        "Engagement",
        ["event_type", "event_days", "event_min", "engagement_min", "engagement_max", "engagement_grade"],
    ),
    (
        "Scores and stage",
        ["stage", "in_market_band", "fit_band", "qualified", "in_market_min", "profile_fit_min"],
    ),
    ("Rules grade, people and deals", ["fit_grade", "contact_lifecycle", "deal", "owner_in"]),
    ("Other segments", ["segment", "not_segment"]),
]


def criteria_groups(form) -> list[tuple[str, list]]:
    return [
        (title, [form[name] for name in names if name in form.fields]) for title, names in CRITERIA_GROUPS
    ]


def criteria_words(criteria: dict) -> list[tuple[str, str]]:
    """A segment's criteria as people read them: (label, values)."""
    form = criteria_form()
    words = []
    for name, values in criteria.items():
        field = form.fields.get(name)
        if field is None:
            words.append((name, ", ".join(values)))
            continue
        choices = getattr(field, "choices", None)
        names = dict((str(k), v) for k, v in choices) if choices else {}
        if name in ("segment", "not_segment"):
            names = {str(pk): label for pk, label in selectors.segment_choices()}
        words.append((str(field.label), ", ".join(str(names.get(str(v), v)) for v in values)))
    return words


class SegmentDetailView(ObjectDetailView):
    """A segment: criteria, members now or on a date, joins and leaves, campaigns, exports."""

    model = Segment
    template_name = "campaigns/segment_detail.html"
    select_related = ("owner_team",)
    edit_url_name = "campaigns:segment_update"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        segment = self.object
        request = self.request
        as_of_text = request.GET.get("as_of", "")
        at = None
        if as_of_text:
            try:
                day = datetime.date.fromisoformat(as_of_text)
                at = timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))
            except ValueError:
                context["as_of_error"] = f"“{as_of_text}” is not a date (YYYY-MM-DD)."
        page = positive_int(request.GET.get("page"), 1, 10_000)
        members = selectors.segment_members(segment=segment, at=at)
        rows = list(members[(page - 1) * MEMBERS_PAGE : page * MEMBERS_PAGE + 1])
        context.update(
            {
                "criteria": criteria_words(segment.criteria),
                "members": rows[:MEMBERS_PAGE],
                "members_page": page,
                "members_more": len(rows) > MEMBERS_PAGE,
                "as_of": as_of_text,
                "as_of_count": members.count() if at else None,
                "changes": selectors.segment_changes(segment=segment),
                "campaign_targets": selectors.segment_campaigns(segment=segment),
                "static_form": StaticMembersForm() if segment.kind == "static" else None,
                "can_refresh": request.user.has_perm("campaigns.refresh_segment"),
                "whatif_form": (
                    SegmentWhatIfForm()
                    if request.user.has_perms(["scoring.view_ruleset", "scoring.add_whatifrun"])
                    else None
                ),
            }
        )
        return context


class SegmentEditView(PermissionRequiredMixin, TemplateView):
    """Create or edit a segment; a dynamic segment's criteria with a live count and preview (htmx)."""

    template_name = "campaigns/segment_edit.html"

    def get_permission_required(self) -> tuple[str, ...]:
        return ("campaigns.change_segment",) if "pk" in self.kwargs else ("campaigns.add_segment",)

    def get_object(self) -> Segment | None:
        if "pk" not in self.kwargs:
            return None
        try:
            return selectors.segment_get(user=self.request.user, pk=self.kwargs["pk"], action="change")
        except Segment.DoesNotExist as exc:
            raise Http404(f"No segment with id {self.kwargs['pk']}") from exc

    def render_page(self, segment, form, criteria, status=200, errors=None) -> HttpResponse:
        context = self.get_context_data(
            object=segment,
            form=form,
            criteria_form=criteria,
            criteria_groups=criteria_groups(criteria),
            criteria_errors=errors or [],
        )
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        segment = self.get_object()
        initial = {}
        if request.GET.get("from_accounts"):  # "save these filters as a segment" from the accounts list
            initial = {f"{CRITERIA_PREFIX}-{k}": v for k, v in request.GET.lists() if k != "from_accounts"}
        data = None
        if segment is not None:
            data = _criteria_data(segment.criteria)
        elif initial:
            data = criteria_querydict(initial)
        return self.render_page(
            segment, SegmentForm(instance=segment, user=request.user), criteria_form(data)
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        segment = self.get_object()
        form = SegmentForm(request.POST, instance=segment, user=request.user)
        criteria_ui = criteria_form(request.POST)
        if not form.is_valid():
            return self.render_page(segment, form, criteria_ui, status=400)
        data = form.service_data()
        if data.get("kind") == "dynamic":
            data["criteria"] = criteria_from_post(request.POST, criteria_ui.fields)
        try:
            if segment is None:
                saved = segment_create(actor=request.user, data=data)
                messages.success(request, f"Created segment “{saved}” with {saved.member_count:,} accounts.")
            else:
                saved = segment_update(actor=request.user, segment=segment, data=data)
                messages.success(
                    request,
                    f"Saved segment “{saved}” (version {saved.version}): {saved.member_count:,} accounts.",
                )
        except ValidationError as exc:
            return self.render_page(segment, form, criteria_ui, status=400, errors=_errors(exc))
        return HttpResponseRedirect(reverse("campaigns:segment_detail", kwargs={"pk": saved.pk}))


def _criteria_data(criteria: dict) -> QueryDict:
    return criteria_querydict({f"{CRITERIA_PREFIX}-{k}": v for k, v in criteria.items()})


class SegmentPreviewView(PermissionRequiredMixin, View):
    """The live count and the first accounts of the criteria being edited (htmx partial)."""

    permission_required = ("campaigns.view_segment", "accounts.view_account")

    def post(self, request: HttpRequest) -> HttpResponse:
        criteria = criteria_from_post(request.POST, criteria_form().fields)
        context: dict[str, Any] = {"criteria": criteria}
        try:
            context["preview"] = criteria_preview(criteria)
        except ValidationError as exc:
            context["errors"] = _errors(exc)
        return render(request, "campaigns/includes/segment_preview.html", context)


class SegmentActionView(PermissionRequiredMixin, View):
    permission_required: tuple[str, ...] = ("campaigns.change_segment",)

    def get_segment(self, pk: int) -> Segment:
        try:
            return selectors.segment_get(user=self.request.user, pk=pk, action="change")
        except Segment.DoesNotExist as exc:
            raise Http404(f"No segment with id {pk}") from exc

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = self.get_segment(pk)
        try:
            target = self.act(segment)
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
            target = None
        return HttpResponseRedirect(target or reverse("campaigns:segment_detail", kwargs={"pk": pk}))

    def act(self, segment: Segment) -> str | None:
        raise NotImplementedError


class SegmentRefreshView(SegmentActionView):
    permission_required = ("campaigns.refresh_segment",)

    def act(self, segment: Segment) -> None:
        result = segment_refresh(segment=segment)
        messages.success(
            self.request,
            f"Refreshed: {result['joined']:,} joined, {result['left']:,} left; "
            f"{result['members']:,} members.",
        )


class SegmentMembersView(SegmentActionView):
    """Change a static segment's list from domains typed or pasted on its page."""

    def act(self, segment: Segment) -> None:
        form = StaticMembersForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError([e for errs in form.errors.values() for e in errs])
        ids, missing = domains_resolve(form.cleaned_data["domains"])
        result = static_members_set(
            actor=self.request.user, segment=segment, account_ids=ids, mode=form.cleaned_data["mode"]
        )
        text = f"{result['joined']:,} joined, {result['left']:,} left; {result['members']:,} members."
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            messages.warning(self.request, f"No account has these {len(missing):,} domains: {shown}")
        messages.success(self.request, text)


class SegmentWhatIfView(SegmentActionView):
    """Replay a rules version (against the published one) over the contacts of the segment's members."""

    permission_required = ("campaigns.view_segment", "scoring.view_ruleset", "scoring.add_whatifrun")

    def get_segment(self, pk: int) -> Segment:
        try:
            return selectors.segment_get(user=self.request.user, pk=pk)
        except Segment.DoesNotExist as exc:
            raise Http404(f"No segment with id {pk}") from exc

    def act(self, segment: Segment) -> str:
        form = SegmentWhatIfForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError([e for errs in form.errors.values() for e in errs])
        run = whatif_run_start(
            ruleset=form.cleaned_data["ruleset"],
            user=self.request.user,
            days=form.cleaned_data["days"],
            account_ids=selectors.segment_member_ids(segment=segment),
            scope=f"segment {segment.name} (v{segment.version}, {segment.member_count:,} accounts)",
        )
        return reverse("scoring:ruleset_whatif", kwargs={"pk": run.ruleset_id}) + f"?run={run.pk}"


class SegmentDeleteView(SegmentActionView):
    permission_required = ("campaigns.delete_segment",)

    def act(self, segment: Segment) -> str:
        name = segment.name
        segment_delete(actor=self.request.user, segment=segment)
        messages.success(self.request, f"Deleted segment “{name}”.")
        return reverse("campaigns:segment_list")


class Echo:
    def write(self, value: str) -> str:
        return value


class SegmentExportView(PermissionRequiredMixin, View):
    """A segment's members as CSV: accounts with their scores, or an ad platform's audience (domains, or
    the buying team's e-mails). Streamed: a segment of 100k accounts never sits in memory."""

    permission_required = ("campaigns.view_segment", "accounts.view_account")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            segment = selectors.segment_get(user=request.user, pk=pk)
        except Segment.DoesNotExist as exc:
            raise Http404(f"No segment with id {pk}") from exc
        kind = request.GET.get("kind", "accounts")
        if kind == "emails" and not request.user.has_perm("accounts.view_contact"):
            raise Http404("You may not see contacts.")
        if kind not in {"accounts", "domains", "emails"}:
            return HttpResponse("kind is accounts, domains or emails.", status=400, content_type="text/plain")
        writer = csvsafe.writer(Echo())
        rows = self.rows(segment, kind)
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
        )
        slug = "".join(ch if ch.isalnum() else "-" for ch in segment.name.lower())[:60]
        response["Content-Disposition"] = f'attachment; filename="segment-{slug}-{kind}.csv"'
        return response

    def rows(self, segment: Segment, kind: str):
        if kind == "domains":
            yield ["domain", "company"]
            yield from selectors.audience_rows(segment=segment, kind="domains")
        elif kind == "emails":
            yield ["email", "first_name", "last_name", "company_domain"]
            yield from selectors.audience_rows(segment=segment, kind="emails")
        else:
            yield [
                "account_id",
                "name",
                "domain",
                "industry",
                "employees",
                "country",
                "buying_stage",
                "in_market",
                "profile_fit",
                "qualified",
                "joined_at",
            ]
            yield from selectors.segment_export_rows(segment=segment)
