"""The scoring app's Django admin, one module per part: rules and lifecycle (``rules``), learned models,
policies and scores (``learned``), notifications and webhooks (``webhooks``); the bases they share are
the core's (``revops.admin``: service saves, read-only data, versioned documents). Django's autodiscovery
imports this package, which registers them all."""

from . import learned, rules, webhooks  # noqa: F401  (each registers its admins)
