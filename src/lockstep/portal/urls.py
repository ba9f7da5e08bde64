"""User Portal URLs (SPEC 4), under /portal/."""

from django.urls import path

from lockstep.portal.views import auth, home, links, mfa, password, profile

app_name = "portal"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("login/mfa/", auth.mfa_view, name="mfa"),
    path("logout/", auth.logout_view, name="logout"),
    path("profile/", profile.profile, name="profile"),
    path("password/", password.change_password, name="password"),
    path("mfa/", mfa.mfa_setup, name="mfa_setup"),
    path("mfa/recovery-codes/", mfa.recovery_codes, name="recovery_codes"),
    path("activate/<str:token>/", links.activate, name="activate"),
    path("forgot/", links.forgot, name="forgot"),
    path("reset/<str:token>/", links.reset, name="reset"),
]
