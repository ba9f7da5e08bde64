"""Top-level URL map: Admin Portal, User Portal, REST API and operations endpoints."""

from django.urls import include, path

from lockstep.api.main import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("lockstep.ops.urls")),
    path("directories/", include("lockstep.console.directories.urls")),
    path("portal/", include("lockstep.portal.urls")),
    path("saml/", include("lockstep.saml.urls")),
    path("", include("lockstep.console.urls")),
]
