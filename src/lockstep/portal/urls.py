"""User Portal URLs (SPEC 4), under /portal/."""

from django.urls import path

from lockstep.portal.views import home

app_name = "portal"
urlpatterns = [
    path("", home.home, name="home"),
]
