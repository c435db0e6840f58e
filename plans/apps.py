from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Revenue plans"

    def ready(self) -> None:
        from plans.permissions import grants

        grants()
