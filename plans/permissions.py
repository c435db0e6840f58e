"""What each role may do with revenue plans (registered by ``PlansConfig.ready``).

Viewers read plans and their quotas; members draft, edit, propose and comment; leads also approve (for
their team, when it signs: marketing and sales), publish and delete drafts. Who *may publish* is narrowed
further by ``plans.services.PLANS`` (leads of marketing or sales, revenue operations)."""

from revops.permissions import grants_register, model_perms

MODELS = ["revenueplan", "planallocation", "planapproval", "plancomment", "planhistory"]


def grants() -> None:
    grants_register(
        viewer=model_perms("plans", MODELS, ["view"]),
        member=model_perms("plans", ["revenueplan"], ["add", "change"]) | {"plans.add_plancomment"},
        lead=model_perms("plans", ["revenueplan"], ["delete"])
        | {"plans.approve_revenueplan", "plans.publish_revenueplan"},
        revops_admin=model_perms("plans", MODELS, ["add", "change", "delete"])
        | {"plans.publish_revenueplan"},
    )
