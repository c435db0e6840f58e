from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"

    def ready(self) -> None:
        from playbooks import signals  # noqa: F401  (plays start after each rescore)
        from playbooks.panels import panels_register
        from playbooks.permissions import grants

        panels_register()  # the next best action and the plays on an account's page
        grants()
