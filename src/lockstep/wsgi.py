"""WSGI entry point for `lockstep run` and production servers."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lockstep.settings")
application = get_wsgi_application()
