from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import signals  # noqa: F401  (segments refresh after each rescore)
        from campaigns.filtersets import InMarketSegmentFilterSet, SegmentCriteriaFilterSet
        from campaigns.panels import panels_register
        from campaigns.permissions import grants
        from revops.filtersets import filterset_widen

        # Every list of accounts filters by segment and by any segment criterion.
        filterset_widen("accounts.account", SegmentCriteriaFilterSet)
        filterset_widen("scoring.accountmodelscore", InMarketSegmentFilterSet)
        panels_register()  # the campaigns that touched an account or a contact, on their pages
        grants()
