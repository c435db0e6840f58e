from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"

    def ready(self) -> None:
        from revops.filtersets import filterset_widen
        from scoring import signals  # noqa: F401  (connects the rescoring triggers)
        from scoring.filtersets import AccountScoreFilterSet
        from scoring.panels import panels_register
        from scoring.permissions import grants

        panels_register()  # the score and lifecycle on the accounts app's detail pages
        filterset_widen("accounts.account", AccountScoreFilterSet)  # accounts by stage, band, grade
        grants()  # what each role may do with rules, scores, models, … (revops.permissions)
