"""The scoring app's Django admin, one module per part: rules and lifecycle (``scoring.admin.rules``),
learned models, policies and scores (``scoring.learned.admin``), notifications and webhooks
(``scoring.delivery.admin``); the bases they share are the core's (``revops.admin``: service saves,
read-only data, versioned documents). Django's autodiscovery imports this package, which registers them
all."""

from scoring.admin import rules  # noqa: F401  (each module registers its admins)
from scoring.delivery import admin as delivery_admin  # noqa: F401
from scoring.learned import admin as learned_admin  # noqa: F401
