from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The sales desk: my accounts and my queue, read from owners, routing and stored scores."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "desk"
    verbose_name = "Sales desk"
