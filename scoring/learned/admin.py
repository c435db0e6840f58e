"""Admin for the learned scores (imported by ``scoring.admin``): policy versions through their services,
model versions and scores read-only.

A qualification policy is edited only as a draft (``scoring.policy.policy_update``) and moves through the
versioned-document workflow by actions (``revops.admin.VersionedDocumentAdmin`` with ``policy.POLICIES``:
propose, approve by a marketing and a sales lead, publish, roll back). Model versions are promoted and
rolled back by actions through the registry; their artefact bytes are never loaded by these pages.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from revops.admin import (
    SERVICE_ERRORS,
    DocumentApprovalInline,
    DocumentCommentInline,
    DocumentHistoryInline,
    ReadOnlyAdmin,
    VersionedDocumentAdmin,
    error_text,
    selected_one,
    service_failed,
)
from scoring import policy as policies
from scoring.filtersets import HEAVY_MODEL_FIELDS, report_figure, without_heavy_model_fields
from scoring.models import (
    AccountModelScore,
    AccountModelScoreHistory,
    BuyingStageTransition,
    ContactModelScore,
    PolicyApproval,
    PolicyComment,
    PolicyHistory,
    QualificationPolicy,
    ScoringModel,
)


# --- qualification policy versions -------------------------------------------------------------------
class PolicyAddForm(forms.ModelForm):
    """A new draft: which version to copy (default: the published one) and, optionally, a name."""

    based_on = forms.ModelChoiceField(
        queryset=QualificationPolicy.objects.all(),
        required=False,
        help_text="Copy this version's values. Empty: the published version.",
    )

    class Meta:
        model = QualificationPolicy
        fields = ["name"]
        help_texts = {"name": "Empty: the copied version's name."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False


class PolicyAdminForm(forms.ModelForm):
    """A draft's values, checked by the service's rules (ranges, bands and stages in order);
    ``revision`` rides along hidden to catch concurrent edits, as for rules versions."""

    class Meta:
        model = QualificationPolicy
        fields = ["revision", *policies.POLICY_FIELDS]
        widgets = {"revision": forms.HiddenInput}

    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned[name] for name in policies.POLICY_FIELDS if name in cleaned}
        try:
            policies.policy_data_clean(policy=self.instance, data=data)
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned


class PolicyApprovalInline(DocumentApprovalInline):
    model = PolicyApproval


class PolicyCommentInline(DocumentCommentInline):
    model = PolicyComment


class PolicyHistoryInline(DocumentHistoryInline):
    model = PolicyHistory


@admin.register(QualificationPolicy)
class QualificationPolicyAdmin(VersionedDocumentAdmin):
    workflow = policies.POLICIES
    list_display = [
        "number",
        "name",
        "status",
        "icp_weight",
        "fit_medium_min",
        "fit_high_min",
        "in_market_medium_min",
        "in_market_high_min",
        "published_at",
    ]
    list_display_links = ["number", "name"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    form = PolicyAdminForm
    add_form = PolicyAddForm
    readonly_fields = [
        "number",
        "status",
        "based_on",
        "created_by",
        "proposed_by",
        "proposed_at",
        "published_by",
        "published_at",
        "created",
        "updated",
    ]
    fieldsets = [
        (None, {"fields": ["number", "name", "description", "status", "revision", "based_on"]}),
        (
            "Profile fit",
            {"fields": ["icp_weight", "icp_fit_full", ("fit_medium_min", "fit_high_min")]},
        ),
        ("In market", {"fields": [("in_market_medium_min", "in_market_high_min")]}),
        ("Qualified account", {"fields": ["qualified_fit_band", "qualified_in_market_band"]}),
        (
            "Buying stages",
            {
                "fields": [
                    ("awareness_min", "consideration_min", "decision_min", "purchase_min"),
                    "hysteresis",
                    "min_days_in_stage",
                ]
            },
        ),
        (
            "Workflow",
            {
                "fields": [
                    "created_by",
                    "proposed_by",
                    "proposed_at",
                    "published_by",
                    "published_at",
                    "created",
                    "updated",
                ]
            },
        ),
    ]
    inlines = [PolicyApprovalInline, PolicyCommentInline, PolicyHistoryInline]

    # --- saving through the services --------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        try:
            if change:
                data = {name: form.cleaned_data[name] for name in policies.POLICY_FIELDS}
                revision = form.cleaned_data.get("revision")
                saved = policies.policy_update(
                    policy=obj, user=request.user, data=data, expected_revision=revision
                )
            else:
                saved = policies.policy_draft_create(
                    user=request.user,
                    based_on=form.cleaned_data.get("based_on"),
                    name=form.cleaned_data.get("name") or None,
                )
        except SERVICE_ERRORS as exc:
            service_failed(request, self, exc)
            return
        self.adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        pass  # no relations; the service audited the change


# --- model versions ----------------------------------------------------------------------------------
_SUMMARY_METRICS = [
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC"),
    ("top_decile_lift", "Lift (top 10%)"),
    ("top_decile_capture", "Capture (top 10%)"),
    ("brier", "Brier"),
]


def _figure(value) -> str:
    return "—" if value is None else f"{value:.3f}"


@admin.register(ScoringModel)
class ScoringModelAdmin(ReadOnlyAdmin):
    """Versions in the registry: read-only, with promote and roll back as audited actions."""

    list_display = [
        "kind",
        "version",
        "status",
        "roc_auc",
        "pr_auc",
        "horizon_days",
        "train_start",
        "train_end",
        "trained_at",
        "promoted_at",
    ]
    list_display_links = ["kind", "version"]
    list_filter = ["kind", "status"]
    search_fields = ["reason"]
    fields = [
        "kind",
        "version",
        "status",
        "reason",
        "backtest",
        "leakage_warnings",
        ("train_start", "train_end", "horizon_days"),
        ("trained_at", "trained_by", "promoted_at"),
        "feature_count",
        "params",
        "artefact_sha256",
    ]
    readonly_fields = ["backtest", "leakage_warnings", "feature_count"]
    actions = ["promote_selected", "rollback_kind"]

    def get_queryset(self, request):
        # The report loads lazily on the change page only; the artefact never does.
        return (
            super()
            .get_queryset(request)
            .defer(*HEAVY_MODEL_FIELDS)
            .annotate(roc_auc=report_figure("metrics", "roc_auc"), pr_auc=report_figure("metrics", "pr_auc"))
        )

    def has_promote_permission(self, request):
        return request.user.has_perm("scoring.promote_scoringmodel")

    @admin.display(description="ROC AUC", ordering="roc_auc")
    def roc_auc(self, obj) -> str:
        return _figure(obj.roc_auc)

    @admin.display(description="PR AUC", ordering="pr_auc")
    def pr_auc(self, obj) -> str:
        return _figure(obj.pr_auc)

    @admin.display(description="Features")
    def feature_count(self, obj) -> int:
        return len(obj.features or [])

    @admin.display(description="Backtest (pooled over the test folds)")
    def backtest(self, obj) -> str:
        models = (obj.metrics or {}).get("models") or {}
        if not models:
            return "No backtest report."
        header = format_html_join("", "<th>{}</th>", ((label,) for _, label in _SUMMARY_METRICS))
        rows = format_html_join(
            "",
            "<tr><td>{}</td>{}</tr>",
            (
                (
                    name,
                    format_html_join(
                        "", "<td>{}</td>", ((_figure(figures.get(key)),) for key, _ in _SUMMARY_METRICS)
                    ),
                )
                for name, figures in models.items()
            ),
        )
        return format_html(
            "<table><thead><tr><th>model</th>{}</tr></thead><tbody>{}</tbody></table>", header, rows
        )

    @admin.display(description="Leakage warnings")
    def leakage_warnings(self, obj) -> str:
        warnings = (obj.metrics or {}).get("leakage_warnings") or []
        if not warnings:
            return "None."
        return format_html_join(
            ", ", "{} (AUC {})", ((w.get("feature"), _figure(w.get("auc"))) for w in warnings)
        )

    @admin.action(description="Promote the selected version to champion", permissions=["promote"])
    def promote_selected(self, request, queryset):
        from scoring.learned import registry  # scikit-learn and XGBoost: loaded only when needed

        model = selected_one(self, request, queryset)
        if model is None:
            return
        try:
            registry.model_promote(model=model, user=request.user, reason="Promoted in admin.")
        except (*SERVICE_ERRORS, registry.RegistryError) as exc:
            self.message_user(request, f"{model}: {error_text(exc)}", level=messages.ERROR)
        else:
            self.message_user(request, f"{model.kind} v{model.version} is the champion.", messages.SUCCESS)

    @admin.action(description="Roll back the selected kind to its previous champion", permissions=["promote"])
    def rollback_kind(self, request, queryset):
        from scoring.learned import registry

        for kind in sorted(set(queryset.values_list("kind", flat=True))):
            try:
                champion = registry.model_rollback(
                    user=request.user, kind=kind, reason="Rolled back in admin."
                )
            except (*SERVICE_ERRORS, registry.RegistryError) as exc:
                self.message_user(request, f"{kind}: {error_text(exc)}", level=messages.ERROR)
            else:
                self.message_user(
                    request, f"{kind}: v{champion.version} is the champion again.", messages.SUCCESS
                )


# --- scores and transitions (derived data) ----------------------------------------------------------
class LearnedScoreAdmin(ReadOnlyAdmin):
    """Read-only rows that name model versions: joined to them without their heavy columns."""

    model_relations: tuple[str, ...] = ("model",)
    list_select_related: list[str] = []

    def get_queryset(self, request):
        # The changelist adds list_select_related only to a queryset without any: join them here.
        qs = super().get_queryset(request).select_related(*self.list_select_related)
        return without_heavy_model_fields(qs, *self.model_relations)

    @admin.display(description="Model", ordering="model__version")
    def model_version(self, obj) -> str:
        return f"v{obj.model.version}" if obj.model_id else "—"


@admin.register(AccountModelScore)
class AccountModelScoreAdmin(LearnedScoreAdmin):
    list_display = [
        "account",
        "stage",
        "qualified",
        "profile_fit",
        "fit_band",
        "in_market",
        "in_market_band",
        "model_version",
        "policy",
        "scored_at",
    ]
    list_filter = ["stage", "qualified", "fit_band", "in_market_band", "policy"]
    search_fields = ["account__name", "account__domain"]
    list_select_related = ["account", "policy"]
    ordering = ["-in_market"]


@admin.register(AccountModelScoreHistory)
class AccountModelScoreHistoryAdmin(LearnedScoreAdmin):
    list_display = [
        "account",
        "as_of",
        "stage",
        "qualified",
        "profile_fit",
        "in_market",
        "model_version",
        "scored_at",
    ]
    list_filter = ["stage", "qualified"]
    search_fields = ["account__name", "account__domain"]
    list_select_related = ["account"]


@admin.register(BuyingStageTransition)
class BuyingStageTransitionAdmin(LearnedScoreAdmin):
    list_display = [
        "account",
        "from_stage",
        "to_stage",
        "at",
        "in_market",
        "model_version",
        "policy",
        "reason",
    ]
    list_filter = ["to_stage", "from_stage"]
    search_fields = ["account__name", "account__domain"]
    list_select_related = ["account", "policy"]


@admin.register(ContactModelScore)
class ContactModelScoreAdmin(LearnedScoreAdmin):
    model_relations = ("model", "conversion_model")
    list_display = [
        "contact",
        "account",
        "persona_fit",
        "engagement_vs_buyers",
        "conversion",
        "model_version",
        "scored_at",
    ]
    list_filter = [("conversion", admin.EmptyFieldListFilter)]
    search_fields = ["contact__email", "contact__account__name"]
    list_select_related = ["contact__account"]

    @admin.display(description="Account", ordering="contact__account__name")
    def account(self, obj):
        return obj.contact.account
