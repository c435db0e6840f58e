"""What playbooks add to the account page (``revops.panels``): the next best action and the plays that ran.
Registered by ``PlaybooksConfig.ready``."""

from __future__ import annotations

from typing import Any

from accounts.models import Account
from revops.panels import panel_register

from .selectors import account_runs, next_best_actions


def account_panel(account: Account, user) -> dict[str, Any]:
    if not user.has_perm("playbooks.view_playrun"):
        return {}
    return {
        "next_best_action": next_best_actions([account.pk]).get(account.pk),
        "play_runs": account_runs(account_id=account.pk),
    }


def panels_register() -> None:
    panel_register("accounts.account", account_panel)
