from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from .permissions import grants

        grants()  # what each role may do with campaigns and channels (revops.permissions)
