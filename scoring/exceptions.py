"""Errors of the ruleset and policy workflows and the lifecycle decisions, with messages meant for users.

Field-level problems are ``django.core.exceptions.ValidationError`` (a dict of field → messages) and
missing rights are ``django.core.exceptions.PermissionDenied``. The state problems are the core's
(``revops.exceptions``: every versioned document raises them), named here too for scoring's callers,
and the kinds below that say which document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revops.exceptions import PreconditionRequired, StaleRevision, WorkflowError

if TYPE_CHECKING:
    from scoring.models import QualificationPolicy, Ruleset

__all__ = [
    "PolicyConflict",
    "PolicyNotEditable",
    "PreconditionRequired",
    "RulesetConflict",
    "RulesetNotEditable",
    "StaleRevision",
    "WorkflowError",
]


class RulesetNotEditable(WorkflowError):
    """Only drafts change: proposed, approved, scheduled, published and superseded versions do not."""


class PolicyNotEditable(WorkflowError):
    """Only drafts change or are deleted: the other versions of a policy are history."""


class RulesetConflict(StaleRevision):
    """The draft was edited since the editor read it (stale revision); nothing was changed."""

    current: Ruleset


class PolicyConflict(StaleRevision):
    """The policy draft was edited since the editor read it; nothing was changed."""

    current: QualificationPolicy
