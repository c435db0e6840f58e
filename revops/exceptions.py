"""State errors of the services, with messages meant for users (the API answers 409, 412 and 428).

Field-level problems are ``django.core.exceptions.ValidationError`` (a dict of field → messages) and
missing rights are ``django.core.exceptions.PermissionDenied``; these are the state problems.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class WorkflowError(Exception):
    """The action is not possible in the object's current state; ``str(exc)`` says why and what is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StaleRevision(WorkflowError):
    """A versioned document was edited since the editor read it (stale revision); nothing was changed.
    ``current`` is the document as it is now."""

    def __init__(self, message: str, *, current):
        super().__init__(message)
        self.current = current


class PreconditionRequired(WorkflowError):
    """An edit came without the revision it was based on, so a lost update could not be ruled out."""


def error_text(exc: Exception) -> str:
    """One line for a service's refusal, for a page's message: validation errors as ``field: message``."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc) or "You may not do this."
