"""FilterSets for channels, campaigns and segments, shared by the HTML lists and the API; the criteria
of a dynamic segment are a FilterSet over accounts (``SegmentCriteriaFilterSet``)."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts.choices import CampaignGoal, EventType, LifecycleStage
from accounts.filtersets import uses_technologies
from accounts.models import Account, AccountActivityDaily, Campaign, Channel, Contact, Technology
from accounts.selectors import table_row_count
from revops.filtersets import IsoDateTimeFilter, SearchFilter
from revops.querysets import NotAmong
from scoring.filtersets import AccountModelScoreFilterSet, AccountScoreFilterSet

from .choices import SegmentKind
from .models import Segment, SegmentMembership

User = get_user_model()

# ``?not_segment=`` reads the members once (a hash) instead of probing them account by account when the
# segments held at least this share of the accounts at their last refresh: a page of non-members would
# then take a walk through (nearly) every account. Below it the probes fill a page sooner.
DENSE_SEGMENT_SHARE = 0.995

# Choice filters say ``distinct=False`` when they read a column of the row itself (or of a one-to-one):
# no row can match twice, and django-filter's default DISTINCT sorts every matching row before the page
# is cut instead of reading an index in the list's order (a million rows for a common stage, issue 16).


class ChannelFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("name", "slug"))

    class Meta:
        model = Channel
        fields = ["q"]


class CampaignFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("name", "description"))
    channel = django_filters.CharFilter(field_name="channel__slug")
    goal = django_filters.MultipleChoiceFilter(distinct=False, choices=CampaignGoal.choices)
    owner_team = django_filters.NumberFilter(field_name="owner_team_id")
    active_on = django_filters.DateFilter(method="filter_active_on", label="Active on")

    class Meta:
        model = Campaign
        fields = ["q", "channel", "goal", "owner_team", "active_on"]

    def filter_active_on(self, qs, name, value):
        return qs.filter(start_date__lte=value).exclude(end_date__lt=value)


# --- segments --------------------------------------------------------------------------------------
def _since(days: int | None, default: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=int(days or default) - 1)


def _current_members(segment_ids) -> QuerySet:
    return SegmentMembership.objects.filter(
        account_id=OuterRef("pk"), segment_id__in=segment_ids, left_at__isnull=True
    )


class WordListFilter(django_filters.CharFilter):
    """A list of words or phrases: several values, or one value separated by commas."""

    @staticmethod
    def words(value) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value]
        return [w.strip().lower() for v in values for w in str(v or "").split(",") if w.strip()]


class AnyValueField(forms.MultipleChoiceField):
    """Several values, whatever they are (the page offers the known ones as choices)."""

    def valid_value(self, value) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 200


class AnyOfFilter(django_filters.MultipleChoiceFilter):
    field_class = AnyValueField


class SegmentCriteriaFilterSet(AccountScoreFilterSet):
    """The criteria of a dynamic segment, over accounts and their stored scores, as one SQL query (the
    accounts list and API use it too). Windows count back from today, today included."""

    industry_in = AnyOfFilter(method="filter_industry", label="Industry (any of)")
    technology_all = django_filters.ModelMultipleChoiceFilter(
        field_name="technologies",
        queryset=Technology.objects.all(),
        method="filter_technology_all",
        label="Uses all of",
    )
    intent_topics = WordListFilter(
        method="filter_intent", label="Researched intent topics (any of, comma-separated)"
    )
    intent_days = django_filters.NumberFilter(
        method="filter_nothing", label="… in the last days (default 30)", min_value=1, max_value=3650
    )
    event_type = django_filters.MultipleChoiceFilter(
        choices=EventType.choices, method="filter_events", label="Engaged with events of a kind"
    )
    event_days = django_filters.NumberFilter(
        method="filter_nothing", label="… in the last days (default 30)", min_value=1, max_value=3650
    )
    event_min = django_filters.NumberFilter(
        method="filter_nothing", label="… at least this many (default 1)", min_value=1, max_value=1_000_000
    )
    contact_lifecycle = django_filters.MultipleChoiceFilter(
        choices=LifecycleStage.choices, method="filter_contact_lifecycle", label="Has a contact in stage"
    )
    owner_in = django_filters.ModelMultipleChoiceFilter(
        distinct=False,
        field_name="owner",
        queryset=User.objects.filter(is_active=True),
        label="Owner (any of)",
    )
    segment = django_filters.ModelMultipleChoiceFilter(
        queryset=Segment.objects.all(), method="filter_segment", label="Member of segment (any of)"
    )
    not_segment = django_filters.ModelMultipleChoiceFilter(
        queryset=Segment.objects.all(), method="filter_not_segment", label="Not a member of segment"
    )

    class Meta(AccountScoreFilterSet.Meta):
        fields = [
            *AccountScoreFilterSet.Meta.fields,
            "industry_in",
            "technology_all",
            "intent_topics",
            "intent_days",
            "event_type",
            "event_days",
            "event_min",
            "contact_lifecycle",
            "owner_in",
            "segment",
            "not_segment",
        ]

    def filter_industry(self, qs, name, value: str):
        query = Q()
        for industry in value or []:
            query |= Q(industry__iexact=industry)
        return qs.filter(query) if value else qs

    def filter_technology_all(self, qs, name, value):
        """Accounts that use every one of the chosen technologies (one EXISTS each, no DISTINCT)."""
        for technology in value or []:
            qs = qs.filter(uses_technologies([technology.pk]))
        return qs

    def filter_nothing(self, qs, name, value):
        return qs  # a window or a count read by the filter it belongs to

    def filter_intent(self, qs, name, value):
        topics = WordListFilter.words(value)
        if not topics:
            return qs
        since = _since(self.form.cleaned_data.get("intent_days"), 30)
        return qs.filter(
            Exists(
                AccountActivityDaily.objects.filter(
                    account_id=OuterRef("pk"), event_type=EventType.INTENT, key__in=topics, day__gte=since
                )
            )
        )

    def filter_events(self, qs, name, value):
        if not value:
            return qs
        since = _since(self.form.cleaned_data.get("event_days"), 30)
        least = int(self.form.cleaned_data.get("event_min") or 1)
        rows = AccountActivityDaily.objects.filter(
            account_id=OuterRef("pk"), event_type__in=value, day__gte=since
        )
        if least <= 1:
            return qs.filter(Exists(rows))
        total = rows.order_by().values("account_id").annotate(n=Sum("count")).values("n")
        return qs.annotate(_events_in_window=Subquery(total)).filter(_events_in_window__gte=least)

    def filter_contact_lifecycle(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(Exists(Contact.objects.filter(account_id=OuterRef("pk"), lifecycle_stage__in=value)))

    def filter_segment(self, qs, name, value: int):
        if not value:
            return qs
        return qs.filter(Exists(_current_members([s.pk for s in value])))

    def filter_not_segment(self, qs, name, value: int):
        if not value:
            return qs
        ids = [s.pk for s in value]
        accounts, _ = table_row_count(Account.objects.all())
        if sum(s.member_count for s in value) >= DENSE_SEGMENT_SHARE * accounts:
            members = SegmentMembership.objects.filter(segment_id__in=ids, left_at__isnull=True)
            return qs.filter(NotAmong("pk", members.values("account_id")))
        return qs.filter(~Exists(_current_members(ids)))


class InMarketSegmentFilterSet(AccountModelScoreFilterSet):
    """The in-market list (learned scores) narrowed to the members of segments."""

    segment = django_filters.ModelMultipleChoiceFilter(
        queryset=Segment.objects.all(), method="filter_segment", label="Member of segment (any of)"
    )

    class Meta(AccountModelScoreFilterSet.Meta):
        fields = [*AccountModelScoreFilterSet.Meta.fields, "segment"]

    def filter_segment(self, qs, name, value: int):
        if not value:
            return qs
        members = SegmentMembership.objects.filter(
            account_id=OuterRef("account_id"), segment_id__in=[s.pk for s in value], left_at__isnull=True
        )
        return qs.filter(Exists(members))


class SegmentFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("name", "description"))
    kind = django_filters.MultipleChoiceFilter(distinct=False, choices=SegmentKind.choices)
    owner_team = django_filters.NumberFilter(field_name="owner_team_id")

    class Meta:
        model = Segment
        fields = ["q", "kind", "owner_team"]


class SegmentMembershipFilterSet(django_filters.FilterSet):
    """Members of a segment; ``as_of`` answers who was a member at that moment."""

    as_of = IsoDateTimeFilter(method="filter_as_of", label="Members at (ISO date-time; default now)")
    account = django_filters.NumberFilter(field_name="account_id")

    class Meta:
        model = SegmentMembership
        fields = ["as_of", "account"]

    def filter_as_of(self, qs, name, value):
        return qs.filter(joined_at__lte=value).filter(Q(left_at__isnull=True) | Q(left_at__gt=value))
