from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """CSV imports: a cross-app job of the project shell that writes accounts, contacts, opportunities,
    events, products and sales agents (it stands above every domain app)."""

    name = "imports"
    verbose_name = "CSV import"
