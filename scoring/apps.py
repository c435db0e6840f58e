from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"

    def ready(self) -> None:
        from scoring import signals  # noqa: F401  (connects the rescoring triggers)
        from scoring.panels import panels_register
        from scoring.permissions import grants

        panels_register()  # the score and lifecycle on the accounts app's detail pages
        grants()  # what each role may do with rules, scores, models, … (revops.permissions)
