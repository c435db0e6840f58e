"""WSGI entry point (gunicorn revops.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
application = get_wsgi_application()
