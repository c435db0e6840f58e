from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo world (``seed_demo``) and demo logins (``demo_users``): a cross-app job of the project
    shell that writes accounts, scoring and campaign data through their bulk paths."""

    name = "demo"
    verbose_name = "Demo world"
