"""User Portal URLs (SPEC 4), under /portal/."""

from django.urls import path

from lockstep.portal.views import home, links

app_name = "portal"
urlpatterns = [
    path("", home.home, name="home"),
    path("activate/<str:token>/", links.activate, name="activate"),
    path("forgot/", links.forgot, name="forgot"),
    path("reset/<str:token>/", links.reset, name="reset"),
]
