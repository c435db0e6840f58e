"""WSGI entry point (gunicorn config.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018  (imports the URLconf and its views now, not in the first request)
# What start-up loaded (modules, models, URL patterns, …) lives as long as the process: frozen, the
# collector's full passes, one every few dozen large requests, no longer walk its ~200,000 objects.
gc.collect()
gc.freeze()
