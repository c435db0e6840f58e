"""What each role may do with the accounts app's models (registered by ``AccountsConfig.ready``)."""

from revops.choices import TokenScope
from revops.permissions import grants_register, model_perms, token_scope_needs_register

MODELS = [
    "account", "contact", "persona", "technology", "product", "salesagent", "opportunity", "engagementevent",
    "accountactivitydaily", "contactactivitydaily", "channel", "campaign", "campaigncost", "campaignkey",
    "territory",
]  # fmt: skip
# Rollups are derived data: nobody but revenue operations edits them by hand. Channels are a short list
# everyone reports by: leads add and rename them (below), revenue operations deletes them.
# Territories decide who owns what: everyone reads them, revenue operations edits them.
EDITABLE = [
    m for m in MODELS if m not in {"accountactivitydaily", "contactactivitydaily", "channel", "territory"}
]


def grants() -> None:
    grants_register(
        viewer=model_perms("accounts", MODELS, ["view"]),
        member=model_perms("accounts", EDITABLE, ["add", "change"]),
        lead=model_perms("accounts", EDITABLE, ["delete"])
        | model_perms("accounts", ["channel"], ["add", "change"]),
        revops_admin=model_perms("accounts", MODELS, ["add", "change", "delete"]),
    )
    # The events endpoint (accounts.api.events) is the ingest scope's: it adds events.
    token_scope_needs_register(scope=TokenScope.INGEST, perms={"accounts.add_engagementevent"})
