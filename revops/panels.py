"""Detail pages that apps above a model add to.

The accounts app shows a contact; the scoring app, a layer above it, knows the contact's score and
lifecycle. Rather than the contact page importing scoring, scoring registers a builder for the model
when it is ready, and ``ObjectDetailView`` adds what every registered builder returns to the page's
context. The page's template includes the panels' templates by name.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import models

PanelBuilder = Callable[[models.Model, Any], dict[str, Any]]

_builders: dict[str, list[PanelBuilder]] = defaultdict(list)


def panel_register(model_label: str, build: PanelBuilder) -> None:
    """Add ``build(instance, user) → context`` to the detail pages of ``model_label`` ("accounts.contact")."""
    if build not in _builders[model_label]:
        _builders[model_label].append(build)


def panels_context(*, instance: models.Model, user) -> dict[str, Any]:
    """What the registered builders add to the detail page of ``instance`` for ``user``."""
    context: dict[str, Any] = {}
    for build in _builders.get(instance._meta.label_lower, []):
        context.update(build(instance, user))
    return context
