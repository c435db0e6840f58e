"""FilterSets for channels and campaigns, shared by the HTML lists and the API."""

import django_filters

from accounts.choices import CampaignGoal
from accounts.models import Campaign, Channel
from revops.filtersets import SearchFilter


class ChannelFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("name", "slug"))

    class Meta:
        model = Channel
        fields = ["q"]


class CampaignFilterSet(django_filters.FilterSet):
    q = SearchFilter(fields=("name", "description"))
    channel = django_filters.CharFilter(field_name="channel__slug")
    goal = django_filters.MultipleChoiceFilter(choices=CampaignGoal.choices)
    owner_team = django_filters.NumberFilter(field_name="owner_team_id")
    active_on = django_filters.DateFilter(method="filter_active_on", label="Active on")

    class Meta:
        model = Campaign
        fields = ["q", "channel", "goal", "owner_team", "active_on"]

    def filter_active_on(self, qs, name, value):
        return qs.filter(start_date__lte=value).exclude(end_date__lt=value)
