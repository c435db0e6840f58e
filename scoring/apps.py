from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the rescoring triggers)
        from .panels import panels_register

        panels_register()  # the score and lifecycle on the accounts app's detail pages
