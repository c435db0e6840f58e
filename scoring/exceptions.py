"""Errors of the ruleset workflow and the lifecycle decisions, with messages meant for users.

Field-level problems are ``django.core.exceptions.ValidationError`` (a dict of field → messages) and
missing rights are ``django.core.exceptions.PermissionDenied``; these are the state problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Ruleset


class WorkflowError(Exception):
    """The action is not possible in the object's current state; ``str(exc)`` says why and what is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RulesetNotEditable(WorkflowError):
    """Only drafts change: proposed, approved, scheduled, published and superseded versions do not."""


class StaleRevision(WorkflowError):
    """A versioned document was edited since the editor read it (stale revision); nothing was changed.
    ``current`` is the document as it is now."""

    def __init__(self, message: str, *, current):
        super().__init__(message)
        self.current = current


class RulesetConflict(StaleRevision):
    """The draft was edited since the editor read it (stale revision); nothing was changed."""

    current: Ruleset


class PolicyConflict(StaleRevision):
    """The policy draft was edited since the editor read it; nothing was changed."""


class PreconditionRequired(WorkflowError):
    """An edit came without the revision it was based on, so a lost update could not be ruled out."""
