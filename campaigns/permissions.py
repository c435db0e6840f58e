"""What each role may do with segments and campaign measurement (registered by ``CampaignsConfig.ready``).

Members build segments and launch campaigns (drawing the holdout); memberships, audiences and
measurements are written by the services only, so people read them; leads delete segments.
"""

from revops.permissions import grants_register, model_perms

MODELS = [
    "segment", "segmentmembership", "campaigntarget", "campaignaudience", "campaignmeasurement",
    "campaigngroundtruth",
]  # fmt: skip
EDITABLE = ["segment", "campaigntarget"]


def grants() -> None:
    grants_register(
        viewer=model_perms("campaigns", MODELS, ["view"]),
        member=model_perms("campaigns", EDITABLE, ["add", "change"]) | {"campaigns.refresh_segment"},
        lead=model_perms("campaigns", EDITABLE, ["delete"]),
        revops_admin=model_perms("campaigns", MODELS, ["add", "change", "delete"]),
    )
