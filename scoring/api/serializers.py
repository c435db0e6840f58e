"""API serializers for versions of the rules, their workflow, lifecycle decisions and scores.

Outputs are explicit and read-only; inputs of the actions are small strict serializers. A version's
document (definition fields and rules) is validated by ``scoring.workflow`` itself, so the write
serializers here describe the contract in the OpenAPI schema and are not run on edits.
"""

from typing import Any

from rest_framework import serializers

from accounts.choices import EventType
from revops.api.viewsets import StrictFieldsMixin
from scoring.choices import (
    RECYCLE_REASON_CHOICES,
    REJECT_REASON_CHOICES,
    LifecycleDecision,
    LifecycleReason,
    RuleKind,
    RuleOperator,
)
from scoring.lifecycle import reason_codes_text
from scoring.models import (
    ContactScore,
    ContactScoreHistory,
    LifecycleTransition,
    Rule,
    Ruleset,
    RulesetApproval,
    RulesetComment,
    RulesetHistory,
)
from scoring.rescore import contact_score_explanation
from scoring.selectors import DEFINITION_FIELDS, RULE_FIELDS


# --- versions ---------------------------------------------------------------------------------------
class RuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rule
        fields = ["id", "position", *RULE_FIELDS]
        read_only_fields = fields


class RulesetApprovalSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = RulesetApproval
        fields = ["user", "username", "team_kind", "created"]
        read_only_fields = fields


_VERSION_FIELDS = [
    "id",
    "number",
    "name",
    "status",
    "revision",
    "etag",
    "based_on",
    "created_by",
    "proposed_by",
    "proposed_at",
    "publish_at",
    "published_by",
    "published_at",
    "created",
    "updated",
]


class RulesetListSerializer(serializers.ModelSerializer):
    """A version in lists: its identity and state, without the rules."""

    etag = serializers.CharField(read_only=True)

    class Meta:
        model = Ruleset
        fields = _VERSION_FIELDS
        read_only_fields = fields


class RulesetSerializer(serializers.ModelSerializer):
    """The whole document of a version: state, definition fields, rules (in order) and approvals."""

    etag = serializers.CharField(read_only=True, help_text="Send it back in If-Match to edit the draft.")
    rules = serializers.SerializerMethodField()
    approvals = RulesetApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = Ruleset
        fields = [*_VERSION_FIELDS, *[f for f in DEFINITION_FIELDS if f != "name"], "rules", "approvals"]
        read_only_fields = fields

    def get_rules(self, obj) -> list[dict[str, Any]]:
        rules = sorted(obj.rules.all(), key=lambda r: (r.position, r.pk))
        return RuleSerializer(rules, many=True).data


class RulesetCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=Ruleset.objects.all(),
        required=False,
        allow_null=True,
        help_text="The version to copy; default: the published one.",
    )
    name = serializers.CharField(
        max_length=200, required=False, help_text="Default: the copied version's name."
    )


class RuleWriteSerializer(serializers.Serializer):
    """One rule of an edit (documentation; ``scoring.workflow.rule_clean`` checks it)."""

    id = serializers.IntegerField(required=False, help_text="Keep it to change a rule in place.")
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    field = serializers.CharField(
        required=False,
        help_text="Fit rules: a contact field, account.<field>, custom.<key> or account.custom.<key>.",
    )
    operator = serializers.ChoiceField(choices=RuleOperator.choices, required=False)
    value = serializers.JSONField(
        required=False, help_text="A value; a list for in/email_domain; {min, max} for range."
    )
    event_type = serializers.ChoiceField(choices=EventType.choices, required=False, allow_blank=True)
    url_pattern = serializers.CharField(required=False, allow_blank=True)
    topic = serializers.CharField(required=False, allow_blank=True)
    campaign = serializers.IntegerField(required=False, allow_null=True)
    min_count = serializers.IntegerField(required=False, min_value=1)
    window_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Only events of the last N days; null: all history. A new engagement rule (no id) sent "
        "without it counts 90.",
    )
    points = serializers.FloatField()
    repeatable = serializers.BooleanField(required=False)
    cap = serializers.FloatField(required=False, allow_null=True, min_value=0)
    half_life_days = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Above 0: an event this many days old counts half; null: no decay. A new engagement rule "
        "(no id) sent without it halves every 30 days.",
    )


class RulesetWriteSerializer(serializers.Serializer):
    """An edit of a draft (documentation): any definition fields, and ``rules`` = the full new list."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    sal_enabled = serializers.BooleanField(required=False)
    required_fields = serializers.ListField(child=serializers.CharField(), required=False)
    mql_fit_min = serializers.FloatField(required=False)
    mql_engagement_min = serializers.FloatField(required=False)
    recycle_engagement_below = serializers.FloatField(required=False, allow_null=True)
    fit_grade_a_min = serializers.FloatField(required=False)
    fit_grade_b_min = serializers.FloatField(required=False)
    engagement_grade_1_min = serializers.FloatField(required=False)
    engagement_grade_2_min = serializers.FloatField(required=False)
    exclude_free_mail = serializers.BooleanField(required=False)
    excluded_title_pattern = serializers.CharField(required=False, allow_blank=True)
    excluded_industries = serializers.ListField(child=serializers.CharField(), required=False)
    excluded_countries = serializers.ListField(child=serializers.CharField(), required=False)
    competitor_domains = serializers.ListField(child=serializers.CharField(), required=False)
    fast_track_event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), required=False
    )
    sql_checklist = serializers.ListField(child=serializers.CharField(), required=False)
    rules = RuleWriteSerializer(many=True, required=False, help_text="Required with PUT.")


class RulesetChangeSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    actor = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    settings = serializers.ListField(child=serializers.DictField())
    rules = serializers.DictField()


class RulesetConflictSerializer(serializers.Serializer):
    """412: the draft changed since the client read it."""

    detail = serializers.CharField()
    your_revision = serializers.IntegerField(allow_null=True)
    current_revision = serializers.IntegerField()
    changes_since_yours = RulesetChangeSerializer(many=True)
    current = RulesetSerializer()


class RulesetRejectSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why: it goes to the history and the comments.")


class RulesetPublishSerializer(StrictFieldsMixin, serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="A future time schedules publication; empty: now."
    )


class SettingChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class RuleChangeSerializer(serializers.Serializer):
    name = serializers.CharField()
    changes = serializers.ListField(child=serializers.DictField())


class RulesDiffSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.DictField())
    removed = serializers.ListField(child=serializers.DictField())
    changed = RuleChangeSerializer(many=True)


class RulesetDiffSerializer(serializers.Serializer):
    old = serializers.IntegerField(help_text="Id of the version compared against.")
    new = serializers.IntegerField()
    settings = SettingChangeSerializer(many=True)
    rules = RulesDiffSerializer()


class RulesetCommentSerializer(serializers.ModelSerializer):
    author_username = serializers.CharField(
        source="author.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RulesetComment
        fields = ["id", "ruleset", "author", "author_username", "body", "created"]
        read_only_fields = fields


class RulesetCommentCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class RulesetHistorySerializer(serializers.ModelSerializer):
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RulesetHistory
        fields = ["id", "at", "actor", "actor_username", "action", "detail"]
        read_only_fields = fields


# --- lifecycle --------------------------------------------------------------------------------------
class LifecycleTransitionSerializer(serializers.ModelSerializer):
    contact_email = serializers.CharField(source="contact.email", read_only=True)
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )
    ruleset_number = serializers.IntegerField(
        source="ruleset.number", read_only=True, default=None, allow_null=True
    )
    decision = serializers.ChoiceField(
        choices=LifecycleDecision.choices,
        allow_blank=True,
        read_only=True,
        help_text="The person's decision; empty for automatic moves and those recorded before decisions.",
    )
    reason_code = serializers.ChoiceField(
        choices=LifecycleReason.choices,
        allow_blank=True,
        read_only=True,
        help_text="Why a reject or recycle was decided; empty otherwise (and before codes).",
    )
    reason = serializers.CharField(
        source="reason_words",
        read_only=True,
        help_text="Why, in words: the person's text, or the automatic rule's figures rounded for people "
        '("fit 45 ≥ 40 and engagement 21.4 ≥ 20", "Demo request on 2 Nov 2026").',
    )

    class Meta:
        model = LifecycleTransition
        fields = [
            "id",
            "contact",
            "contact_email",
            "from_stage",
            "to_stage",
            "at",
            "actor",
            "actor_username",
            "rule",
            "ruleset",
            "ruleset_number",
            "decision",
            "reason_code",
            "reason",
            "checklist",
        ]
        read_only_fields = fields


def reason_code_field(decision: str) -> serializers.ChoiceField:
    """The reason code of a reject or recycle: required, one of the decision's codes; a missing or
    unknown code is a 400 that lists the valid ones."""
    codes = reason_codes_text(decision)
    return serializers.ChoiceField(
        choices=REJECT_REASON_CHOICES if decision == LifecycleDecision.REJECT else RECYCLE_REASON_CHOICES,
        help_text=f"Why, as a code to count: {codes}. Free text goes beside it in reason.",
        error_messages={
            "required": f"Choose a reason code: one of {codes}.",
            "null": f"Choose a reason code: one of {codes}.",
            "invalid_choice": f"“{{input}}” is not a {decision} reason: use one of {codes}.",
        },
    )


class LifecycleAcceptSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class LifecycleRejectSerializer(StrictFieldsMixin, serializers.Serializer):
    reason_code = reason_code_field(LifecycleDecision.REJECT)
    reason = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Free text beside the code (required when the code is other).",
    )
    disqualify = serializers.BooleanField(
        required=False, default=False, help_text="Out for good (DISQUALIFIED) instead of RECYCLED."
    )


class LifecycleQualifySerializer(StrictFieldsMixin, serializers.Serializer):
    checklist = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Every item of the published version's SQL checklist, confirmed: {item: true}.",
    )
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class LifecycleRecycleSerializer(StrictFieldsMixin, serializers.Serializer):
    reason_code = reason_code_field(LifecycleDecision.RECYCLE)
    reason = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Free text beside the code (required when the code is other).",
    )


class LifecycleReasonSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class FunnelQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="Default: 90 days before until.")
    until = serializers.DateField(required=False, help_text="Default: today.")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "Must not be after until."})
        return attrs


class FunnelStepSerializer(serializers.Serializer):
    # "from" is a keyword: declared below.
    label = serializers.CharField()
    direct_only = serializers.BooleanField(help_text="Only direct moves count (mql → sql with SAL skipped).")
    entered = serializers.IntegerField(help_text="Contacts entering the from-stage in the period, once each.")
    converted = serializers.IntegerField(help_text="Of them, those that reached the to-stage by now.")
    entered_label = serializers.CharField(help_text="What entered counts, in words.")
    converted_label = serializers.CharField(help_text="What converted counts, in words.")
    rate = serializers.FloatField(allow_null=True)
    median_days = serializers.FloatField(allow_null=True)
    mean_days = serializers.FloatField(allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField()
        fields["to"] = serializers.CharField()
        return fields


class FunnelExitSerializer(serializers.Serializer):
    transitions = serializers.IntegerField()
    contacts = serializers.IntegerField()


class ConversionStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()
    contacts = serializers.IntegerField(help_text="Of the cohort, those that reached this stage by now.")
    rate_of_cohort = serializers.FloatField(allow_null=True)
    rate_of_previous = serializers.FloatField(allow_null=True)


class ConversionSerializer(serializers.Serializer):
    cohort = serializers.IntegerField(help_text="Contacts that entered MQL in the period.")
    stages = ConversionStageSerializer(many=True, help_text="MQL, SAL, SQL, opportunity, won (customer).")


def _stage_counts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


class FunnelSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    steps = FunnelStepSerializer(many=True)
    entries = _stage_counts(
        "Entered <stage> in the period: distinct contacts moving into it (lead: contacts created), by stage."
    )
    now = _stage_counts(
        "Currently <stage>: contacts at each stage today, whatever the period (the contacts list "
        "filtered by lifecycle_stage)."
    )
    conversion = ConversionSerializer(
        help_text="MQL → SAL → SQL → opportunity → won for the contacts that entered MQL in the period."
    )
    recycled = FunnelExitSerializer()
    disqualified = FunnelExitSerializer()
    reopened = FunnelExitSerializer()


class ReasonCountSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=LifecycleReason.choices)
    label = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Of the decision's total; null when none.")


class DecisionReasonsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    reasons = ReasonCountSerializer(many=True, help_text="Every code of the decision, most given first.")


class LifecycleReasonsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    reject = DecisionReasonsSerializer()
    recycle = DecisionReasonsSerializer()
    uncoded = serializers.IntegerField(
        help_text="People's moves to recycled or disqualified in the period without a code (made before "
        "codes were recorded)."
    )


# --- scores -----------------------------------------------------------------------------------------
def explanation_items(explanation: Any) -> list[dict[str, Any]]:
    """``[[rule id, name, points], …]`` as ``[{rule, name, points}]`` (dicts pass through)."""
    items = []
    for entry in explanation or []:
        if isinstance(entry, dict):
            items.append(entry)
        elif isinstance(entry, list | tuple):
            padded = [*entry, None, None, None][:3]
            items.append({"rule": padded[0], "name": padded[1], "points": padded[2]})
    return items


class ExplanationItemSerializer(serializers.Serializer):
    rule = serializers.JSONField(help_text="The rule's id (or a key such as 'excluded').")
    name = serializers.CharField()
    points = serializers.FloatField(allow_null=True)


class ContactScoreSerializer(serializers.ModelSerializer):
    email = serializers.CharField(source="contact.email", read_only=True)
    lifecycle_stage = serializers.CharField(source="contact.lifecycle_stage", read_only=True)
    ruleset_number = serializers.IntegerField(source="ruleset.number", read_only=True)
    grade = serializers.CharField(read_only=True)

    class Meta:
        model = ContactScore
        fields = [
            "contact",
            "email",
            "lifecycle_stage",
            "ruleset",
            "ruleset_number",
            "fit",
            "engagement",
            "fit_grade",
            "engagement_grade",
            "grade",
            "excluded",
            "fast_track",
            "scored_at",
        ]
        read_only_fields = fields


class ContactScoreDetailSerializer(ContactScoreSerializer):
    """A score with why: the points each rule gave, recomputed from the day's data the score used."""

    explanation = serializers.SerializerMethodField()
    explanation_current = serializers.SerializerMethodField(
        help_text="False while the contact's rescore is queued: the explanation then shows the new numbers."
    )

    class Meta(ContactScoreSerializer.Meta):
        fields = [*ContactScoreSerializer.Meta.fields, "as_of", "explanation", "explanation_current"]
        read_only_fields = fields

    def _why(self, obj) -> dict:
        cache = self.context.setdefault("explanations", {})
        if obj.pk not in cache:
            cache[obj.pk] = contact_score_explanation(obj)
        return cache[obj.pk]

    def get_explanation(self, obj) -> list[dict[str, Any]]:
        return ExplanationItemSerializer(explanation_items(self._why(obj)["explanation"]), many=True).data

    def get_explanation_current(self, obj) -> bool:
        return self._why(obj)["current"]


class ContactScoreHistorySerializer(serializers.ModelSerializer):
    """A past score's numbers; its explanation is reproduced by ``/api/contact-scores/{id}/as-of/``."""

    ruleset_number = serializers.IntegerField(source="ruleset.number", read_only=True)

    class Meta:
        model = ContactScoreHistory
        fields = [
            "id",
            "contact",
            "ruleset",
            "ruleset_number",
            "as_of",
            "scored_at",
            "fit",
            "engagement",
            "fit_grade",
            "engagement_grade",
            "excluded",
        ]
        read_only_fields = fields
