import django_filters

from revops.choices import VersionStatus

from .choices import PeriodKind
from .models import RevenuePlan


class RevenuePlanFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=VersionStatus.choices)
    period_kind = django_filters.ChoiceFilter(choices=PeriodKind.choices)
    period_start = django_filters.DateFilter()
    period_from = django_filters.DateFilter(field_name="period_start", lookup_expr="gte", label="Period from")
    team = django_filters.NumberFilter(field_name="team_id")
    segment = django_filters.NumberFilter(field_name="segment_id")
    scope_key = django_filters.CharFilter()

    class Meta:
        model = RevenuePlan
        fields = ["status", "period_kind", "period_start", "team", "segment", "scope_key"]
