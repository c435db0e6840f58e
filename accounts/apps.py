from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from .permissions import grants

        grants()  # what each role may do with accounts, contacts, … (revops.permissions)
