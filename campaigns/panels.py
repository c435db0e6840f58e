"""What the campaigns app adds to the account and contact pages (``revops.panels``): the campaigns
that touched them, with engagement before and during each. Registered by ``CampaignsConfig.ready``."""

from __future__ import annotations

from typing import Any

from accounts.models import Account, Contact
from revops.panels import panel_register

from .selectors import account_campaign_history, contact_campaign_history


def account_panel(account: Account, user) -> dict[str, Any]:
    if not user.has_perm("accounts.view_campaign"):
        return {}
    return {"campaign_history": account_campaign_history(account=account)}


def contact_panel(contact: Contact, user) -> dict[str, Any]:
    if not user.has_perm("accounts.view_campaign"):
        return {}
    return {"campaign_history": contact_campaign_history(contact=contact)}


def panels_register() -> None:
    panel_register("accounts.account", account_panel)
    panel_register("accounts.contact", contact_panel)
