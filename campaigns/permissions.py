"""What each role may do with campaigns and channels (registered by ``CampaignsConfig.ready``)."""

from revops.permissions import grants_register, model_perms


def grants() -> None:
    grants_register(
        viewer=model_perms("campaigns", ["channel", "campaign"], ["view"]),
        member=model_perms("campaigns", ["campaign"], ["add", "change"]),
        # Channels are a short list everyone reports by: leads add and rename them, revops deletes.
        lead=model_perms("campaigns", ["campaign"], ["delete"])
        | model_perms("campaigns", ["channel"], ["add", "change"]),
        revops_admin=model_perms("campaigns", ["channel", "campaign"], ["add", "change", "delete"]),
    )
